"""Access requests, approvals by distinct people in required roles, and time-boxed grants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

from dealvault.access.governance_models import AccessRequest, Approval, Grant
from dealvault.access.models import Deal, Membership, Person
from dealvault.access.service import member_roles
from dealvault.access.stages import MemberRole
from dealvault.db.memo import recall
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.ingest.fields import Category

#: Disclosure levels, least to most revealing (docs/design.md §2; same order as deidentify's Level).
LEVELS: Final = ("metadata", "aggregate", "anonymized", "pseudonymized", "masked", "full")
STATUSES: Final = ("pending", "approved", "denied")
MAX_DAYS: Final = 365
#: Who may revoke a grant.
REVOKERS: Final = frozenset({MemberRole.SELLER_STEWARD, MemberRole.SECURITY_OFFICER})

_datasets = table("datasets", column("id"), column("name"))


# -- validation ---------------------------------------------------------------------------
def parse_categories(values: Sequence[str]) -> tuple[str, ...]:
    """Known categories, de-duplicated, in the order of ``Category``."""
    wanted = {v.strip() for v in values if v.strip()}
    if not wanted:
        raise Invalid("name at least one data category")
    known = [c.value for c in Category]
    unknown = sorted(wanted - set(known))
    if unknown:
        raise Invalid(f"unknown category {unknown[0]!r}; choose from: {', '.join(known)}")
    return tuple(c for c in known if c in wanted)


def parse_level(value: str) -> str:
    if value not in LEVELS:
        raise Invalid(f"unknown level {value!r}; choose one of: {', '.join(LEVELS)}")
    return value


def parse_roles(values: Sequence[str]) -> tuple[MemberRole, ...]:
    """Required approver roles (a role named twice needs two people in it)."""
    if not values:
        raise Invalid("the policy names no approver roles")
    try:
        return tuple(MemberRole(v) for v in values)
    except ValueError:
        names = ", ".join(m.value for m in MemberRole)
        raise Invalid(f"unknown approver role in policy; choose from: {names}") from None


def split(text: str) -> list[str]:
    return [c for c in text.split(",") if c]


def dataset_name(session: Session, dataset_id: int) -> str:
    def load() -> str:
        name = session.scalar(select(_datasets.c.name).where(_datasets.c.id == dataset_id))
        return str(name) if name is not None else f"dataset {dataset_id}"

    return recall(session, ("dataset_name", dataset_id), load)


# -- requests -----------------------------------------------------------------------------
def requester_problem(session: Session, *, person: Person, deal: Deal) -> tuple[str, ...]:
    """Why ``person`` may not request access in ``deal`` (empty: they may)."""
    if not member_roles(session, deal=deal, person=person):
        return (f"requester is not a member of deal {deal.code}",)
    return ()


def create_request(
    session: Session,
    *,
    requester: Person,
    deal: Deal,
    dataset_id: int,
    categories: Sequence[str],
    level: str,
    purpose: str,
    duration_days: int,
    row_cap: int | None = None,
    at: datetime,
) -> AccessRequest:
    """A pending request; the requester must hold some role in the deal (Forbidden otherwise)."""
    cats = parse_categories(categories)
    lvl = parse_level(level)
    purpose = purpose.strip()
    if not purpose:
        raise Invalid("state the purpose of the access")
    if not 1 <= duration_days <= MAX_DAYS:
        raise Invalid(f"duration must be 1 to {MAX_DAYS} days")
    if row_cap is not None and row_cap < 1:
        raise Invalid("row cap must be a positive number of rows")
    problems = requester_problem(session, person=requester, deal=deal)
    if problems:
        raise Forbidden("access denied: " + "; ".join(problems), code="denied")
    req = AccessRequest(
        deal_id=deal.id,
        dataset_id=dataset_id,
        requester_id=requester.id,
        categories=",".join(cats),
        level=lvl,
        purpose=purpose,
        duration_days=duration_days,
        row_cap=row_cap,
        status="pending",
        created_at=at,
    )
    session.add(req)
    session.flush()
    return req


def get_request(session: Session, *, request_id: int, lock: bool = False) -> AccessRequest:
    """A request by id; ``lock`` takes a row lock (PostgreSQL) so decisions serialise."""
    req = session.get(AccessRequest, request_id, with_for_update=lock or None)
    if req is None:
        raise NotFound(f"access request {request_id} not found")
    return req


def list_requests(
    session: Session,
    *,
    deal: Deal | None = None,
    status: str | None = None,
    requester: Person | None = None,
) -> list[AccessRequest]:
    q = select(AccessRequest).order_by(AccessRequest.id)
    if deal is not None:
        q = q.where(AccessRequest.deal_id == deal.id)
    if status is not None:
        if status not in STATUSES:
            raise Invalid(f"unknown status {status!r}; choose one of: {', '.join(STATUSES)}")
        q = q.where(AccessRequest.status == status)
    if requester is not None:
        q = q.where(AccessRequest.requester_id == requester.id)
    return list(session.scalars(q))


def is_sensitive(request: AccessRequest) -> bool:
    return Category.SENSITIVE.value in split(request.categories)


def still_needed(request: AccessRequest, required_roles: Sequence[str]) -> list[str]:
    """Required roles not yet filled by an approval, in policy order (repeats kept)."""
    left = Counter(r.value for r in parse_roles(required_roles))
    left.subtract(a.role for a in request.approvals if a.decision == "approve")
    out: list[str] = []
    for role in dict.fromkeys(r for r in required_roles):
        out.extend([role] * max(left[role], 0))
    return out


def _check_open(request: AccessRequest) -> None:
    if request.status != "pending":
        raise Conflict(
            f"access request {request.id} is already {request.status}", code="already_decided"
        )


def _holders(session: Session, *, deal_id: int, role: str, exclude: set[int]) -> int:
    ids = session.scalars(
        select(Membership.person_id).where(Membership.deal_id == deal_id, Membership.role == role)
    )
    return len(set(ids) - exclude)


def approver_role(
    session: Session,
    *,
    request: AccessRequest,
    approver: Person,
    deal: Deal,
    required_roles: Sequence[str],
    role: str | None = None,
) -> tuple[str | None, tuple[str, ...]]:
    """The required role ``approver`` would fill, or (None, why not) for a refusal to record.

    A decided request or a second decision by the same person raise Conflict: those are
    states, not authority. With several unfilled roles held, ``role`` picks one; otherwise
    the role with the fewest other eligible holders is taken, so a person holding two roles
    does not use up the only one someone else could fill.
    """
    _check_open(request)
    if approver.id == request.requester_id:
        return None, ("self-approval: the requester cannot approve their own request",)
    if any(a.approver_id == approver.id for a in request.approvals):
        raise Conflict(
            f"this person has already decided on access request {request.id}",
            code="already_decided",
        )
    taken = {request.requester_id, approver.id} | {a.approver_id for a in request.approvals}
    return pick_role(
        session,
        deal=deal,
        approver=approver,
        required={r.value for r in parse_roles(required_roles)},
        needed=still_needed(request, required_roles),
        taken=taken,
        role=role,
        what=f"access request {request.id}",
    )


def pick_role(
    session: Session,
    *,
    deal: Deal,
    approver: Person,
    required: Collection[str],
    needed: Sequence[str],
    taken: Collection[int],
    role: str | None,
    what: str,
) -> tuple[str | None, tuple[str, ...]]:
    """The still-needed role ``approver`` fills (``role`` if given), or (None, why not).

    With several unfilled roles held, the one with the fewest other eligible holders (not in
    ``taken``) is used, so a person holding two roles does not use up the only one someone
    else could fill. Shared by access requests and transfer plans.
    """
    held = {r.value for r in member_roles(session, deal=deal, person=approver)}
    if not held & set(required):
        return None, (f"approver holds none of the required roles ({', '.join(sorted(required))})",)
    fillable = [r for r in dict.fromkeys(needed) if r in held]
    if not fillable:
        raise Conflict(
            f"the approver's role is already filled on {what}; "
            f"still needed: {', '.join(needed) or 'none'}",
            code="role_filled",
        )
    if role is not None:
        if role not in fillable:
            raise Invalid(
                f"role {role!r} is not one this approver can fill; choose: {', '.join(fillable)}"
            )
        return role, ()
    exclude = set(taken)
    return min(
        fillable, key=lambda r: _holders(session, deal_id=deal.id, role=r, exclude=exclude)
    ), ()


def approve(
    session: Session,
    *,
    request: AccessRequest,
    approver: Person,
    deal: Deal,
    required_roles: Sequence[str],
    at: datetime,
    comment: str | None = None,
    role: str | None = None,
) -> tuple[Approval, Grant | None]:
    """Record a yes; when it fills the last required role, approve and make the grant."""
    chosen, reasons = approver_role(
        session,
        request=request,
        approver=approver,
        deal=deal,
        required_roles=required_roles,
        role=role,
    )
    if chosen is None:
        raise Forbidden("access denied: " + "; ".join(reasons), code="denied")
    approval = Approval(
        request_id=request.id,
        approver_id=approver.id,
        role=chosen,
        decision="approve",
        comment=(comment or "").strip() or None,
        at=at,
    )
    request.approvals.append(approval)
    session.flush()
    if still_needed(request, required_roles):
        return approval, None
    request.status = "approved"
    request.decided_at = at
    grant = Grant(
        request_id=request.id,
        person_id=request.requester_id,
        deal_id=request.deal_id,
        dataset_id=request.dataset_id,
        categories=request.categories,
        level=request.level,
        purpose=request.purpose,
        row_cap=request.row_cap,
        rows_used=0,
        granted_at=at,
        expires_at=at + timedelta(days=request.duration_days),
    )
    session.add(grant)
    session.flush()
    return approval, grant


def denier_problem(
    session: Session,
    *,
    request: AccessRequest,
    person: Person,
    deal: Deal,
    required_roles: Sequence[str],
) -> tuple[str, ...]:
    """Why ``person`` may not deny the request (empty: they may). Conflict for states."""
    _check_open(request)
    if person.id == request.requester_id:
        return ("the requester cannot decide on their own request",)
    if any(a.approver_id == person.id for a in request.approvals):
        raise Conflict(
            f"this person has already decided on access request {request.id}",
            code="already_decided",
        )
    required = {r.value for r in parse_roles(required_roles)}
    if not {r.value for r in member_roles(session, deal=deal, person=person)} & required:
        return (f"denier holds none of the required roles ({', '.join(sorted(required))})",)
    return ()


def deny(
    session: Session,
    *,
    request: AccessRequest,
    person: Person,
    deal: Deal,
    required_roles: Sequence[str],
    reason: str,
    at: datetime,
) -> Approval:
    """A no from any holder of a required role: the request is denied, finally."""
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason for the denial")
    problems = denier_problem(
        session, request=request, person=person, deal=deal, required_roles=required_roles
    )
    if problems:
        raise Forbidden("access denied: " + "; ".join(problems), code="denied")
    held = {r.value for r in member_roles(session, deal=deal, person=person)}
    role = next(r.value for r in parse_roles(required_roles) if r.value in held)
    approval = Approval(
        request_id=request.id,
        approver_id=person.id,
        role=role,
        decision="deny",
        comment=reason,
        at=at,
    )
    request.approvals.append(approval)
    request.status = "denied"
    request.decided_at = at
    session.flush()
    return approval
