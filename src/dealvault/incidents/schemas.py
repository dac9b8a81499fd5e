"""What incidents look like to their readers: people, deals, counts and subject ids, never a
personal value."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dealvault.incidents.clocks import ClockOut
from dealvault.incidents.notice_schemas import NoticeOut

#: the roles of an incident team
TEAM_ROLES = ("lead", "security", "legal", "communications")
SEVERITIES = ("info", "warning", "critical")
STATUSES = ("open", "closed")
TASK_STATUSES = ("open", "done")


class MemberOut(BaseModel):
    role: str
    email: str
    assigned_by: str
    assigned_at: datetime


class NoteOut(BaseModel):
    id: int
    author: str
    at: datetime
    text: str
    kind: str = Field(default="note", description="note, or lesson (a lesson learnt)")


class TaskOut(BaseModel):
    """A task of the incident: what, whom, by when; ``overdue`` while open past its due time."""

    id: int
    incident: int
    title: str
    owner: str = Field(description="Who does it: a person of the deal (e-mail).")
    due: datetime
    status: str = Field(description="open or done.")
    overdue: bool = Field(description="Still open after its due time.")
    created_by: str
    created_at: datetime
    done_by: str | None = None
    done_at: datetime | None = None
    note: str | None = None


class TimelineEntry(BaseModel):
    """One thing that happened: an alert raised, a note added, an audit event."""

    at: datetime
    kind: str = Field(description="alert, note, task (added or done) or event.")
    ref: int = Field(description="The alert's id, the note's id, the task's id or the event's seq.")
    actor: str | None = None
    summary: str


class IncidentOut(BaseModel):
    id: int
    deal: str
    title: str
    severity: str
    status: str
    alerts: list[int] = Field(default_factory=list)
    people: list[str] = Field(
        default_factory=list,
        description="The people involved: named at opening and the subjects of its alerts.",
    )
    datasets: list[str] = Field(
        default_factory=list, description="The files (datasets) involved; empty: every one."
    )
    window_start: datetime
    window_end: datetime | None = None
    opened_by: str
    opened_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None
    resolution: str | None = None
    team: list[MemberOut] = Field(default_factory=list)
    notes: list[NoteOut] = Field(default_factory=list)
    tasks: list[TaskOut] = Field(default_factory=list)
    overdue: int = Field(default=0, description="Tasks still open after their due time.")
    timeline: list[TimelineEntry] | None = None
    clocks: list[ClockOut] = Field(
        default_factory=list, description="The legal clocks (shown by 'incident show')."
    )
    partner_notices: list[NoticeOut] = Field(
        default_factory=list, description="Partner notices: who acknowledged, who has not."
    )


class RecipientImpact(BaseModel):
    recipient: str = Field(description="The organisation the data was released to.")
    people: list[str] = Field(description="Who took it out (the events' actors).")
    customers: int
    events: int


class ImpactOut(BaseModel):
    """The customers whose data reached the people or files involved, from the audit log's
    disclosure events in the incident's window."""

    incident: int
    deal: str
    window_start: datetime
    window_end: datetime
    events: int = Field(description="Disclosure events counted.")
    customers: int = Field(description="Distinct customers (subject ids) reached.")
    by_category: dict[str, int] = Field(description="Customers per category of data released.")
    by_sensitivity: dict[str, int] = Field(
        description="Customers with sensitive personal information released, and the others."
    )
    by_level: dict[str, int] = Field(description="Customers per disclosure level.")
    canaries: int = Field(description="Planted canary customers released too (not counted).")
    minors: int | None = Field(
        default=None,
        description="Minors reached: 0 when the files involved hold no minor; null: unknown.",
    )
    minors_at_most: int = Field(
        description="An upper bound: the minors the files involved held when imported, at "
        "most the customers reached."
    )
    recipients: list[RecipientImpact]
    subject_ids: list[str] = Field(description="The customers' subject ids, sorted.")
    seconds: float = 0.0
