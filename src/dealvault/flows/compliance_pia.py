"""The impact assessment's use cases (PIPL art. 55-56; GB/T 39335-2020): generate one for a
transfer plan from the store's facts, list and show them, export one as a document, and sign
one off (counsel as counsel, the security officer as security officer, never the plan's
author). Each decided with its own action and recorded (ids, versions, counts; never a
personal value nor a note's text)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.decision import Decision
from dealvault.access.models import Deal, Membership
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.compliance import pia
from dealvault.compliance.pia_models import ComplianceImpactAssessment
from dealvault.compliance.pia_schemas import PiaLine, PiaOut, view
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, enforce
from dealvault.flows.plan_views import open_plan
from dealvault.transfer.models import TransferPlan


def _out(s: Session, row: ComplianceImpactAssessment, plan: TransferPlan, deal: Deal) -> PiaOut:
    return view(row, pia.signoffs(s, pia_id=row.id), deal=deal.code,
                stale=pia.is_stale(s, row, plan))  # fmt: skip


def generate(stores: AppStores, keyring: KeyRing, *, actor: Principal, plan_id: int) -> PiaOut:
    """A new version of the plan's assessment, from the facts in the store now."""
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _ = open_plan(s, plan_id)
        person, event = authorize(
            stores, s, actor=actor, action="compliance.pia", deal=deal,
            event=EventIn(action="compliance.pia", objects={"plan": plan.id}),
        )  # fmt: skip
        now = utcnow()
        inputs = pia.gather(s, uow.keys, keyring, plan=plan, now=now)
        row = pia.create(s, plan_id=plan.id, inputs=inputs, by=person.email, now=now)
        out = _out(s, row, plan, deal)
        audit(stores, uow, replace(
            event,
            objects={**event.objects, "pia": row.id, "version": row.version,
                     "sha256": row.sha256},
            counts={"customers": out.inputs["basis"]["eligible"], "rating": out.overall,
                    "risks_high": sum(1 for r in out.risks if r.level >= 3)},
        ))  # fmt: skip
        return out


def list_pias(stores: AppStores, *, actor: Principal, plan_id: int) -> list[PiaLine]:
    """The plan's assessments, oldest first."""
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _ = open_plan(s, plan_id)
        _, event = authorize(
            stores, s, actor=actor, action="compliance.read", deal=deal,
            event=EventIn(action="compliance.pia_list", objects={"plan": plan.id}),
        )  # fmt: skip
        lines = []
        for row in pia.of_plan(s, plan_id=plan.id):
            o = _out(s, row, plan, deal)
            lines.append(PiaLine(id=o.id, version=o.version, generated_by=o.generated_by,
                                 generated_at=o.generated_at, kept_until=o.kept_until,
                                 stale=o.stale, signoffs=[x.role for x in o.signoffs],
                                 overall_en=o.overall_en))  # fmt: skip
        audit(stores, uow, replace(event, counts={"assessments": len(lines)}))
        return lines


def show(stores: AppStores, *, actor: Principal, pia_id: int, export: bool = False) -> PiaOut:
    """One assessment with its judgement and sign-offs (``export``: recorded as an export
    of the document)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row = pia.get(s, pia_id=pia_id)
        plan, deal, _ = open_plan(s, row.plan_id)
        action = "compliance.pia_export" if export else "compliance.pia_show"
        _, event = authorize(
            stores, s, actor=actor, action="compliance.read", deal=deal,
            event=EventIn(action=action, objects={"plan": plan.id, "pia": row.id}),
        )  # fmt: skip
        out = _out(s, row, plan, deal)
        audit(stores, uow, event)
        return out


def sign(
    stores: AppStores, *, actor: Principal, pia_id: int, role: str, note: str | None = None
) -> PiaOut:
    """Sign an assessment off as ``role`` (counsel or security_officer), a role the person
    holds in the deal; each role once; never by the plan's author. The note is kept with the
    sign-off; the audit log records its length."""
    if role not in pia.ROLES:
        raise Invalid(f"a sign-off is as {' or '.join(pia.ROLES)}, not {role!r}")
    with stores.unit_of_work() as uow:
        s = uow.records
        row = pia.get(s, pia_id=pia_id)
        plan, deal, _ = open_plan(s, row.plan_id)
        person, event = authorize(
            stores, s, actor=actor, action="compliance.pia_sign", deal=deal,
            event=EventIn(action="compliance.pia_sign",
                          objects={"plan": plan.id, "pia": row.id, "role": role}),
        )  # fmt: skip
        held = s.scalar(select(Membership.id).where(
            Membership.deal_id == deal.id, Membership.person_id == person.id,
            Membership.role == role))  # fmt: skip
        if held is None:
            enforce(stores, Decision(False, "none", (f"the person is not a {role} of the deal",)),
                    event)  # fmt: skip
        if plan.created_by == person.id:
            enforce(stores, Decision(False, "none", ("the plan's author cannot sign off its "
                                                     "impact assessment",)), event)  # fmt: skip
        latest = pia.latest(s, plan_id=plan.id)
        if latest is not None and latest.id != row.id:
            raise Conflict(f"impact assessment {row.id} is not the plan's latest (#{latest.id} "
                           "is): sign the latest")  # fmt: skip
        if pia.is_stale(s, row, plan):
            raise Conflict(f"impact assessment {row.id} no longer matches the plan's facts: "
                           "generate it again and sign the new one")  # fmt: skip
        pia.sign(s, row, role=role, by=person.email, note=note, now=utcnow())
        out = _out(s, row, plan, deal)
        audit(stores, uow, replace(event, counts={"chars": len((note or "").strip()),
                                                  "signoffs": len(out.signoffs)}))  # fmt: skip
        return out
