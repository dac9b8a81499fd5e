"""The deal's registers over HTTP, for counsel, the auditor and the stewards: agreements,
transfer plans, the package ledger and destruction certificates (reads; each decided and
recorded by its flow)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as InPath

from dealvault.access.agreements import AgreementOut
from dealvault.api.deps import Actor, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, Text, error_responses
from dealvault.flows import agreements, closing, transfer

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


@router.get("/deals/{deal}/packages")
def package_ledger(deal: DealCode, ctx: Ctx, actor: Actor) -> list[transfer.LedgerEntry]:
    """Every transfer package built for the deal: recipient, counts, digests, status."""
    return transfer.ledger(ctx.stores, actor=actor, deal=deal)


@router.get("/deals/{deal}/certificates")
def list_certificates(deal: DealCode, ctx: Ctx, actor: Actor) -> list[closing.CertificateOut]:
    """Destruction and return certificates of the deal."""
    return closing.list_certificates(ctx.stores, actor=actor, deal=deal)
