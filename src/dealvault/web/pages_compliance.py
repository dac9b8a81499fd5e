"""The compliance gate of a transfer plan on the web: its findings with their legal sources,
a check now, counsel's waiver with a written reason, the impact assessment with the sign-off
of counsel and the security officer, and the compliance report for the deal file. Every
handler calls flows; they decide and record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi import Path as InPath
from fastapi.responses import Response

from dealvault.access.stages import MemberRole as R
from dealvault.api.deps import Ctx
from dealvault.api.errors import DB_INT_MAX, status_of
from dealvault.api.routes_audit import attachment
from dealvault.compliance import report as compliance_doc
from dealvault.documents import MEDIA, render_as
from dealvault.errors import DealvaultError, Forbidden, NotFound
from dealvault.flows import compliance, compliance_pia, transfer
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.render import Viewer

router = APIRouter(include_in_schema=False)
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
#: who may press "check now", waive, sign off (the default policy's roles; the flow decides)
CHECKERS = frozenset({R.SELLER_STEWARD.value, R.COUNSEL.value, R.SECURITY_OFFICER.value})
SIGNERS = (R.COUNSEL.value, R.SECURITY_OFFICER.value)


def _url(deal: str, plan_id: int) -> str:
    return f"/deals/{deal}/transfer/plans/{plan_id}/compliance"


def _page(
    request: Request,
    viewer: Viewer,
    ctx: Ctx,
    who: Any,
    entry: EntryOut,
    plan_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    plan = transfer.show_plan(ctx.stores, actor=who, plan_id=plan_id)
    if plan.deal != entry.deal.code:
        raise NotFound(f"transfer plan {plan_id} is not a plan of deal {entry.deal.code}")
    gate_state = compliance.list_findings(ctx.stores, actor=who, plan_id=plan_id)
    try:
        pias = compliance_pia.list_pias(ctx.stores, actor=who, plan_id=plan_id)
    except Forbidden:
        pias = []
    mine = set(entry.roles)
    return deal_page(
        request, viewer, entry, "audit/compliance.html", section="transfer", status=status,
        plan=plan, gate_state=gate_state, pias=pias, error=error,
        can_check=bool(mine & CHECKERS), can_waive=R.COUNSEL.value in mine,
        sign_as=[r for r in SIGNERS if r in mine and plan.created_by != viewer.email],
    )  # fmt: skip


@router.get("/deals/{deal}/transfer/plans/{plan_id}/compliance")
def page(deal: DealCode, plan_id: Id, request: Request, ctx: Ctx, member: Member) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if stop := gate(request, entry):
        return stop
    return _page(request, viewer, ctx, who, entry, plan_id)


def _acted(
    request: Request, ctx: Ctx, member: Any, deal: str, plan_id: int, act: Callable[[], object]
) -> Response:
    """Do it, then back to the gate's page; a refusal is shown there with its reason."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    try:
        act()
    except DealvaultError as exc:
        return _page(request, viewer, ctx, who, entry, plan_id, error=str(exc),
                     status=status_of(exc))  # fmt: skip
    return go(request, _url(deal, plan_id))


@router.post("/deals/{deal}/transfer/plans/{plan_id}/compliance/check")
def check(deal: DealCode, plan_id: Id, request: Request, ctx: Ctx, member: Member) -> Response:
    who, _ = member

    def act() -> object:
        return compliance.check_plan(ctx.stores, actor=who, plan_id=plan_id)

    return _acted(request, ctx, member, deal, plan_id, act)


@router.post("/deals/{deal}/transfer/plans/{plan_id}/compliance/findings/{finding_id}/waive")
def waive(
    deal: DealCode,
    plan_id: Id,
    finding_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    who, _ = member

    def act() -> object:
        return compliance.waive_finding(ctx.stores, actor=who, finding_id=finding_id,
                                        reason=reason)  # fmt: skip

    return _acted(request, ctx, member, deal, plan_id, act)


@router.post("/deals/{deal}/transfer/plans/{plan_id}/compliance/pias/{pia_id}/sign")
def sign(
    deal: DealCode,
    plan_id: Id,
    pia_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    role: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    who, _ = member

    def act() -> object:
        return compliance_pia.sign(ctx.stores, actor=who, pia_id=pia_id, role=role,
                                   note=note.strip() or None)  # fmt: skip

    return _acted(request, ctx, member, deal, plan_id, act)


@router.get("/deals/{deal}/transfer/plans/{plan_id}/compliance/report.{fmt}")
def report(
    deal: DealCode, plan_id: Id, fmt: Literal["html", "pdf"], ctx: Ctx, member: Member
) -> Response:
    who, _ = member
    out = compliance.compliance_report(ctx.stores, actor=who, plan_id=plan_id)
    if out.deal != deal:
        raise NotFound(f"transfer plan {plan_id} is not a plan of deal {deal}")
    body = render_as(compliance_doc.render_html(out), fmt)
    return attachment(body, media=MEDIA[fmt], name=f"plan-{plan_id}-compliance.{fmt}")


@router.get("/deals/{deal}/transfer/plans/{plan_id}/compliance/pias/{pia_id}.{fmt}")
def pia_document(
    deal: DealCode, plan_id: Id, pia_id: Id, fmt: Literal["html", "pdf"], ctx: Ctx, member: Member
) -> Response:
    from dealvault.compliance import pia_report

    who, _ = member
    out = compliance_pia.show(ctx.stores, actor=who, pia_id=pia_id, export=True)
    if out.plan != plan_id or out.deal != deal:
        raise NotFound(f"impact assessment {pia_id} is not one of plan {plan_id}")
    body = render_as(pia_report.render_html(out), fmt)
    return attachment(body, media=MEDIA[fmt], name=f"impact-assessment-{pia_id}.{fmt}")
