"""Legal clocks of an incident: the versioned clocks file (validated), and each clock's due
time, time left, warning and whether the notice that stops it was sent."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, Field

from dealvault.errors import Invalid
from dealvault.files import read_text_file

REGIMES: Final = ("pipl", "gdpr")
NOTICE_KINDS: Final = ("pipl-authority", "pipl-customers", "gdpr-authority", "gdpr-subjects")
_CLOCK_KEYS: Final = {"id", "regime", "notice", "source", "says", "hours", "statutory"}
_VERSION: Final = re.compile(r"[A-Za-z0-9._-]{1,40}")
_HEAD_KEYS: Final = {"format", "version", "description", "warning_fraction"}


@dataclass(frozen=True)
class Clock:
    id: str
    regime: str
    notice: str
    source: str
    says: str
    hours: float
    statutory: bool


@dataclass(frozen=True)
class ClockFile:
    version: str
    warning_fraction: float
    clocks: tuple[Clock, ...]


class ClockOut(BaseModel):
    """One clock of an incident as shown."""

    id: str
    regime: str
    notice: str
    source: str
    says: str
    statutory: bool = Field(description="False: the law gives no hours; a working target.")
    hours: float
    aware_at: datetime
    due_at: datetime
    warn_at: datetime
    state: str = Field(description="running, warning, overdue, met or met_late.")
    seconds_left: int = Field(description="Until due (negative: overdue); at sending if met.")
    sent_at: datetime | None = None
    notice_id: int | None = None


def parse_clocks(text: str, *, where: str) -> ClockFile:
    """The clocks file, validated: unknown keys, regimes and notices refused by name."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"{where}: not valid TOML ({exc})") from None
    unknown = sorted(set(doc) - {"clocks", "clock"})
    if unknown:
        raise Invalid(f"{where}: unknown section {unknown[0]!r}")
    head: Mapping[str, Any] = doc.get("clocks", {})
    bad = sorted(set(head) - _HEAD_KEYS)
    if bad:
        raise Invalid(f"{where}: [clocks] has an unknown key {bad[0]!r}")
    if head.get("format") != 1:
        raise Invalid(f"{where}: [clocks] format must be 1")
    version = head.get("version", "unversioned")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise Invalid(f"{where}: [clocks] version must be letters, digits, '.', '-' or '_'")
    fraction = head.get("warning_fraction", 0.75)
    if not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise Invalid(f"{where}: [clocks] warning_fraction must be a number between 0 and 1")
    clocks: list[Clock] = []
    for i, c in enumerate(doc.get("clock", []), start=1):
        name = f"{where}: clock {i}"
        if not isinstance(c, dict):
            raise Invalid(f"{name}: not a table")
        if set(c) != _CLOCK_KEYS:
            odd = sorted(set(c) ^ _CLOCK_KEYS)
            raise Invalid(f"{name}: missing or unknown key {odd[0]!r}")
        if c["regime"] not in REGIMES:
            raise Invalid(f"{name}: unknown regime (one of {', '.join(REGIMES)})")
        if c["notice"] not in NOTICE_KINDS:
            raise Invalid(f"{name}: unknown notice (one of {', '.join(NOTICE_KINDS)})")
        hours = c["hours"]
        if not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 < hours <= 8760:
            raise Invalid(f"{name}: hours must be a number above 0 and at most 8760")
        if not isinstance(c["statutory"], bool):
            raise Invalid(f"{name}: statutory must be true or false")
        clocks.append(
            Clock(
                id=str(c["id"]),
                regime=str(c["regime"]),
                notice=str(c["notice"]),
                source=str(c["source"]),
                says=str(c["says"]),
                hours=float(hours),
                statutory=bool(c["statutory"]),
            )
        )
    if len({c.id for c in clocks}) != len(clocks):
        raise Invalid(f"{where}: a clock id is used twice")
    return ClockFile(version, float(fraction), tuple(clocks))


def shipped_clocks() -> ClockFile:
    text = resources.files("dealvault.incidents").joinpath("legal_clocks.toml").read_text("utf-8")
    return parse_clocks(text, where="legal_clocks.toml")


def load_clocks(path: Path | None) -> ClockFile:
    """The clocks of ``path``, or the shipped file."""
    if path is None:
        return shipped_clocks()
    return parse_clocks(read_text_file(path), where=path.name)


def evaluate(
    clocks: ClockFile,
    *,
    regimes: Sequence[str],
    aware_at: datetime,
    sent: Mapping[str, tuple[int, datetime]],
    now: datetime,
) -> list[ClockOut]:
    """Each clock of ``regimes``: due ``hours`` after awareness; overdue strictly after its
    due time; warning from ``warning_fraction`` of its duration on; met when the notice of its
    kind was sent (``sent``: notice kind -> (notice id, sent at))."""
    out: list[ClockOut] = []
    for c in clocks.clocks:
        if c.regime not in regimes:
            continue
        span = timedelta(hours=c.hours)
        due = aware_at + span
        warn = aware_at + span * clocks.warning_fraction
        done = sent.get(c.notice)
        if done is not None:
            state = "met" if done[1] <= due else "met_late"
            left = due - done[1]
        else:
            state = "overdue" if now > due else "warning" if now >= warn else "running"
            left = due - now
        out.append(
            ClockOut(
                id=c.id,
                regime=c.regime,
                notice=c.notice,
                source=c.source,
                says=c.says,
                statutory=c.statutory,
                hours=c.hours,
                aware_at=aware_at,
                due_at=due,
                warn_at=warn,
                state=state,
                seconds_left=int(left.total_seconds()),
                sent_at=done[1] if done else None,
                notice_id=done[0] if done else None,
            )
        )
    return out
