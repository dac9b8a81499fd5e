"""The compliance report of a transfer plan for the deal file: the gate's state now (every
rule evaluated again, waivers kept for their counts), the facts behind it, the notices,
consents, impact assessment, cross-border mechanisms, content review, retention rules and
packages. Counts and names of organisations only, never a customer's personal value."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any, Final

import jinja2
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal
from dealvault.compliance import service as gate
from dealvault.compliance.rules import BY_ID, evaluate
from dealvault.compliance.rules_consent import excluded_for_consent
from dealvault.consent import service as consents
from dealvault.retention.models import RetentionRule
from dealvault.transfer import plan_notices
from dealvault.transfer.models import TransferPackage, TransferPlan

ENV: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("dealvault.compliance", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class ReportFinding(BaseModel):
    rule: str
    title: str
    blocking: bool
    source: str
    status: str = Field(description="open, waived (for these counts) or cleared")
    message: str
    counts: dict[str, int]
    waived_by: str | None = None
    waived_at: datetime | None = None
    waiver_reason: str | None = None


class ComplianceReport(BaseModel):
    plan: int
    deal: str
    deal_kind: str
    generated_at: datetime
    generated_by: str
    gate_open: bool
    blocking_open: int
    facts: dict[str, Any] = Field(description="The plan and the counts the rules read.")
    findings: list[ReportFinding]
    notices: dict[str, int]
    consents: dict[str, dict[str, int]]
    impact_assessment: str = Field(description="missing, stale:ID, unsigned:ID:ROLES, signed:ID")
    retention: list[dict[str, Any]]
    packages: list[dict[str, Any]]


def _findings(session: Session, plan: TransferPlan, facts: Any) -> list[ReportFinding]:
    recorded = {r.rule: r for r in gate.findings(session, plan_id=plan.id)}
    out = []
    for f in evaluate(facts):
        row = recorded.pop(f.rule, None)
        waived = gate.waiver_holds(row, gate.counts_json(f))
        out.append(ReportFinding(
            rule=f.rule, title=BY_ID[f.rule].title, blocking=f.blocking, source=f.source,
            status="waived" if waived else "open", message=f.message, counts=dict(f.counts),
            waived_by=row.waived_by if waived and row else None,
            waived_at=row.waived_at if waived and row else None,
            waiver_reason=row.waiver_reason if waived and row else None,
        ))  # fmt: skip
    for rule, row in recorded.items():  # found at an earlier check, not any more
        out.append(ReportFinding(
            rule=rule, title=BY_ID[rule].title if rule in BY_ID else rule, blocking=row.blocking,
            source=row.source, status="cleared", message=row.message,
            counts=json.loads(row.counts or "{}"),
        ))  # fmt: skip
    return out


def build(
    session: Session, *, plan: TransferPlan, deal: Deal, by: str, now: datetime
) -> ComplianceReport:
    """The report of ``plan`` as of ``now`` (nothing is recorded but the caller's event)."""
    facts = gate.facts(session, plan)
    findings = _findings(session, plan, facts)
    blocking = sum(1 for f in findings if f.blocking and f.status == "open")
    plain = dataclasses.asdict(facts)
    # the customers a package would leave out for want of consent, as the build counts them
    conds = excluded_for_consent(deal_kind=deal.kind, categories=facts.categories, at=now)
    left = {
        reason: n
        for reason, cond in conds.items()
        if (n := consents.count_active(session, dataset_id=plan.dataset_id, where=[cond]))
    }
    if left:
        union = consents.count_active(
            session, dataset_id=plan.dataset_id, where=[or_(*conds.values())]
        )
        plain["exclusions"] = {**facts.exclusions, **left}
        plain["eligible"] = facts.eligible - union
    plain["objection_days"] = plan.objection_days
    plain["recipient_contact"] = plan.recipient_contact
    retention = [
        {"id": r.id, "category": r.category or "(whole dataset)", "end": r.end.isoformat(),
         "next_review": r.next_review.isoformat(), "status": r.status, "basis": r.basis}
        for r in session.scalars(
            select(RetentionRule).where(RetentionRule.dataset_id == plan.dataset_id)
            .order_by(RetentionRule.id)
        )
    ]  # fmt: skip
    packages = [
        {"id": p.id, "customers": p.customers, "created_at": p.created_at.isoformat(),
         "manifest_sha256": p.manifest_sha256}
        for p in session.scalars(
            select(TransferPackage).where(TransferPackage.plan_id == plan.id)
            .order_by(TransferPackage.id)
        )
    ]  # fmt: skip
    return ComplianceReport(
        plan=plan.id, deal=deal.code, deal_kind=deal.kind, generated_at=now, generated_by=by,
        gate_open=blocking == 0, blocking_open=blocking, facts=plain, findings=findings,
        notices=dict(plan_notices.state(session, plan).counts),
        consents=consents.summary(session, dataset_id=plan.dataset_id, at=now),
        impact_assessment=str(facts.pia or "missing"), retention=retention, packages=packages,
    )  # fmt: skip


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_html(report: ComplianceReport) -> str:
    """The report as one self-contained HTML page."""
    return ENV.get_template("compliance_report.html.j2").render(r=report, when=_when)
