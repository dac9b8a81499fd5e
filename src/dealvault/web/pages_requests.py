"""Access requests on the web: the request form and one's own requests (bidders' people and
every other role the policy lets ask), the approvals inbox (the roles the policy names as
approvers: pending requests to approve with a comment or deny with a reason, and the
decided ones) and a request's own page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from dealvault.access.grants import MAX_DAYS
from dealvault.access.principal import Principal
from dealvault.api.deps import Ctx, ServerContext
from dealvault.api.errors import DB_INT_MAX, status_of
from dealvault.errors import DealvaultError, Forbidden, Invalid, NotFound
from dealvault.flows import access_requests
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.ingest.fields import Category
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.pages_steward import offers
from dealvault.web.render import Viewer

router = APIRouter(include_in_schema=False)
RequestId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
#: the levels a request may ask for (above aggregates: aggregates need no request)
LEVELS = ("anonymized", "pseudonymized", "masked")
Flag = Annotated[int, Query(ge=0, le=1)]


def _page(
    request: Request,
    ctx: ServerContext,
    who: Principal,
    viewer: Viewer,
    entry: EntryOut,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    found = access_requests.list_requests(ctx.stores, actor=who, deal=entry.deal.code)
    context.setdefault("error", None)
    context.setdefault("form", {})
    return deal_page(
        request, viewer, entry, "steward/requests.html", section="requests", status=status,
        mine=[r for r in reversed(found) if r.requester == who.email],
        pending=[r for r in found if r.requester != who.email and r.status == "pending"],
        decided=[r for r in reversed(found) if r.requester != who.email and r.status != "pending"],
        can_request=offers(entry, "access.request"),
        approver=offers(entry, "access.approve") or offers(entry, "access.deny"),
        categories=[c.value for c in Category], levels=LEVELS, max_days=MAX_DAYS, **context,
    )  # fmt: skip


@router.get("/deals/{deal}/requests")
def requests_page(deal: DealCode, request: Request, ctx: Ctx, member: Member) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    return gate(request, entry) or _page(request, ctx, who, viewer, entry)


def _row_cap(text: str | None) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= DB_INT_MAX:
        raise Invalid("row cap must be a positive number of rows")
    return int(text)


@router.post("/deals/{deal}/requests")
def file_request(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    dataset: Annotated[str, Form(min_length=1, max_length=200)],
    level: Annotated[str, Form(max_length=20)],
    purpose: Annotated[str, Form(min_length=1, max_length=500)],
    duration_days: Annotated[int, Form(ge=1, le=MAX_DAYS)],
    categories: Annotated[list[str] | None, Form(max_length=20)] = None,
    row_cap: Annotated[str | None, Form(max_length=12)] = None,
) -> Response:
    """File a request; a refused one shows the form again with what was entered."""
    who, viewer = member
    try:
        out = access_requests.request_access(
            ctx.stores, actor=who, deal=deal, dataset=dataset, categories=categories or [],
            level=level, purpose=purpose, duration_days=duration_days, row_cap=_row_cap(row_cap),
        )  # fmt: skip
    except DealvaultError as exc:
        if isinstance(exc, Forbidden):
            raise
        entry = enter_deal(ctx.stores, actor=who, deal=deal)
        form = {"dataset": dataset, "level": level, "purpose": purpose, "categories": categories
                or [], "duration_days": duration_days, "row_cap": row_cap or ""}  # fmt: skip
        return _page(request, ctx, who, viewer, entry, status=status_of(exc), error=str(exc),
                     form=form)  # fmt: skip
    return go(request, f"/deals/{out.deal}/requests/{out.id}?filed=1")


@router.get("/deals/{deal}/requests/{request_id}")
def request_page(
    deal: DealCode,
    request_id: RequestId,
    request: Request,
    ctx: Ctx,
    member: Member,
    filed: Flag = 0,
) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if (waiting := gate(request, entry)) is not None:
        return waiting
    found = access_requests.show_request(ctx.stores, actor=who, request_id=request_id)
    if found.deal != entry.deal.code:
        raise NotFound(f"access request {request_id} not found")
    return deal_page(
        request, viewer, entry, "steward/request.html", section="requests", r=found,
        filed=bool(filed),
        approver=offers(entry, "access.approve") or offers(entry, "access.deny"),
    )  # fmt: skip


@router.post("/deals/{deal}/requests/{request_id}/approve")
def approve(
    deal: DealCode,
    request_id: RequestId,
    request: Request,
    ctx: Ctx,
    member: Member,
    comment: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    """Add one's approval (the last one needed makes the grant)."""
    who, _ = member
    out = access_requests.approve_request(
        ctx.stores, actor=who, request_id=request_id, comment=(comment or "").strip() or None
    )
    return go(request, f"/deals/{out.deal}/requests/{out.id}")


@router.post("/deals/{deal}/requests/{request_id}/deny")
def deny(
    deal: DealCode,
    request_id: RequestId,
    request: Request,
    ctx: Ctx,
    member: Member,
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:
    """Deny the request for good, with the reason the requester will read."""
    who, _ = member
    out = access_requests.deny_request(ctx.stores, actor=who, request_id=request_id, reason=reason)
    return go(request, f"/deals/{out.deal}/requests/{out.id}")
