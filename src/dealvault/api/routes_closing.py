"""The deal's registers over HTTP, for counsel, the auditor and the stewards: agreements,
transfer plans, the package ledger and destruction certificates (reads; each decided and
recorded by its flow)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as InPath
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from dealvault.access.agreements import AgreementOut
from dealvault.api.deps import Actor, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, Text, error_responses
from dealvault.flows import agreements, closing, deliveries, plan_notices, transfer

router = APIRouter(prefix="/api", tags=["registers"], responses=error_responses(*COMMON))

DealCode = Annotated[Text, InPath(max_length=64)]
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]


@router.get("/deals/{deal}/agreements")
def list_agreements(
    deal: DealCode,
    ctx: Ctx,
    actor: Actor,
    organization: Annotated[Text | None, Query(max_length=200)] = None,
    in_force: bool = False,
) -> list[AgreementOut]:
    """The deal's agreements (metadata; documents stay with the steward)."""
    return agreements.list_agreements(
        ctx.stores, actor=actor, deal=deal, organization=organization, in_force=in_force
    )


@router.get("/agreements/{agreement_id}")
def show_agreement(agreement_id: Id, ctx: Ctx, actor: Actor) -> AgreementOut:
    return agreements.show_agreement(ctx.stores, actor=actor, agreement_id=agreement_id)


@router.get("/deals/{deal}/plans")
def list_plans(
    deal: DealCode,
    ctx: Ctx,
    actor: Actor,
    status: Annotated[Text | None, Query(max_length=20)] = None,
) -> list[transfer.PlanOut]:
    """The deal's transfer plans and their approvals."""
    return transfer.list_plans(ctx.stores, actor=actor, deal=deal, status=status)


@router.get("/plans/{plan_id}")
def show_plan(plan_id: Id, ctx: Ctx, actor: Actor) -> transfer.PlanOut:
    return transfer.show_plan(ctx.stores, actor=actor, plan_id=plan_id)


@router.get("/plans/{plan_id}/notices")
def plan_notices_(plan_id: Id, ctx: Ctx, actor: Actor) -> plan_notices.PlanNoticesOut:
    """The plan's PIPL art. 22 notice batches (counts per delivery status) and its customers
    per reason (notified, delivered, unreachable, pending, objected, objected late)."""
    return plan_notices.list_notices(ctx.stores, actor=actor, plan_id=plan_id)


@router.get("/deals/{deal}/packages")
def package_ledger(deal: DealCode, ctx: Ctx, actor: Actor) -> list[transfer.LedgerEntry]:
    """Every transfer package built for the deal: recipient, counts, digests, status."""
    return transfer.ledger(ctx.stores, actor=actor, deal=deal)


@router.get("/deals/{deal}/packages/inbox")
def package_inbox(deal: DealCode, ctx: Ctx, actor: Actor) -> list[transfer.LedgerEntry]:
    """The deal's transfer packages addressed to your organisation (the recipient's
    receivers; a seller steward sees every one)."""
    return deliveries.inbox(ctx.stores, actor=actor, deal=deal)


TAR = "application/x-tar"


@router.get(
    "/packages/{package_id}/download",
    responses={200: {"content": {TAR: {}}}},
    response_class=Response,
)
def package_download(package_id: Id, ctx: Ctx, actor: Actor) -> Response:
    """A transfer package as the tar ``dealvault package verify`` and ``receive`` read: the
    records encrypted to the recipient's age keys, the signed manifest. For the recipient
    organisation's receivers and the seller's stewards."""
    tmp = Path(tempfile.mkdtemp(prefix="dealvault-pkg-"))
    try:
        path = tmp / "package.tar"
        deliveries.fetch(ctx.stores, actor=actor, package_id=package_id, out=path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(  # streamed from the file, removed once sent
        path,
        media_type=TAR,
        filename=f"package-{package_id}.tar",
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.get("/deals/{deal}/certificates")
def list_certificates(deal: DealCode, ctx: Ctx, actor: Actor) -> list[closing.CertificateOut]:
    """Destruction and return certificates of the deal."""
    return closing.list_certificates(ctx.stores, actor=actor, deal=deal)
