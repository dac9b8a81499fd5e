"""A deal's security alerts on the web (seller steward, security officer): the list, filtered
by deal, status and severity; one alert with its explanation and the figures behind it, its
acknowledgement with a note, and the incident opened from it. Each page and form calls the
flow the CLI calls (flows/alerts.py, flows/incidents.py)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as InPath
from fastapi.responses import Response

from dealvault.access.principal import Principal
from dealvault.api.deps import Ctx, ServerContext
from dealvault.api.errors import DB_INT_MAX, status_of
from dealvault.errors import DealvaultError, Forbidden, NotFound
from dealvault.flows import admin, alerts, incidents
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.monitor.alerts import AlertOut
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.pages_steward import offers
from dealvault.web.render import Viewer

router = APIRouter(include_in_schema=False)
AlertId = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
Note = Annotated[str, Form(min_length=1, max_length=2000)]
#: the roles who handle a deal's alerts and incidents
HANDLERS = ("seller_steward", "security_officer")
STATUSES = ("open", "acknowledged")
SEVERITIES = ("critical", "warning", "info")


def handled_deals(ctx: ServerContext, who: Principal) -> list[str]:
    """The codes of the deals where the person is a seller steward or security officer (the
    deal filter offers these; each flow still decides)."""
    return [
        d.code
        for d in admin.list_deals(ctx.stores, actor=who)
        if any(m.person == who.email and m.role in HANDLERS for m in d.members)
    ]


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("/deals/{deal}/alerts")
def alert_list(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    status: Annotated[str | None, Query(max_length=20)] = None,
    severity: Annotated[str | None, Query(max_length=20)] = None,
    other: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The deal's alerts, newest first; choosing another deal in the filter goes to its
    list."""
    who, viewer = member
    status, severity = _choice(status, STATUSES), _choice(severity, SEVERITIES)
    if other and other != deal:
        query = urlencode({k: v for k, v in (("status", status), ("severity", severity)) if v})
        return go(
            request, f"/deals/{quote(other, safe='')}/alerts" + (f"?{query}" if query else "")
        )
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    rows = alerts.list_alerts(ctx.stores, actor=who, deal=deal, status=status, severity=severity)
    return gate(request, entry) or deal_page(
        request, viewer, entry, "incidents/alerts.html", section="alerts", alerts=rows,
        deals=handled_deals(ctx, who), filters={"status": status, "severity": severity},
        statuses=STATUSES, severities=SEVERITIES,
    )  # fmt: skip


def _alert_of(ctx: ServerContext, who: Principal, deal: str, alert_id: int) -> AlertOut:
    """The alert, if it is one of ``deal`` (the flow decides and records the reading)."""
    alert = alerts.show_alert(ctx.stores, actor=who, alert_id=alert_id)
    if alert.deal != deal:
        raise NotFound(f"alert {alert_id} not found")
    return alert


def _alert_page(
    request: Request,
    ctx: ServerContext,
    who: Principal,
    viewer: Viewer,
    entry: EntryOut,
    alert: AlertOut,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    context.setdefault("error", None)
    context.setdefault("form", {})
    return deal_page(
        request, viewer, entry, "incidents/alert.html", section="alerts", status=status,
        alert=alert, can_ack=alert.status == "open" and offers(entry, "alert.ack"),
        can_open=offers(entry, "incident.open"), **context,
    )  # fmt: skip


@router.get("/deals/{deal}/alerts/{alert_id}")
def alert_page(
    deal: DealCode,
    alert_id: AlertId,
    request: Request,
    ctx: Ctx,
    member: Member,
) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    redirect = gate(request, entry)
    if redirect is not None:
        return redirect
    alert = _alert_of(ctx, who, deal, alert_id)
    return _alert_page(request, ctx, who, viewer, entry, alert)


@router.post("/deals/{deal}/alerts/{alert_id}/ack")
def acknowledge(
    deal: DealCode,
    alert_id: AlertId,
    request: Request,
    ctx: Ctx,
    member: Member,
    note: Note,
) -> Response:
    """Mark the alert as handled, saying what was done (a frozen deal stays frozen)."""
    who, viewer = member
    _alert_of(ctx, who, deal, alert_id)
    try:
        alerts.acknowledge(ctx.stores, actor=who, alert_id=alert_id, note=note)
    except DealvaultError as exc:
        if isinstance(exc, Forbidden):
            raise
        entry = enter_deal(ctx.stores, actor=who, deal=deal)
        alert = _alert_of(ctx, who, deal, alert_id)
        return _alert_page(request, ctx, who, viewer, entry, alert, status=status_of(exc),
                           error=str(exc), form={"note": note})  # fmt: skip
    return go(request, f"/deals/{deal}/alerts/{alert_id}")


@router.post("/deals/{deal}/alerts/{alert_id}/incident")
def open_from_alert(
    deal: DealCode,
    alert_id: AlertId,
    request: Request,
    ctx: Ctx,
    member: Member,
    title: Annotated[str, Form(min_length=1, max_length=300)],
) -> Response:
    """Open an incident from this alert: its people, window and severity come with it."""
    who, _ = member
    _alert_of(ctx, who, deal, alert_id)
    inc = incidents.open_incident(ctx.stores, actor=who, title=title, alert_ids=[alert_id])
    return go(request, f"/deals/{deal}/incidents/{inc.id}")
