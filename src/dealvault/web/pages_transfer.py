"""The transfer on the web: transfer plans with their approvals (approve or deny for the
approvers), the package ledger and the destruction certificates for the seller's side and
its counsel and auditor; for the buyer's receivers, the packages addressed to their
organisation with the server's check of each, its download, how to verify it offline, and
the seller's post-transfer review. Every handler calls flows; they decide and record."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi import Path as InPath
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from dealvault.access.stages import MemberRole as R
from dealvault.api.deps import Ctx
from dealvault.api.errors import DB_INT_MAX, status_of
from dealvault.errors import DealvaultError, Forbidden, Invalid, NotFound
from dealvault.flows import closing, deliveries, reviews, transfer
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.render import Viewer

router = APIRouter(include_in_schema=False)
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
T = TypeVar("T")
TAR = "application/x-tar"
#: the largest reconciliation report a reviewer may upload
REPORT_MAX = 8 << 20


def _roles(*roles: R) -> frozenset[str]:
    return frozenset(r.value for r in roles)


#: who is shown which part of the transfer (the default policy's roles; a deal's policy may
#: only remove some, and then the part shows the flow's reason instead)
PLAN_READERS = _roles(R.SELLER_STEWARD, R.COUNSEL, R.INTERMEDIARY, R.SECURITY_OFFICER, R.AUDITOR)
LEDGER_READERS = _roles(R.SELLER_STEWARD, R.COUNSEL, R.SECURITY_OFFICER, R.AUDITOR)
RECEIVERS = _roles(R.BUYER_RECEIVER)
CERTIFICATE_READERS = LEDGER_READERS | RECEIVERS
REVIEWERS = _roles(R.SELLER_STEWARD, R.COUNSEL, R.SECURITY_OFFICER)


class Part:
    """One part of a page: what its flow returned, or why it refused."""

    def __init__(self, value: Any = None, refusal: str | None = None) -> None:
        self.value = value
        self.refusal = refusal


def _part(shown: bool, call: Callable[[], T]) -> Part | None:
    """Run ``call`` when the part is shown to the person's roles; a refusal (a deal's stricter
    policy, a stage where it is not possible yet) is shown in its place."""
    if not shown:
        return None
    try:
        return Part(call())
    except Forbidden as exc:
        return Part(refusal=str(exc))


def _mine(entry: EntryOut, roles: frozenset[str]) -> bool:
    return bool(roles & set(entry.roles))


@router.get("/deals/{deal}/transfer")
def overview(deal: DealCode, request: Request, ctx: Ctx, member: Member) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if stop := gate(request, entry):
        return stop
    s = ctx.stores
    if not any(_mine(entry, r) for r in (PLAN_READERS, RECEIVERS)):
        transfer.list_plans(s, actor=who, deal=deal)  # refused, with the policy's reason
    plans = _part(_mine(entry, PLAN_READERS), lambda: transfer.list_plans(s, actor=who, deal=deal))
    ledger = _part(_mine(entry, LEDGER_READERS), lambda: transfer.ledger(s, actor=who, deal=deal))
    inbox = _part(_mine(entry, RECEIVERS), lambda: deliveries.inbox(s, actor=who, deal=deal))
    certificates = _part(
        _mine(entry, CERTIFICATE_READERS),
        lambda: closing.list_certificates(s, actor=who, deal=deal),
    )
    return deal_page(
        request, viewer, entry, "audit/transfer.html", section="transfer",
        plans=plans, ledger=ledger, inbox=inbox, certificates=certificates,
    )  # fmt: skip


# -- plans ----------------------------------------------------------------------------------
def _plan_page(
    request: Request,
    viewer: Viewer,
    entry: EntryOut,
    plan: transfer.PlanOut,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    mine = set(entry.roles)
    pending = plan.status == "pending"
    return deal_page(
        request, viewer, entry, "audit/plan.html", section="transfer", status=status,
        plan=plan, error=error,
        can_approve=pending and bool(mine & set(plan.still_needed)),
        can_deny=pending and bool(mine & set(plan.required_roles)),
    )  # fmt: skip


def _plan_of(ctx: Ctx, who: Any, deal: str, plan_id: int) -> transfer.PlanOut:
    plan = transfer.show_plan(ctx.stores, actor=who, plan_id=plan_id)
    if plan.deal != deal:
        raise NotFound(f"transfer plan {plan_id} is not a plan of deal {deal}")
    return plan


@router.get("/deals/{deal}/transfer/plans/{plan_id}")
def plan(deal: DealCode, plan_id: Id, request: Request, ctx: Ctx, member: Member) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if stop := gate(request, entry):
        return stop
    return _plan_page(request, viewer, entry, _plan_of(ctx, who, deal, plan_id))


def _decided(
    request: Request, ctx: Ctx, member: Any, deal: str, plan_id: int, act: Callable[[], object]
) -> Response:
    """Approve or deny, then back to the plan; a refusal is shown on the plan's page."""
    who, viewer = member
    try:
        act()
    except DealvaultError as exc:
        entry = enter_deal(ctx.stores, actor=who, deal=deal)
        return _plan_page(
            request, viewer, entry, _plan_of(ctx, who, deal, plan_id),
            error=str(exc), status=status_of(exc),
        )  # fmt: skip
    return go(request, f"/deals/{deal}/transfer/plans/{plan_id}")


@router.post("/deals/{deal}/transfer/plans/{plan_id}/approve")
def approve(
    deal: DealCode,
    plan_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    who, _ = member
    _plan_of(ctx, who, deal, plan_id)  # a plan of this deal

    def act() -> object:
        return transfer.approve_plan(
            ctx.stores, actor=who, plan_id=plan_id, comment=comment.strip() or None
        )

    return _decided(request, ctx, member, deal, plan_id, act)


@router.post("/deals/{deal}/transfer/plans/{plan_id}/deny")
def deny(
    deal: DealCode,
    plan_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    who, _ = member
    _plan_of(ctx, who, deal, plan_id)

    def act() -> object:
        return transfer.deny_plan(ctx.stores, actor=who, plan_id=plan_id, reason=reason)

    return _decided(request, ctx, member, deal, plan_id, act)


# -- packages -------------------------------------------------------------------------------
def _package_page(
    request: Request,
    viewer: Viewer,
    ctx: Ctx,
    who: Any,
    entry: EntryOut,
    package_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The package as the person's roles see it: its recipient's receivers and the seller's
    stewards with the server's check; counsel, officers and auditors from the ledger; the
    reviews for all of them, and the review form for the reviewers."""
    s, deal = ctx.stores, entry.deal.code
    delivery: deliveries.DeliveryOut | None = None
    entry_row: transfer.LedgerEntry | None = None
    found: list[reviews.ReviewOut] = []
    if _mine(entry, RECEIVERS | _roles(R.SELLER_STEWARD)):
        delivery = deliveries.inspect(s, actor=who, package_id=package_id)
        entry_row, found = delivery.package, delivery.reviews
    else:
        rows = transfer.ledger(s, actor=who, deal=deal)  # refused for anyone else
        entry_row = next((r for r in rows if r.id == package_id), None)
        if entry_row is not None:
            found = reviews.list_reviews(s, actor=who, package_id=package_id)
    if entry_row is None or entry_row.deal != deal:
        raise NotFound(f"transfer package {package_id} not found in deal {deal}")
    return deal_page(
        request, viewer, entry, "audit/package.html", section="transfer", status=status,
        package=entry_row, delivery=delivery, reviews=found, error=error,
        can_review=_mine(entry, REVIEWERS),
        receiver=_mine(entry, RECEIVERS),
    )  # fmt: skip


@router.get("/deals/{deal}/transfer/packages/{package_id}")
def package(deal: DealCode, package_id: Id, request: Request, ctx: Ctx, member: Member) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if stop := gate(request, entry):
        return stop
    return _package_page(request, viewer, ctx, who, entry, package_id)


@router.get("/deals/{deal}/transfer/packages/{package_id}/download")
def download(deal: DealCode, package_id: Id, ctx: Ctx, member: Member) -> Response:
    """The package as the tar ``dealvault package verify`` reads (records encrypted to the
    recipient's keys), for its recipient's receivers and the seller's stewards."""
    who, _ = member
    tmp = Path(tempfile.mkdtemp(prefix="dealvault-pkg-"))
    try:
        path = tmp / "package.tar"
        got = deliveries.fetch(ctx.stores, actor=who, package_id=package_id, out=path)
        if got.deal != deal:
            raise NotFound(f"transfer package {package_id} not found in deal {deal}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(  # streamed from the file, removed once sent
        path,
        media_type=TAR,
        filename=f"{deal}-package-{package_id}.tar",
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.post("/deals/{deal}/transfer/packages/{package_id}/review")
def review(
    deal: DealCode,
    package_id: Id,
    request: Request,
    ctx: Ctx,
    member: Member,
    report: UploadFile,
    outcome: Annotated[str, Form(max_length=16)] = "",
    notes: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """The post-transfer review: the buyer's reconciliation report (``--report-json`` of its
    ``package verify``) checked against the ledger, and the reviewer's outcome."""
    who, viewer = member
    try:
        raw = report.file.read(REPORT_MAX + 1)
        if len(raw) > REPORT_MAX:
            raise Invalid("the report is larger than a reconciliation report can be")
        with tempfile.TemporaryDirectory(prefix="dealvault-review-") as tmp:
            path = Path(tmp) / "reconciliation.json"
            path.write_bytes(raw)
            reviews.review_package(
                ctx.stores, actor=who, package_id=package_id, report=path,
                outcome=outcome or None, notes=notes.strip(),
            )  # fmt: skip
    except DealvaultError as exc:
        entry = enter_deal(ctx.stores, actor=who, deal=deal)
        return _package_page(
            request, viewer, ctx, who, entry, package_id, error=str(exc), status=status_of(exc)
        )
    return go(request, f"/deals/{deal}/transfer/packages/{package_id}")
