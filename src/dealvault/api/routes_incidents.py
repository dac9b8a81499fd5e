"""Security incidents over HTTP for the deal's seller stewards and security officers: open
(from alerts or by hand), list, show, team, notes, tasks, timeline, impact analysis, close.
Each handler calls one flow of flows/incidents.py (or its tasks, flows/incident_tasks.py),
exactly as the CLI does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi import Path as InPath
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, Field

from dealvault.api.deps import Actor, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, Text, error_responses
from dealvault.api.routes_audit import attachment
from dealvault.documents import MEDIA, render_as
from dealvault.flows import incident_tasks, incidents
from dealvault.flows.incident_report import incident_report
from dealvault.incidents.report import render_html
from dealvault.incidents.schemas import ImpactOut, IncidentOut, TaskOut, TimelineEntry

router = APIRouter(prefix="/api", tags=["incidents"], responses=error_responses(*COMMON))
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
TaskId = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
Status = Annotated[Literal["open", "closed"] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=10_000)]
DealQuery = Annotated[Text | None, Query(max_length=64)]
Email = Annotated[Text, Field(min_length=3, max_length=254)]
Line = Annotated[Text, Field(min_length=1, max_length=300)]
Prose = Annotated[Text, Field(min_length=1, max_length=2000)]


def _utc(at: datetime) -> datetime:
    """The time in UTC (without an offset: UTC, as the CLI reads it)."""
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    try:
        return at.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


When = Annotated[datetime, AfterValidator(_utc)]


class OpenIn(BaseModel):
    """An incident of ``deal``, or of the deal of ``alert_ids`` (all of one deal)."""

    title: Line = Field(description="What happened, in a line.")
    deal: Annotated[Text, Field(max_length=64)] | None = Field(
        default=None, description="The deal's code (default: the deal of the alerts)."
    )
    alert_ids: list[Annotated[int, Field(ge=1, le=DB_INT_MAX)]] = Field(
        default_factory=list, max_length=200, description="The alerts it is opened from."
    )
    severity: Literal["info", "warning", "critical"] | None = Field(
        default=None, description="Default: the alerts' highest (warning by hand)."
    )
    people: list[Email] = Field(
        default_factory=list, max_length=200, description="People involved besides the alerts'."
    )
    datasets: list[Annotated[Text, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=200, description="Files involved (default: every one)."
    )
    since: When | None = Field(
        default=None, description="Start of its window (default: its alerts' or now; UTC "
        "without an offset).",
    )  # fmt: skip


class AssignIn(BaseModel):
    email: Email = Field(description="A member of the deal.")
    role: Literal["lead", "security", "legal", "communications"]


class NoteIn(BaseModel):
    text: Prose = Field(description="What was found or done (the audit log records its length).")
    kind: Literal["note", "lesson"] = Field(
        default="note", description="note, or lesson: a lesson learnt (the report's own list)"
    )


class CloseIn(BaseModel):
    resolution: Prose = Field(description="How it was resolved.")


class TaskIn(BaseModel):
    title: Line = Field(description="What must be done.")
    owner: Email = Field(
        description="Who does it: on the incident's team, or a seller steward or security "
        "officer of the deal."
    )
    due: When = Field(description="By when (in the future; UTC without an offset).")


class DoneIn(BaseModel):
    note: Annotated[Text, Field(max_length=2000)] | None = Field(
        default=None, description="What was done (optional)."
    )


@router.post("/incidents", status_code=201)
def open_incident(body: OpenIn, ctx: Ctx, actor: Actor) -> IncidentOut:
    """Open an incident by hand (``deal``) or from alerts (``alert_ids``) (`incident.open`:
    seller steward, security officer; also while the deal is frozen)."""
    return incidents.open_incident(
        ctx.stores,
        actor=actor,
        title=body.title,
        deal=body.deal,
        alert_ids=body.alert_ids,
        severity=body.severity,
        people=body.people,
        datasets=body.datasets,
        since=body.since,
    )


@router.get("/incidents")
def list_incidents(
    ctx: Ctx, actor: Actor, deal: DealQuery = None, status: Status = None, limit: Limit = 200
) -> list[IncidentOut]:
    """The incidents of ``deal``, or of every deal you may read incidents of; newest first,
    each with its tasks (``overdue``: how many are open past their due time)."""
    return incidents.list_incidents(ctx.stores, actor=actor, deal=deal, status=status, limit=limit)


@router.get("/incidents/{incident_id}")
def show_incident(
    incident_id: Id, ctx: Ctx, actor: Actor, timeline: Annotated[bool, Query()] = False
) -> IncidentOut:
    """One incident: alerts, people, files, window, team, notes, tasks (and its timeline with
    ``timeline=true``)."""
    return incidents.show_incident(
        ctx.stores, actor=actor, incident_id=incident_id, with_timeline=timeline
    )


@router.get("/incidents/{incident_id}/timeline")
def timeline(incident_id: Id, ctx: Ctx, actor: Actor) -> list[TimelineEntry]:
    """Its alerts, notes, tasks and the audit events of its deal and people in its window,
    in time order (events as action, decision, objects and counts)."""
    return incidents.incident_timeline(ctx.stores, actor=actor, incident_id=incident_id)


@router.get("/incidents/{incident_id}/impact")
def impact(incident_id: Id, ctx: Ctx, actor: Actor) -> ImpactOut:
    """The customers (subject ids) whose data reached the people or files involved in its
    window: counts by category, sensitivity and level, minors, and the recipients holding
    them (from the audit log's disclosure events)."""
    return incidents.impact(ctx.stores, actor=actor, incident_id=incident_id)


@router.post("/incidents/{incident_id}/team")
def assign(incident_id: Id, body: AssignIn, ctx: Ctx, actor: Actor) -> IncidentOut:
    """Put a member of the deal on the team in a role (`409` when already in it)."""
    return incidents.assign(
        ctx.stores, actor=actor, incident_id=incident_id, email=body.email, role=body.role
    )


@router.post("/incidents/{incident_id}/notes")
def add_note(incident_id: Id, body: NoteIn, ctx: Ctx, actor: Actor) -> IncidentOut:
    return incidents.add_note(
        ctx.stores, actor=actor, incident_id=incident_id, text=body.text, kind=body.kind
    )


@router.post("/incidents/{incident_id}/close")
def close(incident_id: Id, body: CloseIn, ctx: Ctx, actor: Actor) -> IncidentOut:
    """Close it with its resolution; its window ends now (`409` when already closed)."""
    return incidents.close_incident(
        ctx.stores, actor=actor, incident_id=incident_id, resolution=body.resolution
    )


@router.get("/incidents/{incident_id}/tasks")
def list_tasks(incident_id: Id, ctx: Ctx, actor: Actor) -> list[TaskOut]:
    """Its tasks by due time, ``overdue`` while open past the due time."""
    return incident_tasks.list_tasks(ctx.stores, actor=actor, incident_id=incident_id)


@router.post("/incidents/{incident_id}/tasks", status_code=201)
def add_task(incident_id: Id, body: TaskIn, ctx: Ctx, actor: Actor) -> TaskOut:
    """Give it a task with an owner and a due time (`incident.task.add`)."""
    return incident_tasks.add_task(
        ctx.stores,
        actor=actor,
        incident_id=incident_id,
        title=body.title,
        owner=body.owner,
        due=body.due,
    )


@router.post("/incidents/{incident_id}/tasks/{task_id}/done")
def task_done(incident_id: Id, task_id: TaskId, body: DoneIn, ctx: Ctx, actor: Actor) -> TaskOut:
    """Mark the task as done (`incident.task.done`; `409` when it already is)."""
    return incident_tasks.complete_task(
        ctx.stores, actor=actor, incident_id=incident_id, task_id=task_id, note=body.note
    )


@router.get(
    "/incidents/{incident_id}/report",
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}},
)
def report(
    incident_id: Id, ctx: Ctx, actor: Actor, format: Literal["html", "pdf"] = "pdf"
) -> Response:
    """The post-incident report: what happened, impact (counts), notices, lessons learnt,
    follow-up tasks and the timeline (`incident.read`, recorded as `incident.report`)."""
    out = incident_report(ctx.stores, actor=actor, incident_id=incident_id)
    body = render_as(render_html(out), format)
    return attachment(body, media=MEDIA[format], name=f"incident-{incident_id}-report.{format}")
