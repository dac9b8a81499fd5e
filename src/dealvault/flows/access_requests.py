"""Use cases for access requests, approvals, grants and revocations, each audited in its commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from dealvault.access import grant_use, grants
from dealvault.access import service as access
from dealvault.access.decision import Decision
from dealvault.access.governance_models import AccessRequest, Grant
from dealvault.access.models import Deal, Person
from dealvault.access.policy import Policy, active_policy
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import Invalid, NotFound
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint, enforce
from dealvault.vault import service as vault


# -- views --------------------------------------------------------------------------------
class ApprovalOut(BaseModel):
    approver: str
    role: str
    decision: str
    comment: str | None
    at: datetime


class GrantOut(BaseModel):
    id: int
    request_id: int
    person: str
    dataset: str
    categories: list[str]
    level: str
    purpose: str
    row_cap: int | None
    rows_used: int
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    state: str


class RequestOut(BaseModel):
    id: int
    deal: str
    dataset: str
    requester: str
    categories: list[str]
    level: str
    purpose: str
    duration_days: int
    row_cap: int | None
    status: str
    created_at: datetime
    decided_at: datetime | None
    required_roles: list[str]
    approvals: list[ApprovalOut]
    still_needed: list[str]
    grant: GrantOut | None


def _email(session: Session, person_id: int) -> str:
    person = session.get(Person, person_id)
    return person.email if person is not None else f"person {person_id}"


def grant_view(session: Session, grant: Grant, *, at: datetime) -> GrantOut:
    return GrantOut(
        id=grant.id,
        request_id=grant.request_id,
        person=_email(session, grant.person_id),
        dataset=grants.dataset_name(session, grant.dataset_id),
        categories=grants.split(grant.categories),
        level=grant.level,
        purpose=grant.purpose,
        row_cap=grant.row_cap,
        rows_used=grant.rows_used,
        granted_at=grant.granted_at,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
        revoke_reason=grant.revoke_reason,
        state=grant_use.grant_state(grant, at),
    )


def request_view(
    session: Session, request: AccessRequest, *, policy: Policy, at: datetime
) -> RequestOut:
    """The request with its approvals so far, the roles still needed and its grant if any."""
    deal = session.get(Deal, request.deal_id)
    grant = grant_use.grant_for(session, request=request)
    required = required_roles(policy, request)
    return RequestOut(
        id=request.id,
        deal=deal.code if deal is not None else str(request.deal_id),
        dataset=grants.dataset_name(session, request.dataset_id),
        requester=request.requester.email,
        categories=grants.split(request.categories),
        level=request.level,
        purpose=request.purpose,
        duration_days=request.duration_days,
        row_cap=request.row_cap,
        status=request.status,
        created_at=request.created_at,
        decided_at=request.decided_at,
        required_roles=list(required),
        approvals=[
            ApprovalOut(
                approver=a.approver.email,
                role=a.role,
                decision=a.decision,
                comment=a.comment,
                at=a.at,
            )
            for a in request.approvals
        ],
        still_needed=(
            grants.still_needed(request, required) if request.status == "pending" else []
        ),
        grant=grant_view(session, grant, at=at) if grant is not None else None,
    )


# -- helpers ------------------------------------------------------------------------------
def required_roles(policy: Policy, request: AccessRequest) -> tuple[str, ...]:
    """Approver roles this request needs: those fixed when it was filed, else the policy's
    (sensitive PI asks for more)."""
    if request.required_roles:
        return tuple(request.required_roles.split(","))
    roles = policy.approvals_sensitive if grants.is_sensitive(request) else policy.approvals_default
    return tuple(roles)


def _refuse(stores: AppStores, reasons: Sequence[str], event: EventIn) -> None:
    """Record a refusal (decision deny, own transaction) and raise Forbidden, if any reasons."""
    if reasons:
        enforce(stores, Decision(False, "none", tuple(reasons)), event)


def _request_objects(session: Session, req: AccessRequest) -> dict[str, str | int | None]:
    return {
        "request": req.id,
        "dataset": grants.dataset_name(session, req.dataset_id),
        "categories": req.categories,
        "level": req.level,
    }


# -- use cases ----------------------------------------------------------------------------
def request_access(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    categories: Sequence[str],
    level: str,
    purpose: str,
    duration_days: int,
    row_cap: int | None = None,
    at: datetime | None = None,
) -> RequestOut:
    """File a request; a person outside the deal is refused (and the refusal recorded)."""
    at = at or utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        base = EventIn(action="access.request", objects={"dataset": dataset})
        person, base = authorize(
            stores, s, actor=actor, action="access.request", deal=d, event=base
        )
        _refuse(stores, grants.requester_problem(s, person=person, deal=d), base)
        ds = vault.get_dataset(s, deal=d, name=dataset)
        req = grants.create_request(
            s,
            requester=person,
            deal=d,
            dataset_id=ds.id,
            categories=categories,
            level=level,
            purpose=purpose,
            duration_days=duration_days,
            row_cap=row_cap,
            at=at,
        )
        policy = active_policy(s, deal=d)
        req.required_roles = ",".join(required_roles(policy, req))
        objects = _request_objects(s, req) | {"days": duration_days, "row_cap": row_cap}
        audit(stores, uow, replace(base, objects=objects, purpose=purpose))
        return request_view(s, req, policy=policy, at=at)


def _open(s: Session, request_id: int) -> tuple[AccessRequest, Deal]:
    req = grants.get_request(s, request_id=request_id, lock=True)
    deal = s.get(Deal, req.deal_id)
    if deal is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFound(f"deal of access request {request_id} not found")
    return req, deal


def approve_request(
    stores: AppStores,
    *,
    actor: Principal,
    request_id: int,
    comment: str | None = None,
    role: str | None = None,
    at: datetime | None = None,
) -> RequestOut:
    """Add the actor's approval; the last one needed approves the request and makes the grant.

    ``access.approve`` is recorded, plus ``access.grant`` in the same commit when the grant is
    made. Self-approval and approvers outside the required roles are refused and recorded.
    """
    at = at or utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        req, deal = _open(s, request_id)
        person, base = authorize(
            stores,
            s,
            actor=actor,
            action="access.approve",
            deal=deal,
            targets_self=req.requester.email == actor.email,
            event=EventIn(action="access.approve", objects=_request_objects(s, req)),
        )
        policy = active_policy(s, deal=deal)
        required = required_roles(policy, req)
        chosen, reasons = grants.approver_role(
            s, request=req, approver=person, deal=deal, required_roles=required, role=role
        )
        _refuse(stores, reasons, base)
        approval, grant = grants.approve(
            s,
            request=req,
            approver=person,
            deal=deal,
            required_roles=required,
            at=at,
            comment=comment,
            role=chosen,
        )
        left = grants.still_needed(req, required)
        audit(
            stores,
            uow,
            replace(
                base,
                objects=_request_objects(s, req)
                | {"role": approval.role, "still_needed": ", ".join(left) or None},
            ),
        )
        if grant is not None:
            audit(
                stores,
                uow,
                replace(
                    base,
                    action="access.grant",
                    objects=_request_objects(s, req)
                    | {
                        "grant": grant.id,
                        "grantee": req.requester.email,
                        "row_cap": grant.row_cap,
                        "expires_at": grant.expires_at.isoformat(),
                        "approvers": ", ".join(a.approver.email for a in req.approvals),
                    },
                    purpose=grant.purpose,
                ),
            )
            checkpoint(stores, uow, reason=f"access grant {grant.id} made")
        return request_view(s, req, policy=policy, at=at)


def deny_request(
    stores: AppStores, *, actor: Principal, request_id: int, reason: str, at: datetime | None = None
) -> RequestOut:
    """A holder of a required role says no: the request is denied for good."""
    at = at or utcnow()
    if not reason.strip():
        raise Invalid("give a reason for the denial")
    with stores.unit_of_work() as uow:
        s = uow.records
        req, deal = _open(s, request_id)
        person, base = authorize(
            stores,
            s,
            actor=actor,
            action="access.deny",
            deal=deal,
            event=EventIn(action="access.deny", objects=_request_objects(s, req)),
        )
        policy = active_policy(s, deal=deal)
        required = required_roles(policy, req)
        _refuse(
            stores,
            grants.denier_problem(
                s, request=req, person=person, deal=deal, required_roles=required
            ),
            base,
        )
        approval = grants.deny(
            s,
            request=req,
            person=person,
            deal=deal,
            required_roles=required,
            reason=reason,
            at=at,
        )
        audit(
            stores,
            uow,
            replace(
                base,
                objects=_request_objects(s, req) | {"role": approval.role, "status": req.status},
                reasons=(reason.strip(),),
            ),
        )
        return request_view(s, req, policy=policy, at=at)


def revoke_grant(
    stores: AppStores, *, actor: Principal, grant_id: int, reason: str, at: datetime | None = None
) -> GrantOut:
    """End a grant at once (a seller steward or security officer of its deal; reason needed)."""
    at = at or utcnow()
    if not reason.strip():
        raise Invalid("give a reason for the revocation")
    with stores.unit_of_work() as uow:
        s = uow.records
        grant = grant_use.get_grant(s, grant_id=grant_id, lock=True)
        deal = s.get(Deal, grant.deal_id)
        if deal is None:  # pragma: no cover - a foreign key guarantees it
            raise NotFound(f"deal of grant {grant_id} not found")
        objects: dict[str, str | int | None] = {
            "grant": grant.id,
            "request": grant.request_id,
            "dataset": grants.dataset_name(s, grant.dataset_id),
        }
        person, base = authorize(
            stores,
            s,
            actor=actor,
            action="access.revoke",
            deal=deal,
            event=EventIn(action="access.revoke", objects=objects),
        )
        _refuse(stores, grant_use.revoker_problem(s, person=person, deal=deal), base)
        grant_use.revoke(s, grant=grant, actor=person, deal=deal, reason=reason, at=at)
        audit(
            stores,
            uow,
            replace(
                base,
                objects=objects | {"grantee": _email(s, grant.person_id)},
                reasons=(reason.strip(),),
            ),
        )
        checkpoint(stores, uow, reason=f"access grant {grant.id} revoked")
        return grant_view(s, grant, at=at)


def list_requests(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str,
    status: str | None = None,
    mine: bool = False,
) -> list[RequestOut]:
    """A deal's requests, oldest first; ``mine``: only those the actor filed. People who do
    not decide requests (no approver role in the deal) see only their own."""
    at = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        who, event = authorize(
            stores,
            s,
            actor=actor,
            action="access.read",
            deal=d,
            event=EventIn(action="access.list"),
        )
        policy = active_policy(s, deal=d)
        approver = {r.value for r in access.member_roles(s, deal=d, person=who)} & set(
            policy.approvals_sensitive
        )
        mine = mine or not approver
        out = [
            request_view(s, r, policy=policy, at=at)
            for r in grants.list_requests(s, deal=d, status=status, requester=who if mine else None)
        ]
        audit(stores, uow, event)
        return out


def show_request(stores: AppStores, *, actor: Principal, request_id: int) -> RequestOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        req, deal = _open(s, request_id)
        who, event = authorize(
            stores,
            s,
            actor=actor,
            action="access.read",
            deal=deal,
            event=EventIn(action="access.show", objects={"request": req.id}),
        )
        policy = active_policy(s, deal=deal)
        approver = {r.value for r in access.member_roles(s, deal=deal, person=who)} & set(
            policy.approvals_sensitive
        )
        if not approver and req.requester_id != who.id:
            enforce(
                stores, Decision(False, "none", ("only approvers see others' requests",)), event
            )
        out = request_view(s, req, policy=policy, at=utcnow())
        audit(stores, uow, event)
        return out
