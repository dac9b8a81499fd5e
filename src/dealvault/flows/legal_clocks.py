"""Legal clocks of incidents: the awareness time and regimes set by the team (audited), each
clock's state, and the monitor's alerts when a clock passes its warning share or runs out
without its notice sent (raised once per incident and clock)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.principal import Principal
from dealvault.db.base import utcnow
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Invalid
from dealvault.files import read_text_file
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit
from dealvault.flows.incidents import _authorized
from dealvault.incidents import clocks as legal
from dealvault.incidents.models import Incident, IncidentLegal
from dealvault.incidents.notice_records import clocks_of
from dealvault.monitor.alerts import record_hits
from dealvault.monitor.hits import HITS
from dealvault.monitor.models import Alert
from dealvault.monitor.rules import RuleSet

#: the rules (alert names) of the clocks' alerts: their kind and severity
CLOCK_RULES = {"legal-clock-warning": "warning", "legal-clock-overdue": "critical"}
CLOCK_KIND = "legal_clock"


def _settings(s: Session, row: Incident, *, by: str) -> IncidentLegal:
    got = s.get(IncidentLegal, row.id)
    if got is None:
        got = IncidentLegal(incident_id=row.id, regimes='["pipl"]', updated_by=by)
        s.add(got)
    return got


def set_awareness(
    stores: AppStores, *, actor: Principal, incident_id: int, aware_at: datetime, reason: str
) -> list[legal.ClockOut]:
    """Set when the store became aware of the incident (the clocks run from it), with a
    reason (kept with the incident; the audit event records the time and the reason's
    length)."""
    if not reason.strip():
        raise Invalid("setting the awareness time needs a reason (--reason)")
    now = utcnow()
    if aware_at.tzinfo is None or aware_at > now:
        raise Invalid("the awareness time must be a time with its offset, not in the future")
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.clock",
            event_action="incident.aware",
        )
        got = _settings(s, row, by=actor.email)
        got.aware_at, got.aware_reason = aware_at, reason.strip()
        got.updated_by, got.updated_at = actor.email, now
        s.flush()
        objects = dict(event.objects) | {"aware_at": aware_at.isoformat()}
        audit(stores, uow, replace(event, objects=objects, counts={"chars": len(reason.strip())}))
        return clocks_of(s, row, now=now)


def set_regimes(
    stores: AppStores, *, actor: Principal, incident_id: int, regimes: Sequence[str]
) -> list[legal.ClockOut]:
    """Say which regimes' clocks run (PIPL, GDPR: e.g. foreign customers in the EU, which
    the impact analysis cannot tell without reading their data)."""
    chosen = sorted({r.strip().lower() for r in regimes if r.strip()})
    bad = [r for r in chosen if r not in legal.REGIMES]
    if bad or not chosen:
        raise Invalid(f"regimes: one or more of {', '.join(legal.REGIMES)}")
    now = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.clock",
            event_action="incident.regimes",
        )
        got = _settings(s, row, by=actor.email)
        got.regimes = json.dumps(chosen)
        got.updated_by, got.updated_at = actor.email, now
        s.flush()
        audit(
            stores, uow, replace(event, objects=dict(event.objects) | {"regimes": ",".join(chosen)})
        )
        return clocks_of(s, row, now=now)


def show_clocks(stores: AppStores, *, actor: Principal, incident_id: int) -> list[legal.ClockOut]:
    """The incident's clocks now: due time, time left or overdue, met (with the sending)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.read",
            event_action="incident.clocks",
        )
        out = clocks_of(s, row, now=utcnow())
        audit(stores, uow, replace(event, counts={"clocks": len(out)}))
        return out


def set_clocks(
    stores: AppStores, *, actor: Principal, incident_id: int, path: Path
) -> list[legal.ClockOut]:
    """Put a clocks file in force for the incident (the deal's working targets where the law
    gives no hours), validated first; the event records its version and SHA-256."""
    text = read_text_file(path)
    parsed = legal.parse_clocks(text, where=path.name)
    now = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.clock",
            event_action="incident.clocks_set",
        )
        got = _settings(s, row, by=actor.email)
        got.clocks = text
        got.updated_by, got.updated_at = actor.email, now
        s.flush()
        objects = dict(event.objects) | {
            "version": parsed.version,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        }
        audit(stores, uow, replace(event, objects=objects, counts={"clocks": len(parsed.clocks)}))
        return clocks_of(s, row, now=now)


def clock_alerts(uow: UnitOfWork, *, rules: RuleSet, now: datetime) -> list[Alert]:
    """The monitor's part: an alert for every clock of an open incident that passed its
    warning share (warning) or ran out (critical) without its notice sent; once per incident,
    clock and rule (an alert there is already is not raised or grown again). Returns the new
    alerts."""
    s = uow.records
    rows: list[dict[str, object]] = []
    for inc in s.scalars(select(Incident).where(Incident.status == "open")):
        for c in clocks_of(s, inc, now=now):
            if c.state not in ("warning", "overdue"):
                continue
            rule = "legal-clock-overdue" if c.state == "overdue" else "legal-clock-warning"
            subject = f"incident #{inc.id} {c.id}"
            when = c.due_at if c.state == "overdue" else c.warn_at
            hours = f"{c.hours:g} h" + ("" if c.statutory else " (working target)")
            what = "ran out" if c.state == "overdue" else "passed its warning share"
            rows.append(
                {
                    "rule": rule,
                    "seq": None,
                    "ts": when,
                    "deal": inc.deal,
                    "subject": subject,
                    "title": f"incident #{inc.id}: the {c.id} clock {what}",
                    "explanation": f"The {c.id} clock of incident #{inc.id} ({c.source}, {hours} "
                    f"from awareness) {what}: due {c.due_at:%Y-%m-%d %H:%M} UTC; the "
                    f"{c.notice} notice is not marked sent.",
                    "details": json.dumps(
                        {
                            "incident": inc.id,
                            "clock": c.id,
                            "state": c.state,
                            "due_at": c.due_at.isoformat(),
                        }
                    ),
                }
            )
    if not rows:
        return []
    subjects = [str(r["subject"]) for r in rows]
    found = s.execute(
        select(Alert.rule, Alert.subject).where(
            Alert.kind == CLOCK_KIND, Alert.subject.in_(subjects)
        )
    ).all()
    raised = {(str(r), str(sub)) for r, sub in found}
    fresh = [r for r in rows if (r["rule"], r["subject"]) not in raised]
    if not fresh:
        return []
    new, _ = record_hits(s, pl.DataFrame(fresh, schema=HITS), rules=rules, now=now)
    for a in new:
        a.kind = CLOCK_KIND
        a.severity = CLOCK_RULES.get(a.rule, "warning")
    s.flush()
    return new
