"""An incident's timeline: its alerts, notes, tasks and the audit events of the deal and the
people involved in its window, in time order (audit events as action, decision, objects and
counts: never a personal value)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dealvault.audit.models import AuditEvent
from dealvault.incidents.models import IncidentAlert, IncidentNote, IncidentTask
from dealvault.incidents.schemas import TimelineEntry
from dealvault.monitor.models import Alert


def timeline(
    session: Session,
    *,
    incident_id: int,
    deal: str,
    people: Sequence[str],
    start: datetime,
    end: datetime,
    limit: int,
) -> list[TimelineEntry]:
    """Alerts (at their window's start), notes, tasks (added, done) and up to ``limit`` audit
    events (the newest ones when there are more), merged in time order; ties keep alerts,
    then events, then notes, then tasks."""
    entries: list[tuple[datetime, int, int, TimelineEntry]] = []
    alerts = session.scalars(
        select(Alert)
        .join(IncidentAlert, IncidentAlert.alert_id == Alert.id)
        .where(IncidentAlert.incident_id == incident_id)
    )
    for a in alerts:
        entries.append(
            (
                a.window_start,
                0,
                a.id,
                TimelineEntry(
                    at=a.window_start,
                    kind="alert",
                    ref=a.id,
                    actor=a.subject if "@" in a.subject else None,
                    summary=f"alert #{a.id} {a.rule} ({a.severity}): {a.title}",
                ),
            )
        )
    who = [AuditEvent.deal == deal]
    if people:
        who.append(AuditEvent.actor.in_(list(people)))
    stmt = (
        select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.body)
        .where(AuditEvent.at >= start, AuditEvent.at <= end, or_(*who))
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    )
    for seq, at, actor, body in session.execute(stmt):
        entries.append(
            (
                at,
                1,
                seq,
                TimelineEntry(
                    at=at,
                    kind="event",
                    ref=seq,
                    actor=actor,
                    summary=_summary(body),
                ),
            )
        )
    notes = session.scalars(select(IncidentNote).where(IncidentNote.incident_id == incident_id))
    for n in notes:
        entries.append(
            (
                n.at,
                2,
                n.id,
                TimelineEntry(
                    at=n.at,
                    kind="note",
                    ref=n.id,
                    actor=n.author,
                    summary=n.text,
                ),
            )
        )
    tasks = session.scalars(select(IncidentTask).where(IncidentTask.incident_id == incident_id))
    for t in tasks:
        added = f"task #{t.id} for {t.owner}, due {t.due:%Y-%m-%d %H:%M} UTC: {t.title}"
        entries.append(
            (t.created_at, 3, t.id, TimelineEntry(at=t.created_at, kind="task", ref=t.id,
                                                  actor=t.created_by, summary=added))
        )  # fmt: skip
        if t.done_at is not None:
            done = f"task #{t.id} done" + (f": {t.note}" if t.note else "")
            entries.append(
                (t.done_at, 3, t.id, TimelineEntry(at=t.done_at, kind="task", ref=t.id,
                                                   actor=t.done_by, summary=done))
            )  # fmt: skip
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    return [e[3] for e in entries]


def _summary(body: bytes) -> str:
    """What the event says: action, decision, objects and counts (the signed body holds no
    personal value; purpose and reasons are left out, as free text)."""
    doc = json.loads(body)
    parts = [str(doc.get("action")), f"({doc.get('decision') or '-'})"]
    objects = doc.get("objects") or {}
    parts += [f"{k}={v}" for k, v in objects.items() if v is not None]
    counts = doc.get("counts") or {}
    parts += [f"{k}={v}" for k, v in counts.items()]
    subjects = doc.get("subjects")
    if subjects:
        parts.append(f"subjects={subjects.get('count')}")
    return " ".join(parts)
