"""The gate's records: a plan's facts gathered, its findings recorded at each check (opened,
cleared, a waiver kept only for the counts it was given for), waivers, and the views."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Organization
from dealvault.compliance import rules_consent, rules_crossborder, rules_notice
from dealvault.compliance.content import content_facts
from dealvault.compliance.models import ComplianceFinding
from dealvault.compliance.pia import state as pia_state
from dealvault.compliance.rules import BY_ID, FindingIn, PlanFacts
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.transfer.models import TransferPlan
from dealvault.transfer.records import status_counts
from dealvault.vault.models import Dataset, ImportRun


class FindingOut(BaseModel):
    id: int
    plan: int
    rule: str
    title: str
    blocking: bool = Field(description="Blocks the package while open.")
    source: str = Field(description="The legal sources the rule rests on.")
    message: str
    counts: dict[str, int]
    status: str = Field(description="open, cleared or waived")
    first_seen: datetime
    last_seen: datetime
    waived_by: str | None = None
    waived_at: datetime | None = None
    waiver_reason: str | None = None


def facts(session: Session, plan: TransferPlan) -> PlanFacts:
    """What the rules read about ``plan``: from the plan, its dataset's customers by status
    and what was counted when the dataset was imported."""
    deal = session.get(Deal, plan.deal_id)
    dataset = session.get(Dataset, plan.dataset_id)
    org = session.get(Organization, plan.recipient_id)
    if deal is None or dataset is None or org is None:  # pragma: no cover - foreign keys
        raise NotFound(f"deal, dataset or recipient of transfer plan {plan.id} not found")
    by_status = status_counts(session, dataset=dataset)
    categories = tuple(c for c in plan.categories.split(",") if c)
    consent = rules_consent.gather(
        session, dataset_id=dataset.id, deal_kind=deal.kind, categories=categories, at=utcnow()
    )
    minors, sensitive = session.execute(
        select(func.coalesce(func.sum(ImportRun.minors), 0),
               func.coalesce(func.sum(ImportRun.sensitive_rows), 0))
        .where(ImportRun.dataset_id == dataset.id)
    ).one()  # fmt: skip
    return PlanFacts(
        plan_id=plan.id,
        deal=deal.code,
        deal_kind=deal.kind,
        dataset=dataset.name,
        recipient=org.name,
        categories=categories,
        purpose=plan.purpose or "",
        eligible=by_status.get("active", 0),
        exclusions={k: n for k, n in by_status.items() if k != "active" and n},
        minors=int(minors or 0),
        sensitive_rows=int(sensitive or 0),
        consent=consent,
        pia=pia_state(session, plan),
        **content_facts(session, plan=plan, dataset=dataset),
        **rules_notice.gather(session, plan),
        **rules_crossborder.facts(session, plan),
    )


def counts_json(f: FindingIn) -> str:
    """A finding's counts as kept (canonical JSON): what a waiver is given for."""
    return json.dumps(dict(f.counts), sort_keys=True)


def waiver_holds(row: ComplianceFinding | None, counts: str) -> bool:
    """Whether ``row`` is waived for exactly ``counts``: a waiver lapses when they change."""
    return row is not None and row.status == "waived" and row.waived_counts == counts


def record(
    session: Session, *, plan_id: int, found: Sequence[FindingIn], now: datetime
) -> list[ComplianceFinding]:
    """The plan's findings after a check: each found one opened or refreshed (a waiver given
    for other counts lapses), each not found any more cleared."""
    rows = {
        r.rule: r
        for r in session.scalars(
            select(ComplianceFinding).where(ComplianceFinding.plan_id == plan_id)
        )
    }
    seen = set()
    for f in found:
        seen.add(f.rule)
        counts = counts_json(f)
        row = rows.get(f.rule)
        if row is None:
            row = ComplianceFinding(plan_id=plan_id, rule=f.rule, first_seen=now, status="open")
            session.add(row)
            rows[f.rule] = row
        elif row.status == "cleared" or (row.status == "waived" and not waiver_holds(row, counts)):
            row.status = "open"
        row.blocking, row.source, row.message = f.blocking, f.source, f.message
        row.counts, row.last_seen = counts, now
    for rule, row in rows.items():
        if rule not in seen and row.status != "cleared":
            row.status = "cleared"
    session.flush()
    return sorted(rows.values(), key=lambda r: _order(r.rule))


def _order(rule: str) -> int:
    return list(BY_ID).index(rule) if rule in BY_ID else len(BY_ID)


def findings(session: Session, *, plan_id: int) -> list[ComplianceFinding]:
    rows = session.scalars(select(ComplianceFinding).where(ComplianceFinding.plan_id == plan_id))
    return sorted(rows, key=lambda r: _order(r.rule))


def get(session: Session, *, finding_id: int) -> ComplianceFinding:
    row = session.get(ComplianceFinding, finding_id)
    if row is None:
        raise NotFound(f"compliance finding {finding_id} not found")
    return row


def waive(session: Session, row: ComplianceFinding, *, by: str, reason: str, now: datetime) -> None:
    if len(reason.split()) < 3:
        raise Invalid("a waiver needs a written reason (a sentence: why the finding may stand)")
    if row.status != "open":
        raise Conflict(f"compliance finding {row.id} is {row.status}: only an open one is waived")
    row.status, row.waived_by, row.waived_at = "waived", by, now
    row.waiver_reason, row.waived_counts = reason.strip(), row.counts


def still_blocking(session: Session, *, plan_id: int, found: Sequence[FindingIn]) -> list[str]:
    """Why the gate is closed for these findings, without recording anything: each blocking
    one not waived for exactly its counts (rule, source and the finding's id once recorded)."""
    rows = {r.rule: r for r in findings(session, plan_id=plan_id)}
    out = []
    for f in found:
        if not f.blocking:
            continue
        row = rows.get(f.rule)
        if waiver_holds(row, counts_json(f)):
            continue
        ref = f"compliance finding #{row.id}" if row is not None else "a compliance finding"
        out.append(f"{ref} ({f.rule}, {f.source}) is open: resolve it, or counsel waives it "
                   "(dealvault compliance check PLAN lists it)")  # fmt: skip
    return out


def blocking_open(rows: Sequence[ComplianceFinding]) -> list[ComplianceFinding]:
    return [r for r in rows if r.blocking and r.status == "open"]


def view(row: ComplianceFinding) -> FindingOut:
    rule = BY_ID.get(row.rule)
    return FindingOut(
        id=row.id, plan=row.plan_id, rule=row.rule, title=rule.title if rule else row.rule,
        blocking=row.blocking, source=row.source, message=row.message,
        counts=json.loads(row.counts or "{}"), status=row.status, first_seen=row.first_seen,
        last_seen=row.last_seen, waived_by=row.waived_by, waived_at=row.waived_at,
        waiver_reason=row.waiver_reason,
    )  # fmt: skip
