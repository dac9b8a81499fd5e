"""Use cases of the store as a whole: the first operator, store roles, who is acting."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.actions import StoreRole
from dealvault.access.decision import Decision
from dealvault.access.models import Organization, Person, StoreInfo, StoreRoleGrant
from dealvault.access.principal import Authn, Principal
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint, enforce


class OperatorIn(BaseModel):
    """The first operator of a new store and the organisation that runs it."""

    email: str
    name: str
    organization: str
    organization_kind: str = "seller"


class StoreRoleOut(BaseModel):
    person: str
    organization: str
    role: str
    granted_by: str | None
    granted_at: str


class StoreInfoOut(BaseModel):
    operator_organization: str
    trial: bool
    roles: list[StoreRoleOut]


def bootstrap(stores: AppStores, *, operator: OperatorIn, trial: bool) -> Principal:
    """Record the first operator of a store that has none (``init``): the organisation that
    runs the store, the operator's account and role, and the trial flag. Conflict once a
    store has an operator: later operators are granted by an operator."""
    with stores.unit_of_work() as uow:
        s = uow.records
        if s.scalar(select(StoreInfo)) is not None:
            raise Conflict("this store already has its operator; grant more with 'store grant'")
        org = s.scalar(select(Organization).where(Organization.name == operator.organization))
        if org is None:
            org = access.create_organization(
                s, name=operator.organization, kind=operator.organization_kind
            )
        try:
            person = access.get_person(s, email=operator.email)
        except NotFound:
            person = access.create_person(
                s, email=operator.email, name=operator.name, organization=org.name
            )
        if person.organization_id != org.id:
            raise Invalid("the first operator must belong to the organisation that runs the store")
        s.add(StoreInfo(operator_organization_id=org.id, trial=trial))
        s.add(StoreRoleGrant(person_id=person.id, role=StoreRole.OPERATOR.value))
        s.flush()
        audit(
            stores,
            uow,
            EventIn(
                action="store.operator",
                actor=person.email,
                authn=Authn.LOCAL.value,
                decision="allow",
                reasons=("the first operator of a new store",),
                objects={"organization": org.name, "trial": "yes" if trial else "no"},
            ),
        )
        checkpoint(stores, uow, reason="first operator recorded")
        return Principal(email=person.email, authn=Authn.LOCAL)


def cli_principal(stores: AppStores, *, email: str | None) -> Principal:
    """Who acts at the local CLI (operator mode: the holder of the master key).

    ``email`` (``--as`` / ``DEALVAULT_ACTOR``) names the person; without it, the store's only
    operator. A person of the organisation that runs the store is ``local``; anyone else is
    ``asserted`` (nobody proved who they are), which every event they cause records.
    """
    with stores.records_session() as s:
        info = s.scalar(select(StoreInfo))
        if info is None:
            raise Invalid(
                "this store has no operator yet: run 'dealvault init --operator EMAIL "
                "--operator-name NAME --org ORGANISATION'"
            )
        if email is None:
            ops = list(
                s.scalars(
                    select(Person)
                    .join(StoreRoleGrant, StoreRoleGrant.person_id == Person.id)
                    .where(
                        StoreRoleGrant.role == StoreRole.OPERATOR.value,
                        StoreRoleGrant.revoked_at.is_(None),
                    )
                )
            )
            if len(ops) != 1:
                raise Invalid("who is acting? pass --as EMAIL or set DEALVAULT_ACTOR")
            return Principal(email=ops[0].email, authn=Authn.LOCAL)
        try:
            person = access.get_person(s, email=email)
        except NotFound:
            person = None
        if person is not None:
            if person.organization_id == info.operator_organization_id:
                return Principal(email=person.email, authn=Authn.LOCAL)
            if info.trial:
                return Principal(email=person.email, authn=Authn.ASSERTED)
            refused = Principal(email=person.email, authn=Authn.ASSERTED)
            why = (
                f"{person.email} is a person of another organisation: outside a trial store "
                "they act only through their own signed-in session (dealvault login --server "
                "URL), never by --as at the operator's command line"
            )
        else:
            refused = None
    if refused is not None:
        enforce(
            stores,
            Decision(False, "none", (why,)),
            EventIn(action="identity", actor=refused.email, authn=refused.authn.value),
        )
    claimed = Principal(email=email.strip().lower(), authn=Authn.ASSERTED)
    enforce(
        stores,
        Decision(
            False,
            "none",
            ("the acting person is not registered in this store (check --as / DEALVAULT_ACTOR)",),
        ),
        EventIn(action="identity", actor=claimed.email, authn=claimed.authn.value),
    )
    raise Forbidden("access denied", code="denied")  # pragma: no cover - enforce() raised


def _role(value: str) -> StoreRole:
    try:
        return StoreRole(value)
    except ValueError:
        names = ", ".join(r.value for r in StoreRole)
        raise Invalid(f"unknown store role {value!r}; choose one of: {names}") from None


def grant_role(stores: AppStores, *, actor: Principal, email: str, role: str) -> StoreRoleOut:
    """An operator grants a store role to another person (operators: only people of the
    organisation that runs the store)."""
    r = _role(role)
    with stores.unit_of_work() as uow:
        s = uow.records
        target = access.get_person(s, email=email)
        who, event = authorize(
            stores,
            s,
            actor=actor,
            action="store_role.grant",
            targets_self=target.email == actor.email,
            event=EventIn(action="store.role_grant", objects={"person": target.email, "role": r}),
        )
        info = s.scalar(select(StoreInfo))
        if r is StoreRole.OPERATOR and (
            info is None or target.organization_id != info.operator_organization_id
        ):
            raise Invalid("operators are people of the organisation that runs the store")
        if r.value in access.store_roles(s, person=target):
            raise Conflict(f"{target.email} already holds the store role {r.value}")
        grant = StoreRoleGrant(person_id=target.id, role=r.value, granted_by_id=who.id)
        s.add(grant)
        s.flush()
        audit(stores, uow, event)
        checkpoint(stores, uow, reason=f"store role {r.value} granted")
        return _role_view(s, grant)


def revoke_role(stores: AppStores, *, actor: Principal, email: str, role: str) -> StoreRoleOut:
    """An operator revokes a store role; the last operator cannot be revoked."""
    r = _role(role)
    with stores.unit_of_work() as uow:
        s = uow.records
        target = access.get_person(s, email=email)
        who, event = authorize(
            stores,
            s,
            actor=actor,
            action="store_role.revoke",
            event=EventIn(action="store.role_revoke", objects={"person": target.email, "role": r}),
        )
        grant = s.scalar(
            select(StoreRoleGrant).where(
                StoreRoleGrant.person_id == target.id,
                StoreRoleGrant.role == r.value,
                StoreRoleGrant.revoked_at.is_(None),
            )
        )
        if grant is None:
            raise NotFound(f"{target.email} holds no store role {r.value}")
        if r is StoreRole.OPERATOR and len(_holders(s, StoreRole.OPERATOR)) == 1:
            raise Conflict("the store's last operator cannot be revoked")
        grant.revoked_at = utcnow()
        grant.revoked_by_id = who.id
        s.flush()
        audit(stores, uow, event)
        checkpoint(stores, uow, reason=f"store role {r.value} revoked")
        return _role_view(s, grant)


def show_store(stores: AppStores, *, actor: Principal) -> StoreInfoOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        _, event = authorize(
            stores, s, actor=actor, action="store.show", event=EventIn(action="store.show")
        )
        info = s.scalar(select(StoreInfo))
        if info is None:
            raise NotFound("this store has no operator yet")
        org = s.get(Organization, info.operator_organization_id)
        assert org is not None
        grants = s.scalars(
            select(StoreRoleGrant)
            .where(StoreRoleGrant.revoked_at.is_(None))
            .order_by(StoreRoleGrant.id)
        )
        out = StoreInfoOut(
            operator_organization=org.name,
            trial=info.trial,
            roles=[_role_view(s, g) for g in grants],
        )
        audit(stores, uow, event)
        return out


def is_trial(stores: AppStores) -> bool:
    """Whether this store was created as a single-machine trial (reports say so)."""
    with stores.records_session() as s:
        info = s.scalar(select(StoreInfo))
        return bool(info is not None and info.trial)


def _holders(s: Session, role: StoreRole) -> list[int]:
    return list(
        s.scalars(
            select(StoreRoleGrant.person_id).where(
                StoreRoleGrant.role == role.value, StoreRoleGrant.revoked_at.is_(None)
            )
        )
    )


def _role_view(s: Session, g: StoreRoleGrant) -> StoreRoleOut:
    person = s.get(Person, g.person_id)
    assert person is not None
    by = s.get(Person, g.granted_by_id) if g.granted_by_id else None
    return StoreRoleOut(
        person=person.email,
        organization=person.organization.name,
        role=g.role,
        granted_by=by.email if by else None,
        granted_at=g.granted_at.isoformat(),
    )
