"""The seller steward's pages of a deal, and what counsel, intermediaries and security
officers share of them: the overview's role panels (the steward's dashboard), and the
deal's management (freeze, unfreeze, advance the stage).

Which parts a page offers follows the shipped policy (the most a deal's own policy may
allow): a part no role of the person could ever be allowed is not asked for, so that
opening a page does not fill the audit log with refusals. Every part that is asked for is
decided by its flow, and a refusal shows the flow's reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import cache
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dealvault.access.principal import Principal
from dealvault.access.stages import TRANSITIONS, Stage
from dealvault.api.deps import Ctx, ServerContext
from dealvault.audit.store import LogFilter
from dealvault.errors import DealvaultError
from dealvault.flows import access_requests, admin, agreements, auditing
from dealvault.flows.entry import EntryOut
from dealvault.flows.policy import PolicyOut, shipped_policy
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.pages_deals import DealCode

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

#: an agreement expiring within this many days is shown as expiring soon
SOON = 30
#: how many of the deal's recent refusals the dashboard shows
ALERTS = 8
Reason = Annotated[str, Form(min_length=1, max_length=500)]


# -- what a page offers ------------------------------------------------------------------
@cache
def _shipped() -> PolicyOut:
    return shipped_policy()


def offers(entry: EntryOut, action: str) -> bool:
    """Whether one of the person's roles could take ``action`` on the deal as it stands
    (stage, freeze) under the shipped policy; the deal's own policy may still refuse."""
    policy, deal = _shipped(), entry.deal
    if deal.frozen and action not in policy.frozen_allow:
        return False
    if action == "audit_log":
        roles, stages = policy.audit_log_roles, ["*"]
    else:
        rule = policy.actions[action]
        roles, stages = rule.roles, rule.stages
    return bool(set(entry.roles) & set(roles)) and ("*" in stages or deal.stage in stages)


def attempt(call: Callable[[], T]) -> tuple[T | None, str | None]:
    """A part of a page: its value, or the flow's reason for refusing it."""
    try:
        return call(), None
    except DealvaultError as exc:
        return None, str(exc)


def soon(expires: date | None) -> bool:
    return expires is not None and expires <= date.today() + timedelta(days=SOON)


def denied_events(ctx: ServerContext, who: Principal, deal: str, limit: int) -> list[Any]:
    """The deal's most recent refusals, newest first (until alert rules exist, issue 19)."""
    flt = LogFilter(deal=deal, decision="deny", newest_first=True, limit=limit)
    return auditing.log(ctx.stores, actor=who, flt=flt)


def routers() -> list[APIRouter]:
    """Every router of the steward's area (imported here: they use this module's helpers)."""
    from dealvault.web import pages_inventory, pages_people, pages_registry, pages_requests

    return [router, pages_inventory.router, pages_people.router, pages_requests.router,
            pages_registry.router]  # fmt: skip


# -- the overview's role panels ------------------------------------------------------------
#: which panel a person sees, by the first of their roles found here
_PANELS = (
    ("seller_steward", "steward/_panel_steward.html"),
    ("security_officer", "steward/_panel_oversight.html"),
    ("counsel", "steward/_panel_oversight.html"),
    ("intermediary", "steward/_panel_oversight.html"),
    ("bidder_clean_team", "steward/_panel_requester.html"),
    ("bidder_business", "steward/_panel_requester.html"),
)


def role_panels(ctx: ServerContext, who: Principal, entry: EntryOut) -> dict[str, Any]:
    """The context of the overview's role panel: ``panel`` (a template, or None) and what
    it shows, each part asked of its flow only where the person's roles may have it."""
    panel = next((t for role, t in _PANELS if role in entry.roles), None)
    if panel is None:
        return {"panel": None}
    code, stores = entry.deal.code, ctx.stores
    out: dict[str, Any] = {"panel": panel, "soon": soon, "today": date.today()}
    out["registry"], out["registry_error"] = (
        attempt(lambda: agreements.list_agreements(stores, actor=who, deal=code))
        if panel.endswith("steward.html") and offers(entry, "agreement.read")
        else (None, None)
    )
    status = None if panel.endswith("requester.html") else "pending"
    out["requests"], out["requests_error"] = (
        attempt(lambda: access_requests.list_requests(stores, actor=who, deal=code, status=status))
        if offers(entry, "access.read")
        else (None, None)
    )
    out["alerts"], out["alerts_error"] = (
        attempt(lambda: denied_events(ctx, who, code, ALERTS))
        if not panel.endswith("requester.html") and offers(entry, "audit_log")
        else (None, None)
    )
    out["approver"] = offers(entry, "access.approve")
    out |= manage_context(entry)
    return out


def manage_context(entry: EntryOut) -> dict[str, Any]:
    """What the management forms offer: freeze or unfreeze, and the stages to advance to
    (with the bidders, one of whom closing needs as the winner)."""
    deal = entry.deal
    targets = [
        s.value for s in sorted(TRANSITIONS[Stage(deal.stage)], key=list(Stage).index)
        if s is not Stage.TERMINATED
    ]  # fmt: skip
    return {
        "can_freeze": not deal.frozen and offers(entry, "deal.freeze"),
        "can_unfreeze": deal.frozen and offers(entry, "deal.unfreeze"),
        "can_advance": bool(targets) and offers(entry, "deal.advance"),
        "targets": targets,
        "bidders": [p.organization for p in deal.parties if p.role == "bidder" and not p.withdrawn],
        "winner_named": any(p.is_winner for p in deal.parties),
    }


# -- managing the deal -------------------------------------------------------------------
@router.post("/deals/{deal}/freeze")
def freeze(deal: DealCode, request: Request, ctx: Ctx, member: Member, reason: Reason) -> Response:
    """Isolate the deal at once: every access stops, the steward's included."""
    who, _ = member
    admin.set_frozen(ctx.stores, actor=who, code=deal, frozen=True, reason=reason)
    return go(request, f"/deals/{deal}")


@router.post("/deals/{deal}/unfreeze")
def unfreeze(
    deal: DealCode, request: Request, ctx: Ctx, member: Member, reason: Reason
) -> Response:
    who, _ = member
    admin.set_frozen(ctx.stores, actor=who, code=deal, frozen=False, reason=reason)
    return go(request, f"/deals/{deal}")


@router.post("/deals/{deal}/advance")
def advance(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    reason: Reason,
    to: Annotated[str, Form(max_length=30)],
    winner: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Move the deal to a later stage (closing names the winning bidder)."""
    who, _ = member
    admin.advance_deal(
        ctx.stores, actor=who, code=deal, to=to, winner=winner or None, reason=reason
    )
    return go(request, f"/deals/{deal}")
