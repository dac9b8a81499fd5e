"""The compliance gate's use cases: check a transfer plan against the rules, list its
findings, waive one (counsel, never the plan's author, with a written reason), and the gate a
package build asks. Each decided with its own action and recorded (rule ids and counts,
never a personal value nor the waiver's text)."""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from dealvault.access.decision import Decision
from dealvault.access.models import Deal
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.compliance import service as gate
from dealvault.compliance.report import ComplianceReport
from dealvault.compliance.report import build as build_report
from dealvault.compliance.rules import evaluate
from dealvault.compliance.service import FindingOut
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, enforce
from dealvault.flows.plan_views import open_plan
from dealvault.transfer.models import TransferPlan


class CheckOut(BaseModel):
    plan: int
    deal: str
    findings: list[FindingOut]
    blocking: int = Field(description="Blocking findings still open: the package is refused.")
    passed: bool = Field(description="No blocking finding is open: the gate lets it through.")


def _out(plan: TransferPlan, deal: Deal, rows: list[FindingOut]) -> CheckOut:
    blocking = sum(1 for f in rows if f.blocking and f.status == "open")
    return CheckOut(plan=plan.id, deal=deal.code, findings=rows, blocking=blocking,
                    passed=blocking == 0)  # fmt: skip


def check_plan(stores: AppStores, *, actor: Principal, plan_id: int) -> CheckOut:
    """Check the plan against every rule now; its findings are recorded (opened, refreshed,
    cleared)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _ = open_plan(s, plan_id)
        _, event = authorize(
            stores, s, actor=actor, action="compliance.check", deal=deal,
            event=EventIn(action="compliance.check", objects={"plan": plan.id}),
        )  # fmt: skip
        rows = gate.record(s, plan_id=plan.id, found=evaluate(gate.facts(s, plan)), now=utcnow())
        out = _out(plan, deal, [gate.view(r) for r in rows])
        open_ = [f for f in out.findings if f.status == "open"]
        audit(stores, uow, replace(
            event,
            objects={**event.objects, "open": ",".join(f.rule for f in open_) or None},
            counts={"findings": len(open_), "blocking": out.blocking},
        ))  # fmt: skip
        return out


def list_findings(stores: AppStores, *, actor: Principal, plan_id: int) -> CheckOut:
    """The plan's findings as of its last check."""
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _ = open_plan(s, plan_id)
        _, event = authorize(
            stores, s, actor=actor, action="compliance.read", deal=deal,
            event=EventIn(action="compliance.findings", objects={"plan": plan.id}),
        )  # fmt: skip
        out = _out(plan, deal, [gate.view(r) for r in gate.findings(s, plan_id=plan.id)])
        audit(stores, uow, event)
        return out


def waive_finding(
    stores: AppStores, *, actor: Principal, finding_id: int, reason: str
) -> FindingOut:
    """Counsel waives an open finding with a written reason (kept with the finding; the
    audit log records its length). Never the plan's author: who drew the plan up does not
    excuse it."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row = gate.get(s, finding_id=finding_id)
        plan, deal, _ = open_plan(s, row.plan_id)
        person, event = authorize(
            stores, s, actor=actor, action="compliance.waive", deal=deal,
            event=EventIn(action="compliance.waive",
                          objects={"plan": plan.id, "finding": row.id, "rule": row.rule}),
        )  # fmt: skip
        if plan.created_by == person.id:
            enforce(stores, Decision(False, "none", ("the plan's author cannot waive its "
                                                     "findings",)), event)  # fmt: skip
        gate.waive(s, row, by=person.email, reason=reason, now=utcnow())
        audit(stores, uow, replace(event, counts={"chars": len(reason.strip())}))
        return gate.view(row)


def refusals(s: Session, *, plan: TransferPlan) -> list[str]:
    """Why the gate refuses a package of ``plan`` now: its rules are evaluated again and each
    blocking finding not waived for exactly its counts is a reason (rule and source). Nothing
    is written: a refused build records only its denial."""
    return gate.still_blocking(s, plan_id=plan.id, found=evaluate(gate.facts(s, plan)))


def compliance_report(stores: AppStores, *, actor: Principal, plan_id: int) -> ComplianceReport:
    """The plan's compliance report for the deal file (the edge renders it as HTML or PDF):
    every rule evaluated again now, nothing recorded but the event."""
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _ = open_plan(s, plan_id)
        person, event = authorize(
            stores, s, actor=actor, action="compliance.read", deal=deal,
            event=EventIn(action="compliance.report", objects={"plan": plan.id}),
        )  # fmt: skip
        report = build_report(s, plan=plan, deal=deal, by=person.email, now=utcnow())
        audit(stores, uow, replace(
            event, counts={"findings": len(report.findings), "blocking": report.blocking_open},
        ))  # fmt: skip
        return report
