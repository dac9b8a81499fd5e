"""Incidents of a deal: opened by hand or from alerts, a team in roles, notes and tasks
(incidents/tasks.py), closed with a resolution. Service functions; the flows decide, record
and commit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Membership, Person
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.incidents.models import Incident, IncidentAlert, IncidentMember, IncidentNote
from dealvault.incidents.schemas import (
    SEVERITIES,
    STATUSES,
    TEAM_ROLES,
    IncidentOut,
    MemberOut,
    NoteOut,
)
from dealvault.incidents.tasks import task_view, tasks_of
from dealvault.monitor.models import Alert

_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def get_incident(session: Session, *, incident_id: int) -> Incident:
    row = session.get(Incident, incident_id)
    if row is None:
        raise NotFound(f"incident {incident_id} not found")
    return row


def load_alerts(session: Session, *, alert_ids: Sequence[int]) -> list[Alert]:
    """The alerts named (NotFound for one that does not exist), in the order given."""
    rows = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(alert_ids)))}
    missing = [i for i in alert_ids if i not in rows]
    if missing:
        raise NotFound(f"alert {missing[0]} not found")
    return [rows[i] for i in dict.fromkeys(alert_ids)]


def deal_of_alerts(alerts: Sequence[Alert], *, deal: str | None) -> str:
    """The one deal the alerts (and ``deal``, when given) are about."""
    deals = {a.deal for a in alerts} | ({deal} if deal is not None else set())
    if None in deals:
        raise Invalid("a store alert (no deal) cannot open a deal's incident")
    if len(deals) != 1:
        raise Invalid(f"the alerts and deal name more than one deal: {sorted(map(str, deals))}")
    return str(next(iter(deals)))


def open_incident(
    session: Session,
    *,
    deal: str,
    title: str,
    severity: str | None,
    alerts: Sequence[Alert],
    people: Sequence[str],
    datasets: Sequence[str],
    since: datetime | None,
    by: str,
    now: datetime,
) -> Incident:
    """A new open incident. Its severity is the highest of its alerts' unless given; its
    window starts at ``since``, else its earliest alert's window, else now."""
    if not title.strip():
        raise Invalid("an incident needs a title")
    if severity is None:
        severity = max((a.severity for a in alerts), key=_RANK.__getitem__, default="warning")
    if severity not in _RANK:
        raise Invalid(f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
    starts = [a.window_start for a in alerts] + ([since] if since is not None else [])
    row = Incident(
        deal=deal,
        title=title.strip()[:300],
        severity=severity,
        status="open",
        people=json.dumps(sorted({p.strip().lower() for p in people if p.strip()})),
        datasets=json.dumps(sorted({d.strip() for d in datasets if d.strip()})),
        window_start=min(starts) if starts else now,
        opened_by=by,
        opened_at=now,
    )
    session.add(row)
    session.flush()
    session.add_all(IncidentAlert(incident_id=row.id, alert_id=a.id) for a in alerts)
    session.flush()
    return row


def list_incidents(
    session: Session, *, deals: Sequence[str], status: str | None, limit: int
) -> list[Incident]:
    """The incidents of ``deals``, newest first."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    q = select(Incident).where(Incident.deal.in_(deals))
    if status is not None:
        q = q.where(Incident.status == status)
    return list(session.scalars(q.order_by(Incident.id.desc()).limit(limit)))


def assign(
    session: Session, row: Incident, *, deal: Deal, email: str, role: str, by: str, now: datetime
) -> IncidentMember:
    """Put ``email``, a member of the deal, on the team in ``role`` (once per role)."""
    if role not in TEAM_ROLES:
        raise Invalid(f"unknown team role {role!r} (one of {', '.join(TEAM_ROLES)})")
    _open(row)
    email = email.strip().lower()
    member = session.scalar(
        select(Membership.id)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.deal_id == deal.id, Person.email == email)
        .limit(1)
    )
    if member is None:
        raise NotFound(f"{email} is no member of deal {deal.code!r}")
    if session.get(IncidentMember, (row.id, role, email)) is not None:
        raise Conflict(f"{email} is already {role} of incident {row.id}")
    m = IncidentMember(incident_id=row.id, role=role, email=email, assigned_by=by, assigned_at=now)
    session.add(m)
    session.flush()
    return m


#: kinds of note: what was found or done, and the lessons learnt (the report's own section)
NOTE_KINDS = ("note", "lesson")


def add_note(
    session: Session, row: Incident, *, author: str, text: str, now: datetime, kind: str = "note"
) -> IncidentNote:
    if not text.strip():
        raise Invalid("a note needs some text")
    if kind not in NOTE_KINDS:
        raise Invalid(f"a note is one of: {', '.join(NOTE_KINDS)}")
    note = IncidentNote(incident_id=row.id, author=author, at=now, text=text.strip(), kind=kind)
    session.add(note)
    session.flush()
    return note


def close(session: Session, row: Incident, *, by: str, resolution: str, now: datetime) -> None:
    if not resolution.strip():
        raise Invalid("closing an incident needs a resolution")
    _open(row)
    row.status = "closed"
    row.closed_by = by
    row.closed_at = now
    row.window_end = now
    row.resolution = resolution.strip()
    session.flush()


def _open(row: Incident) -> None:
    if row.status != "open":
        raise Conflict(f"incident {row.id} is closed")


def alert_ids(session: Session, row: Incident) -> list[int]:
    return list(
        session.scalars(
            select(IncidentAlert.alert_id)
            .where(IncidentAlert.incident_id == row.id)
            .order_by(IncidentAlert.alert_id)
        )
    )


def people_involved(session: Session, row: Incident) -> list[str]:
    """The people named at opening and the people its alerts are about."""
    named: set[str] = set(json.loads(row.people))
    subjects = session.scalars(
        select(Alert.subject)
        .join(IncidentAlert, IncidentAlert.alert_id == Alert.id)
        .where(IncidentAlert.incident_id == row.id)
    )
    named |= {s.lower() for s in subjects if "@" in s}
    return sorted(named)


def incident_view(session: Session, row: Incident, *, now: datetime | None = None) -> IncidentOut:
    """The incident as shown: its alerts, people, team, notes and tasks (overdue flagged as of
    ``now``)."""
    now = now or utcnow()
    tasks = [task_view(t, now=now) for t in tasks_of(session, incident_ids=[row.id])]
    team = session.scalars(
        select(IncidentMember)
        .where(IncidentMember.incident_id == row.id)
        .order_by(IncidentMember.assigned_at, IncidentMember.role)
    )
    notes = session.scalars(
        select(IncidentNote).where(IncidentNote.incident_id == row.id).order_by(IncidentNote.id)
    )
    return IncidentOut(
        id=row.id,
        deal=row.deal,
        title=row.title,
        severity=row.severity,
        status=row.status,
        alerts=alert_ids(session, row),
        people=people_involved(session, row),
        datasets=json.loads(row.datasets),
        window_start=row.window_start,
        window_end=row.window_end,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        resolution=row.resolution,
        team=[
            MemberOut(
                role=m.role, email=m.email, assigned_by=m.assigned_by, assigned_at=m.assigned_at
            )
            for m in team
        ],
        notes=[
            NoteOut(id=n.id, author=n.author, at=n.at, text=n.text, kind=n.kind or "note")
            for n in notes
        ],
        tasks=tasks,
        overdue=sum(t.overdue for t in tasks),
    )
