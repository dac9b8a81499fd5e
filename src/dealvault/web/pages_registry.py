"""The deal's records of who may do what and what happened: the agreements (the registry
for the roles that read it; for everyone, their organisation's click-through agreements)
and the timeline (the stage history and, for the roles that read the audit log, the
deal's recorded events, newest first, a page at a time)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dealvault.api.deps import Ctx
from dealvault.api.errors import DB_INT_MAX
from dealvault.audit.store import LogFilter
from dealvault.flows import acceptance, agreements, auditing
from dealvault.flows.entry import enter_deal
from dealvault.web.deps import Member
from dealvault.web.nav import SECTIONS
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.pages_steward import offers, soon

router = APIRouter(include_in_schema=False)
#: events on one page of the timeline
PAGE = 50
_TIMELINE_ROLES = next(s.roles for s in SECTIONS if s.slug == "timeline")


@router.get("/deals/{deal}/agreements")
def agreements_page(deal: DealCode, request: Request, ctx: Ctx, member: Member) -> Response:
    """No gate here: this page is where a person finds the agreement awaiting them."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    registry = own = None
    if offers(entry, "agreement.review"):
        own = acceptance.pending(ctx.stores, actor=who, deal=deal)
    if offers(entry, "agreement.read") or own is None:  # neither: the flow says why not
        registry = agreements.list_agreements(ctx.stores, actor=who, deal=deal)
    return deal_page(
        request, viewer, entry, "steward/agreements.html", section="agreements",
        registry=registry, own=own, soon=soon,
    )  # fmt: skip


@router.get("/deals/{deal}/timeline")
def timeline(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    before: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
    decision: Annotated[str | None, Query(pattern="^(allow|deny)$")] = None,
) -> Response:
    """The stage history, and the deal's audit events for the roles that read its log
    (another timeline role sees the stages only; anyone else is refused by the flow)."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if (waiting := gate(request, entry)) is not None:
        return waiting
    events = None
    if offers(entry, "audit_log") or not _TIMELINE_ROLES & set(entry.roles):
        flt = LogFilter(deal=deal, decision=decision, before=before, newest_first=True,
                        limit=PAGE + 1)  # fmt: skip
        events = auditing.log(ctx.stores, actor=who, flt=flt)
    older = events[PAGE - 1]["seq"] if events is not None and len(events) > PAGE else None
    return deal_page(
        request, viewer, entry, "steward/timeline.html", section="timeline",
        events=events[:PAGE] if events is not None else None, older=older, before=before,
        decision=decision,
    )  # fmt: skip
