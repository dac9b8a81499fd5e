"""Cross-border use cases: counsel records a plan's transfer mechanism (audited: the kind and
the reference's length, never its text), and the gate's rules listed (no store read)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel

from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.compliance import rules_crossborder as xb
from dealvault.compliance.crossborder_file import parse
from dealvault.compliance.rules_crossborder import RulesOut
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.flows.transfer import open_plan


class MechanismOut(BaseModel):
    plan: int
    kind: str
    reference: str
    recorded_by: str
    recorded_at: datetime
    #: every kind recorded for the plan now
    recorded: list[str]


def record_mechanism(
    stores: AppStores, *, actor: Principal, plan_id: int, kind: str, reference: str
) -> MechanismOut:
    """Counsel records the mechanism a plan's cross-border transfer rests on (a security
    assessment, standard contract, certification, SCC, adequacy or derogation) with its
    reference; recording a kind again replaces its reference."""
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _ = open_plan(s, plan_id)
        person, event = authorize(
            stores, s, actor=actor, action="plan.mechanism", deal=deal,
            event=EventIn(action="transfer.plan.mechanism",
                          objects={"plan": plan.id, "kind": kind[:40]}),
        )  # fmt: skip
        row = xb.record_mechanism(
            s, plan=plan, kind=kind, reference=reference, by=person.id, now=utcnow()
        )
        audit(stores, uow, replace(event, counts={"chars": len(row.reference)}))
        return MechanismOut(
            plan=plan.id,
            kind=row.kind,
            reference=row.reference,
            recorded_by=person.email,
            recorded_at=row.recorded_at,
            recorded=[m.kind for m in xb.mechanisms(s, plan_id=plan.id)],
        )


def rules_catalogue(text: str | None = None, *, where: str = "") -> RulesOut:
    """Every rule of the compliance gate with its source and kind, and the cross-border
    rules file's version and date (reads no store: no decision to take); ``text``: a draft
    rules file validated instead of the shipped one (:class:`Invalid` naming its problem)."""
    if text is None:
        return xb.catalogue()
    return xb.catalogue(parse(text, where=where), file=where)
