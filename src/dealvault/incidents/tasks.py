"""An incident's tasks: what must be done, by whom (a person of the deal: on the incident's
team, or one of its seller stewards or security officers) and by when; marked done with an
optional note; overdue while open past the due time. Service functions; the flows decide,
record and commit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Membership, Person
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.incidents.models import Incident, IncidentMember, IncidentTask
from dealvault.incidents.schemas import TaskOut

#: the deal roles who may own an incident's task without being on its team
OWNER_ROLES = ("seller_steward", "security_officer")
_SPAN = re.compile(r"^\+?(\d{1,4})\s*([hd])$")


def parse_due(text: str, *, now: datetime, tz: tzinfo = UTC) -> datetime:
    """A due time: ISO 8601 (without an offset: in ``tz``), or a span from now such as
    ``4h`` or ``2d``."""
    text = text.strip()
    span = _SPAN.match(text.lower())
    if span:
        n, unit = int(span.group(1)), span.group(2)
        return now + (timedelta(hours=n) if unit == "h" else timedelta(days=n))
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            "due: not a date and time (e.g. 2026-12-08T18:00:00+08:00) nor a span (4h, 2d)"
        ) from None
    return (at if at.tzinfo is not None else at.replace(tzinfo=tz)).astimezone(UTC)


def owner_allowed(session: Session, *, incident: Incident, deal: Deal, email: str) -> bool:
    """Whether ``email`` may own a task of the incident: on its team, or a seller steward or
    security officer of the deal."""
    if session.scalar(
        select(IncidentMember.email)
        .where(IncidentMember.incident_id == incident.id, IncidentMember.email == email)
        .limit(1)
    ):
        return True
    role = session.scalar(
        select(Membership.role)
        .join(Person, Person.id == Membership.person_id)
        .where(
            Membership.deal_id == deal.id,
            Person.email == email,
            Membership.role.in_(OWNER_ROLES),
        )
        .limit(1)
    )
    return role is not None


def add_task(
    session: Session,
    incident: Incident,
    *,
    deal: Deal,
    title: str,
    owner: str,
    due: datetime,
    by: str,
    now: datetime,
) -> IncidentTask:
    """A new open task of the incident (also after it closed: a follow-up)."""
    title = title.strip()
    if not title:
        raise Invalid("a task needs a title")
    if len(title) > 300:
        raise Invalid("a task's title is at most 300 characters")
    if due.tzinfo is None:
        raise Invalid("a task's due time needs its time zone")
    if due <= now:
        raise Invalid("a task's due time must be in the future")
    owner = owner.strip().lower()
    if not owner_allowed(session, incident=incident, deal=deal, email=owner):
        raise Invalid(
            f"{owner} cannot own a task of incident {incident.id}: put them on its team, or "
            "name a seller steward or security officer of the deal"
        )
    row = IncidentTask(
        incident_id=incident.id,
        title=title,
        owner=owner,
        due=due.astimezone(UTC),
        status="open",
        created_by=by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_task(session: Session, incident: Incident, *, task_id: int) -> IncidentTask:
    row = session.get(IncidentTask, task_id)
    if row is None or row.incident_id != incident.id:
        raise NotFound(f"task {task_id} of incident {incident.id} not found")
    return row


def complete(
    session: Session, row: IncidentTask, *, by: str, note: str | None, now: datetime
) -> None:
    if row.status == "done":
        raise Conflict(f"task {row.id} is already done")
    row.status = "done"
    row.done_by = by
    row.done_at = now
    row.note = (note or "").strip() or None
    session.flush()


def tasks_of(session: Session, *, incident_ids: Sequence[int]) -> list[IncidentTask]:
    """The tasks of the incidents, by due time."""
    if not incident_ids:
        return []
    return list(
        session.scalars(
            select(IncidentTask)
            .where(IncidentTask.incident_id.in_(list(incident_ids)))
            .order_by(IncidentTask.due, IncidentTask.id)
        )
    )


def task_view(row: IncidentTask, *, now: datetime) -> TaskOut:
    return TaskOut(
        id=row.id,
        incident=row.incident_id,
        title=row.title,
        owner=row.owner,
        due=row.due,
        status=row.status,
        overdue=row.status == "open" and row.due < now,
        created_by=row.created_by,
        created_at=row.created_at,
        done_by=row.done_by,
        done_at=row.done_at,
        note=row.note,
    )
