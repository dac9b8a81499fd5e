"""The monitoring rules: a versioned, validated TOML file (one entry per rule), like the policy."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.access.models import Person
from dealvault.access.policy_file import check_keys, choice, one_line
from dealvault.errors import Conflict, IntegrityError, Invalid
from dealvault.monitor.models import MonitorRuleVersion

FORMAT: Final = 1
SEVERITIES: Final = ("info", "warning", "critical")
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Event actions that change keys or restore the store: the key_window rule's default.
KEY_ACTIONS: Final = (
    "keys.rotate_master",
    "keys.rotate_data",
    "keys.audit_key_import",
    "backup.restore",
)
_ID: Final = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_OFFSET: Final = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_CLOCK: Final = re.compile(r"^(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Param:
    """One parameter of a kind: its type (int, float, str, list of str), default and range."""

    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""


@dataclass(frozen=True)
class Kind:
    """A detector: what it looks at, and the parameters a rule of it takes."""

    help: str
    params: Mapping[str, Param] = field(default_factory=dict)


def _p(t: type, default: Any, low: float | None, high: float | None, help: str) -> Param:
    return Param(type=t, default=default, low=low, high=high, help=help)


_BASELINE = _p(int, 30, 1, 366, "days of history a baseline looks back over")
_MIN_DAYS = _p(int, 5, 1, 366, "active days a baseline needs before it is used")
_COUNT = _p(int, 1, 1, 100_000, "events in the window that make one hit")
_MINUTES = _p(int, 60, 1, 24 * 60, "length of the sliding window, in minutes")

#: Every kind of detector (docs/monitoring.md explains each and its statistic).
KINDS: Final[Mapping[str, Kind]] = MappingProxyType(
    {
        "volume": Kind(
            "records a person viewed or exported in a deal in a local day, far above their own "
            "daily baseline and their role's (robust z-score on median and MAD)",
            {
                "baseline_days": _BASELINE,
                "min_days": _MIN_DAYS,
                "z": _p(float, 3.5, 0.5, 1000, "robust z-score at or above which a day is high"),
                "min_records": _p(int, 1000, 1, 10**9, "records in the day below which no alert"),
            },
        ),
        "unusual_hour": Kind(
            "a person acting at a local hour at which they never acted in their baseline",
            {
                "baseline_days": _BASELINE,
                "min_days": _MIN_DAYS,
                "min_events": _p(int, 30, 1, 10**7, "events the baseline needs"),
                "margin_hours": _p(int, 1, 0, 11, "hours either side that count as usual"),
            },
        ),
        "new_address": Kind(
            "a person acting from a client address they never used before",
            {"min_known": _p(int, 1, 1, 1000, "addresses the person must have used before")},
        ),
        "new_device": Kind(
            "a person acting from a device they never used before (a browser's device cookie, "
            "the remote CLI's device header, or the API token standing in for one)",
            {"min_known": _p(int, 1, 1, 1000, "devices the person must have used before")},
        ),
        "two_addresses": Kind(
            "the same person acting from two client addresses within a short time",
            {"minutes": _p(int, 10, 1, 24 * 60, "time between the two addresses, in minutes")},
        ),
        "denials": Kind(
            "repeated refusals of one person: count in a sliding window of minutes",
            {"count": _p(int, 5, 1, 100_000, "refusals in the window"), "minutes": _MINUTES},
        ),
        "above_grant": Kind(
            "attempts above what the person is granted or their role's ceiling allows",
            {"count": _COUNT, "minutes": _MINUTES},
        ),
        "frozen_attempt": Kind("attempts on a frozen deal", {"count": _COUNT, "minutes": _MINUTES}),
        "agreement_lapsed": Kind(
            "attempts after the person's agreement or grant expired or was revoked",
            {"count": _COUNT, "minutes": _MINUTES},
        ),
        "downloads": Kind(
            "many disclosures taken out (files, look-ups, packages) by one person quickly",
            {"count": _p(int, 10, 1, 100_000, "downloads in the window"), "minutes": _MINUTES},
        ),
        "row_cap": Kind(
            "a grant's row cap nearly used up soon after it was granted",
            {
                "share": _p(float, 0.9, 0.01, 1.0, "share of the cap used"),
                "hours": _p(int, 24, 1, 24 * 366, "within this many hours of the grant"),
            },
        ),
        "audit_integrity": Kind(
            "the audit log fails verification: an event differs from its leaf, a checkpoint's "
            "signature or root does not verify, or 'audit verify' failed"
        ),
        "checkpoint_chain": Kind(
            "a signed checkpoint that does not extend the previous one (smaller, or no "
            "consistency proof from it)"
        ),
        "key_window": Kind(
            "a key operation (rotation, key import, restore) outside the change window",
            {
                "actions": _p(list, list(KEY_ACTIONS), None, None, "the event actions watched"),
                "days": _p(list, ["sat", "sun"], None, None, "days of the change window"),
                "start": _p(str, "02:00", None, None, "the window opens (local HH:MM)"),
                "end": _p(str, "06:00", None, None, "the window closes (local HH:MM)"),
            },
        ),
        "canary_hit": Kind(
            "a canary customer's phone or e-mail was contacted outside: its recipient leaked"
        ),
    }
)


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    severity: str
    freeze: bool
    params: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class RuleSet:
    """One parsed rules file (version 0: the shipped default, not stored)."""

    version: int
    text: str = field(repr=False)
    sha256: str
    description: str
    utc_offset_minutes: int
    rules: tuple[Rule, ...]

    def of_kind(self, kind: str) -> list[Rule]:
        return [r for r in self.rules if r.kind == kind]

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def utc_offset(self) -> str:
        m = abs(self.utc_offset_minutes)
        return f"{'-' if self.utc_offset_minutes < 0 else '+'}{m // 60:02d}:{m % 60:02d}"


def _number(value: object, spec: Param, where: str) -> int | float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if spec.type is int and not (isinstance(value, int) and not isinstance(value, bool)):
        raise Invalid(f"{where}: must be a whole number")
    if not ok:
        raise Invalid(f"{where}: must be a number")
    assert isinstance(value, int | float)
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise Invalid(f"{where}: must be between {spec.low:g} and {spec.high:g}")
    return float(value) if spec.type is float else int(value)


def clock_minutes(value: str, where: str) -> int:
    """Minutes after midnight of a local ``HH:MM``; Invalid otherwise."""
    m = _CLOCK.match(value)
    if m is None or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise Invalid(f"{where}: must be a time HH:MM, e.g. 02:00")
    minutes = int(m.group(1)) * 60 + int(m.group(2))
    if minutes > 24 * 60:
        raise Invalid(f"{where}: must be a time HH:MM up to 24:00")
    return minutes


def _param(kind: str, name: str, value: object, spec: Param, where: str) -> Any:
    if spec.type in (int, float):
        return _number(value, spec, where)
    if spec.type is str:
        text = one_line(value, where)
        if kind == "key_window":
            clock_minutes(text, where)
        return text
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise Invalid(f"{where}: must be a non-empty list of names")
    if name == "days":
        return [choice(v, DAYS, "day", where) for v in value]
    return [one_line(v, where) for v in value]


def _rule(entry: object, n: int) -> Rule:
    where = f"rule #{n}"
    if not isinstance(entry, dict):
        raise Invalid(f"{where}: must be a table")
    check_keys(
        entry, f"[{where}]", required=("id", "kind", "severity", "freeze"), optional=("params",)
    )
    rid = entry["id"]
    if not isinstance(rid, str) or not _ID.match(rid):
        raise Invalid(f"{where}.id: lower-case letters, digits, '-' and '_', up to 40")
    where = f"rule {rid}"
    kind = choice(entry["kind"], tuple(KINDS), "kind", f"{where}.kind")
    severity = choice(entry["severity"], SEVERITIES, "severity", f"{where}.severity")
    if not isinstance(entry["freeze"], bool):
        raise Invalid(f"{where}.freeze: must be true or false")
    if entry["freeze"] and severity != "critical":
        raise Invalid(f"{where}.freeze: only a critical rule may freeze its deal")
    given = entry.get("params", {})
    if not isinstance(given, dict):
        raise Invalid(f"{where}.params: must be a table")
    specs = KINDS[kind].params
    check_keys(given, f"{where}.params", required=(), optional=tuple(specs), what="parameter")
    params = {
        name: _param(kind, name, given[name], spec, f"{where}.params.{name}")
        if name in given
        else spec.default
        for name, spec in specs.items()
    }
    return Rule(id=rid, kind=kind, severity=severity, freeze=entry["freeze"], params=params)


def _offset(value: object) -> int:
    m = _OFFSET.match(value) if isinstance(value, str) else None
    if m is None or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        raise Invalid("monitor.utc_offset: must be like +08:00 or -05:00")
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return -minutes if m.group(1) == "-" else minutes


@lru_cache(maxsize=16)
def _build(text: str, version: int) -> RuleSet:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"the rules file is not valid TOML: {exc}") from None
    check_keys(doc, "the rules file", required=("monitor", "rule"), what="section")
    meta = doc["monitor"]
    if not isinstance(meta, dict):
        raise Invalid("[monitor]: must be a table")
    check_keys(meta, "[monitor]", required=("format", "utc_offset"), optional=("description",))
    if type(meta["format"]) is not int or meta["format"] != FORMAT:
        raise Invalid(f"monitor.format: unsupported format {meta['format']!r}; expected {FORMAT}")
    entries = doc["rule"]
    if not isinstance(entries, list) or not entries:
        raise Invalid("[[rule]]: at least one rule is needed")
    rules = tuple(_rule(e, n) for n, e in enumerate(entries, start=1))
    ids = [r.id for r in rules]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise Invalid(f"rule {dup[0]}: the id is used twice")
    return RuleSet(
        version=version,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        description=one_line(meta.get("description", "monitoring rules"), "monitor.description"),
        utc_offset_minutes=_offset(meta["utc_offset"]),
        rules=rules,
    )


def parse_rules(text: str, *, version: int = 0) -> RuleSet:
    """Validate a rules file; Invalid names the rule and the key."""
    return _build(text, version)


@cache
def _default_text() -> str:
    return resources.files("dealvault.monitor").joinpath("default_rules.toml").read_text("utf-8")


def default_rules() -> RuleSet:
    """The rules shipped with dealvault, version 0."""
    return parse_rules(_default_text())


def active_rules(session: Session) -> RuleSet:
    """The newest stored version, else the shipped default."""
    row = session.scalar(
        select(MonitorRuleVersion).order_by(MonitorRuleVersion.version.desc()).limit(1)
    )
    if row is None:
        return default_rules()
    if hashlib.sha256(row.text.encode("utf-8")).hexdigest() != row.sha256:
        raise IntegrityError(f"rules version {row.version}: stored text does not match its sha256")
    return parse_rules(row.text, version=row.version)


def rule_versions(session: Session) -> Sequence[MonitorRuleVersion]:
    return session.scalars(select(MonitorRuleVersion).order_by(MonitorRuleVersion.version)).all()


def set_rules(
    session: Session, *, text: str, actor: Person, comment: str | None
) -> tuple[MonitorRuleVersion, RuleSet]:
    """Store ``text`` as the next version (it must validate; storing the rules in force again
    is a Conflict). Does not commit."""
    new = parse_rules(text)
    current = active_rules(session)
    if current.sha256 == new.sha256:
        raise Conflict(f"these rules are already in force (version {current.version})")
    latest = session.scalar(select(func.max(MonitorRuleVersion.version))) or 0
    row = MonitorRuleVersion(
        version=latest + 1, text=text, sha256=new.sha256, comment=comment, actor_id=actor.id
    )
    session.add(row)
    session.flush()
    return row, parse_rules(text, version=row.version)
