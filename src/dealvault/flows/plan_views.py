"""Views of transfer plans and of the transfer ledger (what the use cases return), and the
plan a use case opens with its deal and dataset."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Organization, Person
from dealvault.errors import NotFound
from dealvault.transfer import plan_notices, plans
from dealvault.transfer.models import (
    TransferMechanism,
    TransferPackage,
    TransferPlan,
    TransferReview,
)
from dealvault.vault.models import Dataset


# -- views --------------------------------------------------------------------------------
class PlanApprovalOut(BaseModel):
    approver: str
    role: str
    decision: str
    comment: str | None
    at: datetime


class PlanOut(BaseModel):
    id: int
    deal: str
    dataset: str
    recipient: str
    recipients: list[str]
    fingerprints: list[str]
    categories: list[str]
    purpose: str
    status: str
    required_roles: list[str]
    approvals: list[PlanApprovalOut]
    still_needed: list[str]
    exclusions: dict[str, int]
    created_by: str
    created_at: datetime
    decided_at: datetime | None
    packages: list[int]
    objection_days: int = Field(
        default=plans.DEFAULT_OBJECTION_DAYS,
        description="Days a customer has to object once the PIPL art. 22 notice reached them.",
    )
    recipient_contact: str = Field(default="", description="The recipient's contact in notices.")
    notices: dict[str, int] = Field(
        default_factory=dict,
        description="Customers notified, delivered, unreachable, pending, objected, "
        "objected_late (docs/compliance.md).",
    )
    objection_window_ends: datetime | None = Field(
        default=None, description="When the last delivered customer's objection window ends."
    )
    #: where the recipient holds the data (ISO 3166-1 alpha-2)
    destination: str = "CN"
    #: cross-border mechanisms counsel recorded (kinds, ``plan mechanism``)
    mechanisms: list[str] = []


class LedgerEntry(BaseModel):
    """One row of the transfer ledger (GB/T 35273 §9.2: date, scale, purpose, recipient)."""

    id: int
    plan_id: int
    deal: str
    recipient: str
    created_at: datetime
    created_by: str | None
    customers: int
    records: int
    size_bytes: int
    purpose: str
    path: str
    merkle_root: str
    manifest_sha256: str
    #: outcome of the latest post-transfer review (accepted | issues), None before one
    review: str | None = None


def email_of(session: Session, person_id: int | None) -> str | None:
    if person_id is None:
        return None
    person = session.get(Person, person_id)
    return person.email if person is not None else f"person {person_id}"


def org_name(session: Session, org_id: int) -> str:
    org = session.get(Organization, org_id)
    return org.name if org is not None else f"organisation {org_id}"


def dataset_name(session: Session, dataset_id: int) -> str:
    ds = session.get(Dataset, dataset_id)
    return ds.name if ds is not None else f"dataset {dataset_id}"


def plan_view(session: Session, plan: TransferPlan) -> PlanOut:
    deal = session.get(Deal, plan.deal_id)
    state = plan_notices.state(session, plan)
    packages = session.scalars(
        select(TransferPackage.id)
        .where(TransferPackage.plan_id == plan.id)
        .order_by(TransferPackage.id)
    )
    return PlanOut(
        id=plan.id,
        deal=deal.code if deal is not None else str(plan.deal_id),
        dataset=dataset_name(session, plan.dataset_id),
        recipient=org_name(session, plan.recipient_id),
        recipients=plans.recipients_of(plan),
        fingerprints=plans.fingerprints(plan),
        categories=plans.split(plan.categories),
        purpose=plan.purpose,
        status=plan.status,
        required_roles=plans.split(plan.required_roles),
        approvals=[
            PlanApprovalOut(
                approver=email_of(session, a.approver_id) or "?",
                role=a.role,
                decision=a.decision,
                comment=a.comment,
                at=a.at,
            )
            for a in plans.approvals(session, plan)
        ],
        still_needed=plans.still_needed(session, plan) if plan.status == "pending" else [],
        exclusions={k: int(v) for k, v in json.loads(plan.exclusions or "{}").items()},
        created_by=email_of(session, plan.created_by) or "?",
        created_at=plan.created_at,
        decided_at=plan.decided_at,
        packages=list(packages),
        objection_days=plan.objection_days,
        recipient_contact=plan.recipient_contact,
        notices=dict(state.counts),
        objection_window_ends=state.window_ends,
        destination=plan.destination,
        mechanisms=list(
            session.scalars(
                select(TransferMechanism.kind)
                .where(TransferMechanism.plan_id == plan.id)
                .order_by(TransferMechanism.kind)
            )
        ),
    )


def ledger_view(session: Session, row: TransferPackage) -> LedgerEntry:
    deal = session.get(Deal, row.deal_id)
    return LedgerEntry(
        id=row.id,
        plan_id=row.plan_id,
        deal=deal.code if deal is not None else str(row.deal_id),
        recipient=org_name(session, row.recipient_id),
        created_at=row.created_at,
        created_by=email_of(session, row.created_by),
        customers=row.customers,
        records=row.records,
        size_bytes=row.size_bytes,
        purpose=row.purpose,
        path=row.path,
        merkle_root=row.merkle_root,
        manifest_sha256=row.manifest_sha256,
        review=session.scalar(
            select(TransferReview.outcome)
            .where(TransferReview.package_id == row.id)
            .order_by(TransferReview.id.desc())
            .limit(1)
        ),
    )


def open_plan(
    session: Session, plan_id: int, *, lock: bool = False
) -> tuple[TransferPlan, Deal, Dataset]:
    plan = plans.get_plan(session, plan_id=plan_id, lock=lock)
    deal = session.get(Deal, plan.deal_id)
    dataset = session.get(Dataset, plan.dataset_id)
    if deal is None or dataset is None:  # pragma: no cover - foreign keys guarantee them
        raise NotFound(f"deal or dataset of transfer plan {plan_id} not found")
    return plan, deal, dataset
