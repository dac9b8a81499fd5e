"""A deal's security incidents on the web (seller steward, security officer): the list and
opening one by hand; one incident with its status, window, team, tasks (overdue flagged),
notes and timeline, its impact analysis on request (counts, never a personal value), and
the forms to staff it, note, add and finish tasks, and close it. Each page and form calls
the flow the CLI calls (flows/incidents.py, flows/incident_tasks.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as InPath
from fastapi.responses import Response

from dealvault.access.principal import Principal
from dealvault.api.deps import Ctx, ServerContext
from dealvault.api.errors import DB_INT_MAX, status_of
from dealvault.api.routes_audit import attachment
from dealvault.db.base import utcnow
from dealvault.documents import MEDIA, render_as
from dealvault.errors import DealvaultError, Forbidden, NotFound
from dealvault.flows import incident_tasks, incidents
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.flows.incident_report import incident_report
from dealvault.incidents.report import render_html
from dealvault.incidents.schemas import SEVERITIES, TEAM_ROLES, IncidentOut
from dealvault.incidents.tasks import OWNER_ROLES, parse_due
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.pages_steward import offers
from dealvault.web.render import Viewer

router = APIRouter(include_in_schema=False)
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
Line = Annotated[str, Form(min_length=1, max_length=300)]
Prose = Annotated[str, Form(min_length=1, max_length=2000)]
Email = Annotated[str, Form(min_length=3, max_length=254)]
#: the timeline entries a page shows at most (the newest)
SHOWN = 300


def _incident(
    ctx: ServerContext, who: Principal, deal: str, incident_id: int, *, timeline: bool = True
) -> IncidentOut:
    """The incident (with its timeline), if it is one of ``deal`` (the flow decides)."""
    inc = incidents.show_incident(
        ctx.stores, actor=who, incident_id=incident_id, with_timeline=timeline
    )
    if inc.deal != deal:
        raise NotFound(f"incident {incident_id} not found")
    return inc


def _people(entry: EntryOut, inc: IncidentOut) -> tuple[list[str], list[str]]:
    """Who may join the team (the deal's members), and who may own a task (the team, and the
    deal's seller stewards and security officers)."""
    members = sorted({m.person for m in entry.deal.members})
    owners = {m.email for m in inc.team}
    owners |= {m.person for m in entry.deal.members if m.role in OWNER_ROLES}
    return members, sorted(owners)


def _page(
    request: Request,
    ctx: ServerContext,
    who: Principal,
    viewer: Viewer,
    entry: EntryOut,
    inc: IncidentOut,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    context.setdefault("errors", {})
    context.setdefault("form", {})
    members, owners = _people(entry, inc)
    timeline = list(reversed((inc.timeline or [])[-SHOWN:]))
    is_open = inc.status == "open"
    return deal_page(
        request, viewer, entry, "incidents/incident.html", section="incidents", status=status,
        inc=inc, timeline=timeline, hidden=len(inc.timeline or []) - len(timeline),
        members=members, owners=owners, roles=TEAM_ROLES,
        can_assign=is_open and offers(entry, "incident.assign"),
        can_note=offers(entry, "incident.note"),
        can_task=offers(entry, "incident.task.add"),
        can_done=offers(entry, "incident.task.done"),
        can_close=is_open and offers(entry, "incident.close"), **context,
    )  # fmt: skip


@router.get("/deals/{deal}/incidents")
def incident_list(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The deal's incidents, newest first, each with its overdue tasks."""
    who, viewer = member
    status = status if status in ("open", "closed") else None
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    rows = incidents.list_incidents(ctx.stores, actor=who, deal=deal, status=status)
    return gate(request, entry) or deal_page(
        request, viewer, entry, "incidents/list.html", section="incidents", incidents=rows,
        filter_status=status, severities=SEVERITIES, can_open=offers(entry, "incident.open"),
        error=None, form={},
    )  # fmt: skip


@router.post("/deals/{deal}/incidents")
def open_by_hand(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    title: Line,
    severity: Annotated[str, Form(max_length=10)] = "warning",
) -> Response:
    """Open an incident by hand (without an alert): its window starts now."""
    who, viewer = member
    try:
        inc = incidents.open_incident(
            ctx.stores, actor=who, deal=deal, title=title, severity=severity
        )
    except DealvaultError as exc:
        if isinstance(exc, Forbidden):
            raise
        entry = enter_deal(ctx.stores, actor=who, deal=deal)
        rows = incidents.list_incidents(ctx.stores, actor=who, deal=deal)
        return deal_page(
            request, viewer, entry, "incidents/list.html", section="incidents",
            status=status_of(exc), incidents=rows, filter_status=None, severities=SEVERITIES,
            can_open=True, error=str(exc), form={"title": title, "severity": severity},
        )  # fmt: skip
    return go(request, f"/deals/{deal}/incidents/{inc.id}")


@router.get("/deals/{deal}/incidents/{incident_id}")
def incident_page(
    deal: DealCode, incident_id: Id, request: Request, ctx: Ctx, member: Member
) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    redirect = gate(request, entry)
    if redirect is not None:
        return redirect
    return _page(request, ctx, who, viewer, entry, _incident(ctx, who, deal, incident_id))


@router.get("/deals/{deal}/incidents/{incident_id}/impact")
def impact(deal: DealCode, incident_id: Id, request: Request, ctx: Ctx, member: Member) -> Response:
    """The impact analysis: asked for (it reads the window's disclosure events and is
    recorded), shown as counts; a fragment for htmx, else a page of its own."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    redirect = gate(request, entry)
    if redirect is not None:
        return redirect
    out = incidents.impact(ctx.stores, actor=who, incident_id=incident_id)
    if out.deal != deal:  # read-only: checked after the flow decided
        raise NotFound(f"incident {incident_id} not found")
    fragment = bool(request.headers.get("hx-request"))
    return deal_page(
        request, viewer, entry,
        "incidents/_impact.html" if fragment else "incidents/impact.html",
        section="incidents", impact=out, incident_id=incident_id,
    )  # fmt: skip


@router.get("/deals/{deal}/incidents/{incident_id}/report")
def report(
    deal: DealCode,
    incident_id: Id,
    ctx: Ctx,
    member: Member,
    format: Literal["html", "pdf"] = "pdf",
) -> Response:
    """The post-incident report, to download (PDF, or HTML)."""
    who, _ = member
    out = incident_report(ctx.stores, actor=who, incident_id=incident_id)
    if out.incident.deal != deal:  # read-only: checked after the flow decided
        raise NotFound(f"incident {incident_id} not found")
    body = render_as(render_html(out), format)
    return attachment(body, media=MEDIA[format], name=f"incident-{incident_id}-report.{format}")


def _act(
    request: Request,
    ctx: ServerContext,
    member: tuple[Principal, Viewer],
    deal: str,
    incident_id: int,
    call: Callable[[Principal], object],
    *,
    part: str,
    form: dict[str, str],
) -> Response:
    """Run a form's use case on the incident; a refusal is the error page, any other problem
    shows the page again with the reason beside the form ``part`` and what was entered."""
    who, viewer = member
    _incident(ctx, who, deal, incident_id, timeline=False)  # one of this deal, before a change
    try:
        call(who)
    except DealvaultError as exc:
        if isinstance(exc, Forbidden):
            raise
        entry = enter_deal(ctx.stores, actor=who, deal=deal)
        inc = _incident(ctx, who, deal, incident_id)
        return _page(request, ctx, who, viewer, entry, inc, status=status_of(exc),
                     errors={part: str(exc)}, form=form)  # fmt: skip
    return go(request, f"/deals/{deal}/incidents/{incident_id}#{part}")


@router.post("/deals/{deal}/incidents/{incident_id}/assign")
def assign(
    deal: DealCode,
    incident_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    email: Email,
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    def call(who: Principal) -> object:
        return incidents.assign(
            ctx.stores, actor=who, incident_id=incident_id, email=email, role=role
        )

    return _act(request, ctx, member, deal, incident_id, call, part="team",
                form={"email": email, "role": role})  # fmt: skip


@router.post("/deals/{deal}/incidents/{incident_id}/note")
def note(
    deal: DealCode, incident_id: Id, request: Request, ctx: Ctx, member: Member, text: Prose
) -> Response:
    def call(who: Principal) -> object:
        return incidents.add_note(ctx.stores, actor=who, incident_id=incident_id, text=text)

    return _act(request, ctx, member, deal, incident_id, call, part="notes",
                form={"text": text})  # fmt: skip


@router.post("/deals/{deal}/incidents/{incident_id}/tasks")
def add_task(
    deal: DealCode,
    incident_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    title: Line,
    owner: Email,
    due: Annotated[str, Form(min_length=1, max_length=40)],
) -> Response:
    """A task with its owner and due time (the person's time zone, as the form shows it)."""
    viewer = member[1]

    def call(who: Principal) -> object:
        when = parse_due(due, now=utcnow(), tz=viewer.tz)
        return incident_tasks.add_task(ctx.stores, actor=who, incident_id=incident_id,
                                       title=title, owner=owner, due=when)  # fmt: skip

    return _act(request, ctx, member, deal, incident_id, call, part="tasks",
                form={"title": title, "owner": owner, "due": due})  # fmt: skip


@router.post("/deals/{deal}/incidents/{incident_id}/tasks/{task_id}/done")
def task_done(
    deal: DealCode,
    incident_id: Id,
    task_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    note: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    def call(who: Principal) -> object:
        return incident_tasks.complete_task(ctx.stores, actor=who, incident_id=incident_id,
                                            task_id=task_id, note=note or None)  # fmt: skip

    return _act(request, ctx, member, deal, incident_id, call, part="tasks", form={})


@router.post("/deals/{deal}/incidents/{incident_id}/close")
def close(
    deal: DealCode,
    incident_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    resolution: Prose,
) -> Response:
    def call(who: Principal) -> object:
        return incidents.close_incident(
            ctx.stores, actor=who, incident_id=incident_id, resolution=resolution
        )

    return _act(request, ctx, member, deal, incident_id, call, part="close",
                form={"resolution": resolution})  # fmt: skip
