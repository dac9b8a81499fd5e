"""Use case of the post-transfer review: the buyer's reconciliation checked, signed off."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision
from dealvault.access.models import Deal, Person
from dealvault.access.principal import Principal
from dealvault.access.stages import MemberRole
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, enforce
from dealvault.transfer.models import TransferPackage, TransferReview
from dealvault.transfer.review import OUTCOMES, findings, parse_report

#: Who may review a transfer, in order of preference when one person has several roles.
REVIEWER_ROLES = (MemberRole.COUNSEL, MemberRole.SECURITY_OFFICER, MemberRole.SELLER_STEWARD)


class ReviewOut(BaseModel):
    id: int
    package: int
    reviewer: str
    role: str
    outcome: str
    findings: list[str]
    report_sha256: str
    notes: str
    reviewed_at: datetime


def review_package(
    stores: AppStores,
    *,
    actor: Principal,
    package_id: int,
    report: Path,
    outcome: str | None = None,
    notes: str = "",
) -> ReviewOut:
    """Check the buyer's reconciliation report (``--report-json`` of its verify or receive)
    against the ledger and record the review. Counsel, a security officer or a seller steward
    of the deal may review, never the person who built the package. ``outcome`` defaults to
    ``accepted`` when nothing differs, else ``issues``; accepting despite findings is refused.
    """
    if outcome is not None and outcome not in OUTCOMES:
        raise Invalid(f"outcome must be one of {', '.join(OUTCOMES)}")
    try:
        raw = report.read_bytes()
    except OSError:
        raise Invalid(f"cannot read the report {report}") from None
    parsed = parse_report(raw, source=report.name)
    with stores.unit_of_work() as uow:
        s = uow.records
        row = s.get(TransferPackage, package_id)
        if row is None:
            raise NotFound(f"transfer package {package_id} not found")
        deal = s.get(Deal, row.deal_id)
        assert deal is not None
        person, event = authorize(
            stores,
            s,
            actor=actor,
            action="package.review",
            deal=deal,
            event=EventIn(
                action="package.review",
                purpose="post-transfer review",
                objects={"package": row.id, "manifest_sha256": row.manifest_sha256},
            ),
        )
        roles = access.member_roles(s, deal=deal, person=person)
        role = next((r for r in REVIEWER_ROLES if r in roles), None)
        reasons: list[str] = []
        if role is None:
            reasons.append(
                f"only counsel, a security officer or a seller steward of deal {deal.code} "
                "may review a transfer"
            )
        if row.created_by == person.id:
            reasons.append("the person who built the package may not review it")
        enforce(
            stores,
            Decision(not reasons, "metadata" if not reasons else "none", tuple(reasons)),
            event,
        )
        assert role is not None
        found = findings(row, parsed)
        chosen = outcome or ("issues" if found else "accepted")
        if chosen == "accepted" and found:
            raise Conflict(
                f"cannot accept: the buyer's report differs from the ledger ({found[0]}"
                + (f"; and {len(found) - 1} more" if len(found) > 1 else "")
                + ")"
            )
        review = TransferReview(
            package_id=row.id,
            reviewer_id=person.id,
            reviewer_role=role.value,
            outcome=chosen,
            findings=json.dumps(found, ensure_ascii=False),
            report_sha256=hashlib.sha256(raw).hexdigest(),
            notes=notes,
            reviewed_at=utcnow(),
        )
        s.add(review)
        s.flush()
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects)
                | {"review": review.id, "outcome": chosen, "report_sha256": review.report_sha256},
                reasons=tuple(found[:10]),
                counts={"findings": len(found)},
            ),
        )
        return _out(review, reviewer=person.email)


def list_reviews(stores: AppStores, *, actor: Principal, package_id: int) -> list[ReviewOut]:
    with stores.unit_of_work() as uow:
        s = uow.records
        pkg = s.get(TransferPackage, package_id)
        if pkg is None:
            raise NotFound(f"transfer package {package_id} not found")
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="package.read",
            deal=s.get(Deal, pkg.deal_id),
            event=EventIn(action="package.reviews", objects={"package": package_id}),
        )
        audit(stores, uow, event)
        return reviews_of(s, package_id=package_id)


def reviews_of(session: Session, *, package_id: int) -> list[ReviewOut]:
    """The reviews of a package, oldest first (for a flow that has decided the read)."""
    rows = session.execute(
        select(TransferReview, Person.email)
        .join(Person, Person.id == TransferReview.reviewer_id)
        .where(TransferReview.package_id == package_id)
        .order_by(TransferReview.id)
    ).all()
    return [_out(r, reviewer=email) for r, email in rows]


def _out(row: TransferReview, *, reviewer: str) -> ReviewOut:
    return ReviewOut(
        id=row.id,
        package=row.package_id,
        reviewer=reviewer,
        role=row.reviewer_role,
        outcome=row.outcome,
        findings=json.loads(row.findings),
        report_sha256=row.report_sha256,
        notes=row.notes,
        reviewed_at=row.reviewed_at,
    )
