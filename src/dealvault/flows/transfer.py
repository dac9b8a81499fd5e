"""Use cases of transfer plans and the transfer ledger, each audited in its commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision, decide
from dealvault.access.grants import parse_categories
from dealvault.access.models import Deal, Person
from dealvault.access.policy import active_policy
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint, enforce, person_of, resolve

# the plans' views, re-exported: the edges take them from here
from dealvault.flows.plan_views import LedgerEntry as LedgerEntry
from dealvault.flows.plan_views import PlanApprovalOut as PlanApprovalOut
from dealvault.flows.plan_views import PlanOut as PlanOut
from dealvault.flows.plan_views import dataset_name, email_of, org_name
from dealvault.flows.plan_views import ledger_view as ledger_view
from dealvault.flows.plan_views import open_plan as open_plan
from dealvault.flows.plan_views import plan_view as plan_view
from dealvault.transfer import plans
from dealvault.transfer.models import (
    TransferPackage,
    TransferPlan,
)
from dealvault.transfer.records import exclusions, status_counts


def _objects(session: Session, plan: TransferPlan) -> dict[str, str | int | None]:
    return {
        "plan": plan.id,
        "dataset": dataset_name(session, plan.dataset_id),
        "recipient": org_name(session, plan.recipient_id),
        "categories": plan.categories,
    }


def _refuse(stores: AppStores, reasons: Sequence[str], event: EventIn) -> None:
    """Record a refusal (in a transaction of its own) and raise Forbidden, if any reasons."""
    if reasons:
        enforce(stores, Decision(False, "none", tuple(reasons)), event)


# -- use cases ----------------------------------------------------------------------------
def create_plan(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    recipient: str,
    recipients: Sequence[str],
    categories: Sequence[str],
    purpose: str,
    at: datetime | None = None,
    objection_days: int = plans.DEFAULT_OBJECTION_DAYS,
    recipient_contact: str = "",
    destination: str = "CN",
) -> PlanOut:
    """Draw up a plan (a seller steward; stage signing or closing). Opted-out, objecting and
    shredded customers are excluded and counted per reason; the approver roles are fixed now
    (more for sensitive personal information, as for access requests). ``objection_days`` and
    ``recipient_contact`` go into the customers' PIPL art. 22 notices; ``destination``: where
    the recipient holds the data (ISO 3166-1 alpha-2; the cross-border rules read it)."""
    at = at or utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        person, d, ds = resolve(s, actor=actor, deal=deal, dataset=dataset)
        org = access.get_organization(s, name=recipient)
        event = EventIn(
            action="transfer.plan.create",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=d.code,
            purpose=purpose.strip() or None,
            objects={"dataset": ds.name, "recipient": org.name, "stage": d.stage},
        )
        enforce(stores, decide(s, actor=person, deal=d, action="plan.create"), event)
        cats = parse_categories(categories)
        policy = active_policy(s, deal=d)
        roles = policy.approvals_sensitive if plans.is_sensitive(cats) else policy.approvals_default
        counts = status_counts(s, dataset=ds)
        excluded = exclusions(counts)
        plan = plans.create_plan(
            s,
            creator=person,
            deal=d,
            dataset=ds,
            recipient=org,
            recipients=recipients,
            categories=cats,
            purpose=purpose,
            required_roles=roles,
            exclusions=excluded,
            at=at,
            objection_days=objection_days,
            recipient_contact=recipient_contact,
            destination=destination,
        )
        audit(
            stores,
            uow,
            EventIn(
                action="transfer.plan.create",
                actor=person.email,
                authn=actor.authn.value,
                session=actor.session_id,
                client=actor.client,
                device=actor.device,
                deal=d.code,
                purpose=plan.purpose,
                decision="allow",
                objects=_objects(s, plan)
                | {"required_roles": plan.required_roles, "destination": plan.destination},
                counts={
                    "eligible": counts.get("active", 0),
                    "recipients": len(recipients),
                    "objection_days": plan.objection_days,
                }
                | {f"excluded_{k}": v for k, v in excluded.items()},
            ),
        )
        return plan_view(s, plan)


def approve_plan(
    stores: AppStores,
    *,
    actor: Principal,
    plan_id: int,
    comment: str | None = None,
    role: str | None = None,
    at: datetime | None = None,
) -> PlanOut:
    """Add the actor's approval; only at stage closing with a transfer agreement of the
    recipient in force covering the plan. The last approval needed approves the plan."""
    at = at or utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, ds = open_plan(s, plan_id, lock=True)
        person = _decided(
            stores,
            s,
            actor,
            "plan.approve",
            deal,
            plan,
            targets_self=plan.created_by == _person_id(s, actor),
        )
        chosen, reasons = plans.approver_role(s, plan=plan, approver=person, deal=deal, role=role)
        problems = [*reasons, *plans.closing_problems(s, plan=plan, deal=deal, dataset=ds, at=at)]
        event = EventIn(
            action="transfer.plan.approve",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=deal.code,
            objects=_objects(s, plan),
        )
        _refuse(stores, problems, event)
        assert chosen is not None
        approval, done = plans.approve(
            s, plan=plan, approver=person, role=chosen, at=at, comment=comment
        )
        left = plans.still_needed(s, plan)
        audit(
            stores,
            uow,
            EventIn(
                action="transfer.plan.approve",
                actor=person.email,
                authn=actor.authn.value,
                session=actor.session_id,
                client=actor.client,
                device=actor.device,
                deal=deal.code,
                decision="allow",
                objects=_objects(s, plan)
                | {"role": approval.role, "still_needed": ", ".join(left) or None},
            ),
        )
        if done:
            audit(
                stores,
                uow,
                EventIn(
                    action="transfer.plan.approved",
                    actor=person.email,
                    authn=actor.authn.value,
                    session=actor.session_id,
                    client=actor.client,
                    device=actor.device,
                    deal=deal.code,
                    purpose=plan.purpose,
                    objects=_objects(s, plan)
                    | {
                        "approvers": ", ".join(
                            f"{email_of(s, a.approver_id)} ({a.role})"
                            for a in plans.approvals(s, plan)
                        )
                    },
                ),
            )
            checkpoint(stores, uow, reason=f"transfer plan {plan.id} approved")
        return plan_view(s, plan)


def deny_plan(
    stores: AppStores, *, actor: Principal, plan_id: int, reason: str, at: datetime | None = None
) -> PlanOut:
    """A holder of a required role says no: the plan is denied for good."""
    at = at or utcnow()
    if not reason.strip():
        raise Invalid("give a reason for the denial")
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _ = open_plan(s, plan_id, lock=True)
        person = _decided(stores, s, actor, "plan.deny", deal, plan)
        event = EventIn(
            action="transfer.plan.deny",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=deal.code,
            objects=_objects(s, plan),
        )
        _refuse(stores, plans.denier_problem(s, plan=plan, person=person, deal=deal), event)
        approval = plans.deny(s, plan=plan, person=person, deal=deal, reason=reason, at=at)
        audit(
            stores,
            uow,
            EventIn(
                action="transfer.plan.deny",
                actor=person.email,
                authn=actor.authn.value,
                session=actor.session_id,
                client=actor.client,
                device=actor.device,
                deal=deal.code,
                decision="allow",
                objects=_objects(s, plan) | {"role": approval.role, "status": plan.status},
                reasons=(reason.strip(),),
            ),
        )
        return plan_view(s, plan)


def _person_id(s: Session, actor: Principal) -> int:
    return person_of(s, actor).id


def _decided(
    stores: AppStores,
    s: Session,
    actor: Principal,
    action: str,
    deal: Deal,
    plan: TransferPlan,
    *,
    targets_self: bool = False,
) -> Person:
    """Decide ``action`` on ``plan`` at the one decision point (a denial is recorded)."""
    person, _ = authorize(
        stores,
        s,
        actor=actor,
        action=action,
        deal=deal,
        targets_self=targets_self,
        event=EventIn(action=f"transfer.{action}", objects={"plan": plan.id}),
    )
    return person


def show_plan(stores: AppStores, *, actor: Principal, plan_id: int) -> PlanOut:
    with stores.unit_of_work() as uow:
        plan, deal, _ = open_plan(uow.records, plan_id)
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="plan.read",
            deal=deal,
            event=EventIn(action="transfer.plan.show", objects={"plan": plan.id}),
        )
        out = plan_view(uow.records, plan)
        audit(stores, uow, event)
        return out


def list_plans(
    stores: AppStores, *, actor: Principal, deal: str, status: str | None = None
) -> list[PlanOut]:
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="plan.read",
            deal=d,
            event=EventIn(action="transfer.plan.list"),
        )
        out = [plan_view(s, p) for p in plans.list_plans(s, deal=d, status=status)]
        audit(stores, uow, event)
        return out


def ledger(stores: AppStores, *, actor: Principal, deal: str) -> list[LedgerEntry]:
    """The deal's transfer ledger: every package built, oldest first."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="package.read",
            deal=d,
            event=EventIn(action="package.ledger"),
        )
        q = (
            select(TransferPackage)
            .where(TransferPackage.deal_id == d.id)
            .order_by(TransferPackage.id)
        )
        out = [ledger_view(s, row) for row in s.scalars(q)]
        audit(stores, uow, event)
        return out
