"""The outside auditor's report: access figures, the verification verdict, HTML and PDF."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2

from dealvault.access.stages import Stage
from dealvault.documents import pdf_from_html
from dealvault.errors import Invalid
from dealvault.ingest.fields import Category

ACCESS_ACTIONS = frozenset({"disclose", "rejects.read", "import", "shred"})
"""Actions that touch customer data; each one, allowed or denied, is an access."""
ALL_CATEGORIES = "all"
UNKNOWN = "unknown"
NO_ORGANISATION = "(no organisation on record)"
SYSTEM_ACTOR = "(system)"
APPENDIX_EVENTS = 200
ROOT_CHARS = 16

_TEMPLATE = "report.html.j2"
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("dealvault.audit", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ReportInput:
    """Everything the report shows; events are audit event documents in ``seq`` order."""

    title: str
    generated_at: datetime
    origin: str
    events: Sequence[Mapping[str, Any]]
    people: Mapping[str, str]
    verification: Mapping[str, Any]
    checkpoints: Sequence[Mapping[str, Any]]
    #: the store is a single-machine trial: identities were asserted, not authenticated
    trial: bool = False


def _text(value: object, default: str = "") -> str:
    return default if value is None or value == "" else str(value)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _customers(event: Mapping[str, Any]) -> int | None:
    """Customers an event touched: ``counts.customers``, else the subject count, else None."""
    counts = event.get("counts")
    n = _int(counts.get("customers")) if isinstance(counts, Mapping) else None
    if n is None:
        subjects = event.get("subjects")
        n = _int(subjects.get("count")) if isinstance(subjects, Mapping) else None
    return n


def _objects(event: Mapping[str, Any]) -> Mapping[str, Any]:
    objects = event.get("objects")
    return objects if isinstance(objects, Mapping) else {}


def _category_names(event: Mapping[str, Any]) -> list[str]:
    raw = _text(_objects(event).get("categories"))
    return [c.strip() for c in raw.split(",") if c.strip()]


def _categories(event: Mapping[str, Any]) -> list[str]:
    """The categories an event names; ``all`` expands to every category, none gives unknown."""
    names = _category_names(event)
    if not names:
        return [UNKNOWN]
    out: list[str] = []
    for name in names:
        for one in [c.value for c in Category] if name == ALL_CATEGORIES else [name]:
            if one not in out:
                out.append(one)
    return out


def _authn(event: Mapping[str, Any]) -> str:
    """How the event's actor signed in (``password+totp``, ``token``, ``local``, …); events
    written before methods were recorded, and system events, say unknown."""
    return _text(event.get("authn"), UNKNOWN)


def _organisation(people: Mapping[str, str], actor: str | None) -> str:
    if actor is None:
        return SYSTEM_ACTOR
    return people.get(actor) or NO_ORGANISATION


def _ordered(
    table: dict[str, dict[str, Any]], order: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Rows in a fixed vocabulary order (others after, by name), or by accesses then name."""
    if order is None:
        keys = sorted(table, key=lambda k: (-int(table[k]["accesses"]), k))
    else:
        fixed = [k for k in order if k in table]
        keys = fixed + sorted(k for k in table if k not in fixed and k != UNKNOWN)
        if UNKNOWN in table and UNKNOWN not in fixed:
            keys.append(UNKNOWN)
    return {k: table[k] for k in keys}


def _row() -> dict[str, Any]:
    return {"accesses": 0, "allowed": 0, "denied": 0, "customers": 0}


def _count(row: dict[str, Any], *, denied: bool, customers: int) -> None:
    row["accesses"] += 1
    if denied:
        row["denied"] += 1
    else:
        row["allowed"] += 1
        row["customers"] += customers


def _iso_seconds(value: object) -> str:
    """A Unix time (cosignature timestamp) as ISO 8601 UTC; empty for none."""
    seconds = _int(value)
    if seconds is None:
        return _text(value)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _when(value: object) -> str:
    """An event's ``at`` (RFC 3339 UTC) in a compact readable form."""
    return _text(value).replace("T", " ")


def build_summary(*, data: ReportInput) -> dict[str, Any]:
    """Aggregate the events: totals, accesses by organisation, person, category and stage,
    and every denial (any action). Accesses count allowed and denied attempts alike;
    ``customers`` sums the customers touched by allowed accesses only."""
    by_org: dict[str, dict[str, Any]] = {}
    by_person: dict[str, dict[str, Any]] = {}
    by_category: dict[str, dict[str, Any]] = {}
    by_stage: dict[str, dict[str, Any]] = {}
    by_action: dict[str, dict[str, Any]] = {}
    by_authn: dict[str, dict[str, Any]] = {}
    denials: list[dict[str, Any]] = []
    actors: set[str] = set()
    accesses = allowed = denied_accesses = customers = all_category = 0

    for event in data.events:
        actor = event.get("actor")
        actor = actor if isinstance(actor, str) and actor else None
        org = _organisation(data.people, actor)
        action = _text(event.get("action"), UNKNOWN)
        denied = event.get("decision") == "deny"
        if actor is not None:
            actors.add(actor)
        if denied:
            reasons = event.get("reasons") or []
            denials.append(
                {
                    "seq": event.get("seq"),
                    "at": _text(event.get("at")),
                    "actor": actor or SYSTEM_ACTOR,
                    "organisation": org,
                    "authn": _authn(event),
                    "action": action,
                    "deal": _text(event.get("deal")),
                    "purpose": _text(event.get("purpose")),
                    "reasons": [str(r) for r in reasons]
                    if isinstance(reasons, list | tuple)
                    else [str(reasons)],
                }
            )
        if action not in ACCESS_ACTIONS:
            continue
        n = 0 if denied else _customers(event) or 0
        accesses += 1
        denied_accesses += denied
        allowed += not denied
        customers += n
        objects = _objects(event)
        if ALL_CATEGORIES in _category_names(event):
            all_category += 1
        person_key = actor or SYSTEM_ACTOR
        if person_key not in by_person:
            by_person[person_key] = {"organisation": org, **_row()}
        rows = [
            by_org.setdefault(org, _row()),
            by_person[person_key],
            by_stage.setdefault(_text(objects.get("stage"), UNKNOWN), _row()),
            by_action.setdefault(action, _row()),
            by_authn.setdefault(_authn(event), _row()),
        ]
        rows += [by_category.setdefault(c, _row()) for c in _categories(event)]
        for row in rows:
            _count(row, denied=denied, customers=n)

    ats = [_text(e.get("at")) for e in data.events if e.get("at")]
    return {
        "totals": {
            "events": len(data.events),
            "accesses": accesses,
            "allowed": allowed,
            "denied": denied_accesses,
            "denials": len(denials),
            "customers": customers,
            "all_category_accesses": all_category,
            "actors": len(actors),
            "organisations": len({data.people[a] for a in actors if data.people.get(a)}),
            "first_event_at": min(ats) if ats else None,
            "last_event_at": max(ats) if ats else None,
            "checkpoints": len(data.checkpoints),
        },
        "by_organisation": _ordered(by_org),
        "by_person": _ordered(by_person),
        "by_category": _ordered(by_category, [c.value for c in Category]),
        "by_stage": _ordered(by_stage, [s.value for s in Stage]),
        "by_action": _ordered(by_action, sorted(ACCESS_ACTIONS)),
        "by_authn": _ordered(by_authn),
        "denials": denials,
    }


def _verdict(data: ReportInput) -> dict[str, Any]:
    v = data.verification
    problems = [str(p) for p in v.get("problems") or []]
    ok = bool(v.get("ok")) and not problems
    first_bad = v.get("first_bad")
    bad_event = None
    if isinstance(first_bad, int):
        bad_event = next((e for e in data.events if e.get("seq") == first_bad), None)
    verified = v.get("events")
    return {
        "ok": ok,
        "events": verified,
        "root": _text(v.get("root")),
        "first_bad": first_bad,
        "first_bad_event": None if bad_event is None else _event_row(bad_event, data.people),
        "problems": problems,
        "count_mismatch": isinstance(verified, int) and verified != len(data.events),
        "trust_note": _text(v.get("trust_note")) if v.get("trust_note") else None,
    }


def _event_row(event: Mapping[str, Any], people: Mapping[str, str]) -> dict[str, Any]:
    actor = event.get("actor") if isinstance(event.get("actor"), str) else None
    return {
        "seq": event.get("seq"),
        "at": _when(event.get("at")),
        "actor": actor or SYSTEM_ACTOR,
        "organisation": _organisation(people, actor),
        "authn": _authn(event),
        "action": _text(event.get("action")),
        "deal": _text(event.get("deal")),
        "decision": _text(event.get("decision"), "—"),
        "customers": _customers(event),
    }


def _checkpoints(data: ReportInput) -> list[dict[str, Any]]:
    out = []
    for cp in data.checkpoints:
        root = _text(cp.get("root"))
        cosigners = cp.get("cosigners") or []
        out.append(
            {
                "id": cp.get("id"),
                "size": cp.get("size"),
                "root": root[:ROOT_CHARS] + ("…" if len(root) > ROOT_CHARS else ""),
                "reason": _text(cp.get("reason")),
                "at": _when(cp.get("at")),
                "cosigners": [str(c) for c in cosigners],
            }
        )
    return out


def _signature_checks(data: ReportInput) -> list[dict[str, Any]]:
    out = []
    for entry in data.verification.get("checkpoints") or []:
        sigs = entry.get("signatures")
        out.append(
            {
                "checkpoint": _text(entry.get("checkpoint")),
                "size": entry.get("size"),
                "root_matches": entry.get("root_matches"),
                "invalid": not isinstance(sigs, list),
                "signatures": [
                    {
                        "name": _text(s.get("name")),
                        "key_id": _text(s.get("key_id")),
                        "status": _text(s.get("status"), UNKNOWN),
                        "timestamp": _iso_seconds(s.get("timestamp")),
                    }
                    for s in (sigs if isinstance(sigs, list) else [])
                ],
            }
        )
    return out


def render_html(*, data: ReportInput) -> str:
    """The report as one self-contained HTML page (print CSS included)."""
    if data.generated_at.tzinfo is None:
        raise Invalid("generated_at must be timezone-aware")
    events = data.events[-APPENDIX_EVENTS:]
    return _ENV.get_template(_TEMPLATE).render(
        title=data.title,
        origin=data.origin,
        generated_at=data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        verdict=_verdict(data),
        summary=build_summary(data=data),
        checkpoints=_checkpoints(data),
        signature_checks=_signature_checks(data),
        appendix=[_event_row(e, data.people) for e in events],
        appendix_total=len(data.events),
        appendix_limit=APPENDIX_EVENTS,
        root_chars=ROOT_CHARS,
        trial=data.trial,
    )


def render_pdf(*, data: ReportInput) -> bytes:
    """The same HTML typeset by WeasyPrint (needs Pango and a CJK font; see
    docs/audit-report.md)."""
    return pdf_from_html(render_html(data=data))
