"""The people of a deal (seller steward, security officer): every member with their roles
and sign-in state; inviting a person with a role; disabling and enabling a sign-in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from dealvault.access.principal import Principal
from dealvault.access.stages import MemberRole
from dealvault.api.deps import Ctx, ServerContext
from dealvault.api.errors import status_of
from dealvault.errors import DealvaultError, Forbidden, Invalid
from dealvault.flows import accounts, members
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.pages_steward import offers
from dealvault.web.render import Viewer

router = APIRouter(include_in_schema=False)
Email = Annotated[str, Form(min_length=3, max_length=254)]
Optional = Annotated[str | None, Form(max_length=200)]


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
    people = members.deal_members(ctx.stores, actor=who, deal=entry.deal.code)
    context.setdefault("error", None)
    context.setdefault("form", {})
    context.setdefault("sent", False)
    return deal_page(
        request, viewer, entry, "steward/people.html", section="people", status=status,
        people=people, roles=[r.value for r in MemberRole],
        organizations=[p.organization for p in entry.deal.parties if not p.withdrawn],
        can_invite=offers(entry, "account.invite"),
        can_disable=offers(entry, "account.disable"), **context,
    )  # fmt: skip


@router.get("/deals/{deal}/people")
def people(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    sent: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    return gate(request, entry) or _page(request, ctx, who, viewer, entry, sent=bool(sent))


@router.post("/deals/{deal}/people/invite")
def invite(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    email: Email,
    role: Annotated[str, Form(max_length=30)],
    name: Optional = None,
    organization: Optional = None,
) -> Response:
    """Invite a person with a role: registered first if new (name and organisation), mailed
    a one-time link. A refusal shows the form again with what was entered."""
    who, viewer = member
    try:
        if role not in {r.value for r in MemberRole}:
            raise Invalid(f"unknown role {role!r}")
        accounts.invite(
            ctx.stores, actor=who, rules=ctx.rules, mailer=ctx.mailer, deal=deal, email=email,
            role=role, name=(name or "").strip() or None,
            organization=organization or None,
        )  # fmt: skip
    except DealvaultError as exc:
        if isinstance(exc, Forbidden):  # a refusal: the error page, with its reason
            raise
        entry = enter_deal(ctx.stores, actor=who, deal=deal)
        form = {"email": email, "role": role, "name": name or "", "organization": organization}
        return _page(
            request, ctx, who, viewer, entry, status=status_of(exc), error=str(exc), form=form
        )
    return go(request, f"/deals/{deal}/people?sent=1")


def _set_disabled(request: Request, ctx: ServerContext, who: Principal, deal: str, email: str,
                  *, disabled: bool) -> Response:  # fmt: skip
    accounts.set_disabled(ctx.stores, actor=who, deal=deal, email=email, disabled=disabled)
    return go(request, f"/deals/{deal}/people")


@router.post("/deals/{deal}/people/disable")
def disable(deal: DealCode, request: Request, ctx: Ctx, member: Member, email: Email) -> Response:
    """Disable a member's sign-in: every session and token stops at once."""
    return _set_disabled(request, ctx, member[0], deal, email, disabled=True)


@router.post("/deals/{deal}/people/enable")
def enable(deal: DealCode, request: Request, ctx: Ctx, member: Member, email: Email) -> Response:
    return _set_disabled(request, ctx, member[0], deal, email, disabled=False)
