"""Transfer plans: scope, recipient and purpose; approved by distinct people in required roles."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.agreements import agreement_covers, agreements_in_force
from dealvault.access.grants import parse_categories, parse_roles, pick_role
from dealvault.access.models import Deal, Organization, Person
from dealvault.access.service import member_roles, party_of
from dealvault.access.stages import PartyRole, Stage
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.ingest.fields import Category
from dealvault.transfer.manifest import recipient_fingerprint
from dealvault.transfer.models import PlanApproval, TransferPlan
from dealvault.transfer.package import parse_recipients
from dealvault.vault.models import Dataset

STATUSES: Final = ("pending", "approved", "denied")
#: days a customer may take to object once the notice reached them (PIPL art. 22 notices)
OBJECTION_DAYS: Final = (1, 365)
DEFAULT_OBJECTION_DAYS: Final = 30
#: Stages at which a plan may be drawn up (it is approved and carried out at closing only).
PLANNING_STAGES: Final = frozenset({Stage.SIGNING.value, Stage.CLOSING.value})


def split(text: str | None, sep: str = ",") -> list[str]:
    return [x for x in (text or "").split(sep) if x]


def recipients_of(plan: TransferPlan) -> list[str]:
    return split(plan.recipients, "\n")


def normalise_recipients(values: Sequence[str]) -> list[str]:
    """Valid age X25519 recipients, de-duplicated, in the order given."""
    parse_recipients(values)
    return list(dict.fromkeys(v.strip() for v in values))


def is_sensitive(categories: Sequence[str]) -> bool:
    return Category.SENSITIVE.value in categories


# -- checks -------------------------------------------------------------------------------
def recipient_problem(deal: Deal, organization: Organization, *, winner: bool) -> str | None:
    """Why ``organization`` may not receive the deal's data (None: it may).

    The recipient is a bidder of the deal that has not withdrawn; at closing, the winner.
    """
    party = party_of(deal, organization.id)
    if party is None or party.role != PartyRole.BIDDER.value or party.withdrawn:
        return f"{organization.name} is not an active bidder in deal {deal.code}"
    if winner and not party.is_winner:
        return f"{organization.name} is not the winning bidder of deal {deal.code}"
    return None


def closing_problems(
    session: Session, *, plan: TransferPlan, deal: Deal, dataset: Dataset, at: datetime
) -> list[str]:
    """What stops approving or carrying out ``plan`` now: the stage must be ``closing``, the
    recipient the winning bidder, with a transfer agreement in force covering the scope."""
    problems: list[str] = []
    if deal.frozen:
        problems.append(f"deal {deal.code} is frozen (temporary isolation)")
    if deal.stage != Stage.CLOSING.value:
        problems.append(
            f"transfer plans are approved and carried out at stage closing only "
            f"(deal {deal.code} is at {deal.stage})"
        )
    org = session.get(Organization, plan.recipient_id)
    assert org is not None  # a foreign key guarantees it
    problem = recipient_problem(deal, org, winner=True)
    if problem:
        problems.append(problem)
    cats = split(plan.categories)
    in_force = agreements_in_force(
        session, deal=deal, organization_id=org.id, at=at, kinds=["transfer"]
    )
    if not in_force:
        problems.append(f"no transfer agreement of {org.name} is in force")
    elif not any(agreement_covers(a, dataset=dataset.name, categories=cats) for a in in_force):
        problems.append(
            f"no transfer agreement of {org.name} in force covers dataset {dataset.name} "
            f"and categories {', '.join(cats)}"
        )
    return problems


# -- plans --------------------------------------------------------------------------------
def parse_destination(code: str) -> str:
    """An ISO 3166-1 alpha-2 country code (upper case): where the recipient holds the data."""
    code = code.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise Invalid("the destination is an ISO 3166-1 alpha-2 country code (CN, HK, DE...)")
    return code


def create_plan(
    session: Session,
    *,
    creator: Person,
    deal: Deal,
    dataset: Dataset,
    recipient: Organization,
    recipients: Sequence[str],
    categories: Sequence[str],
    purpose: str,
    required_roles: Sequence[str],
    exclusions: dict[str, int],
    at: datetime,
    objection_days: int = DEFAULT_OBJECTION_DAYS,
    recipient_contact: str = "",
    destination: str = "CN",
) -> TransferPlan:
    """A pending plan (the caller has decided that ``creator`` may draw it up)."""
    cats = parse_categories(categories)
    destination = parse_destination(destination)
    low, high = OBJECTION_DAYS
    if not low <= objection_days <= high:
        raise Invalid(f"--objection-days: between {low} and {high} days")
    contact = " ".join(recipient_contact.split())
    if len(contact) > 300:
        raise Invalid("--recipient-contact: at most 300 characters")
    keys = normalise_recipients(recipients)
    purpose = purpose.strip()
    if not purpose:
        raise Invalid("state the purpose of the transfer")
    if deal.stage not in PLANNING_STAGES:
        raise Conflict(
            f"a transfer plan is drawn up at stage signing or closing (deal {deal.code} is at "
            f"{deal.stage})",
            code="wrong_stage",
        )
    problem = recipient_problem(deal, recipient, winner=deal.stage == Stage.CLOSING.value)
    if problem:
        raise Invalid(problem)
    parse_roles(required_roles)
    plan = TransferPlan(
        deal_id=deal.id,
        dataset_id=dataset.id,
        recipient_id=recipient.id,
        recipients="\n".join(keys),
        categories=",".join(cats),
        purpose=purpose,
        status="pending",
        required_roles=",".join(required_roles),
        exclusions=json.dumps(exclusions, sort_keys=True),
        objection_days=objection_days,
        recipient_contact=contact,
        created_by=creator.id,
        created_at=at,
        destination=destination,
    )
    session.add(plan)
    session.flush()
    return plan


def get_plan(session: Session, *, plan_id: int, lock: bool = False) -> TransferPlan:
    """A plan by id; ``lock`` takes a row lock (PostgreSQL) so decisions serialise."""
    plan = session.get(TransferPlan, plan_id, with_for_update=lock or None)
    if plan is None:
        raise NotFound(f"transfer plan {plan_id} not found")
    return plan


def list_plans(
    session: Session, *, deal: Deal | None = None, status: str | None = None
) -> list[TransferPlan]:
    q = select(TransferPlan).order_by(TransferPlan.id)
    if deal is not None:
        q = q.where(TransferPlan.deal_id == deal.id)
    if status is not None:
        if status not in STATUSES:
            raise Invalid(f"unknown status {status!r}; choose one of: {', '.join(STATUSES)}")
        q = q.where(TransferPlan.status == status)
    return list(session.scalars(q))


def approvals(session: Session, plan: TransferPlan) -> list[PlanApproval]:
    return list(
        session.scalars(
            select(PlanApproval).where(PlanApproval.plan_id == plan.id).order_by(PlanApproval.id)
        )
    )


def still_needed(session: Session, plan: TransferPlan) -> list[str]:
    """Required roles not yet filled by an approval, in policy order (repeats kept)."""
    required = split(plan.required_roles)
    left = Counter(required)
    left.subtract(a.role for a in approvals(session, plan) if a.decision == "approve")
    out: list[str] = []
    for role in dict.fromkeys(required):
        out.extend([role] * max(left[role], 0))
    return out


def _check_open(session: Session, plan: TransferPlan, person: Person) -> None:
    if plan.status != "pending":
        raise Conflict(f"transfer plan {plan.id} is already {plan.status}", code="already_decided")
    if any(a.approver_id == person.id for a in approvals(session, plan)):
        raise Conflict(
            f"this person has already decided on transfer plan {plan.id}", code="already_decided"
        )


def approver_role(
    session: Session, *, plan: TransferPlan, approver: Person, deal: Deal, role: str | None = None
) -> tuple[str | None, tuple[str, ...]]:
    """The required role ``approver`` would fill, or (None, why not) for a refusal to record.

    The same rules as access requests: never the plan's author, one decision per person,
    one role per approval; with several roles held, the scarcest one is taken.
    """
    _check_open(session, plan, approver)
    if approver.id == plan.created_by:
        return None, ("self-approval: the author of a plan cannot approve it",)
    taken = {plan.created_by, approver.id} | {a.approver_id for a in approvals(session, plan)}
    return pick_role(
        session,
        deal=deal,
        approver=approver,
        required=set(split(plan.required_roles)),
        needed=still_needed(session, plan),
        taken=taken,
        role=role,
        what=f"transfer plan {plan.id}",
    )


def approve(
    session: Session,
    *,
    plan: TransferPlan,
    approver: Person,
    role: str,
    at: datetime,
    comment: str | None = None,
) -> tuple[PlanApproval, bool]:
    """Record a yes in ``role``; returns it and whether the plan is now approved."""
    approval = PlanApproval(
        plan_id=plan.id,
        approver_id=approver.id,
        role=role,
        decision="approve",
        comment=(comment or "").strip() or None,
        at=at,
    )
    session.add(approval)
    session.flush()
    if still_needed(session, plan):
        return approval, False
    plan.status = "approved"
    plan.decided_at = at
    session.flush()
    return approval, True


def denier_problem(
    session: Session, *, plan: TransferPlan, person: Person, deal: Deal
) -> tuple[str, ...]:
    """Why ``person`` may not deny the plan (empty: they may). Conflict for states."""
    _check_open(session, plan, person)
    if person.id == plan.created_by:
        return ("the author of a plan cannot decide on it",)
    required = set(split(plan.required_roles))
    if not {r.value for r in member_roles(session, deal=deal, person=person)} & required:
        return (f"denier holds none of the required roles ({', '.join(sorted(required))})",)
    return ()


def deny(
    session: Session, *, plan: TransferPlan, person: Person, deal: Deal, reason: str, at: datetime
) -> PlanApproval:
    """A no from any holder of a required role: the plan is denied, finally."""
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason for the denial")
    problems = denier_problem(session, plan=plan, person=person, deal=deal)
    if problems:
        raise Forbidden("access denied: " + "; ".join(problems), code="denied")
    held = {r.value for r in member_roles(session, deal=deal, person=person)}
    role = next(r for r in split(plan.required_roles) if r in held)
    approval = PlanApproval(
        plan_id=plan.id, approver_id=person.id, role=role, decision="deny", comment=reason, at=at
    )
    session.add(approval)
    plan.status = "denied"
    plan.decided_at = at
    session.flush()
    return approval


def fingerprints(plan: TransferPlan) -> list[str]:
    return [recipient_fingerprint(r) for r in recipients_of(plan)]
