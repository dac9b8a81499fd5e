"""Use cases of the access domain: organisations, people, deals, parties, memberships, stages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import uscc as std_uscc

from dealvault.access.models import (
    Deal,
    DealParty,
    Membership,
    Organization,
    Person,
    StageChange,
    StoreRoleGrant,
)
from dealvault.access.schemas import (
    DealOut,
    MemberOut,
    OrganizationOut,
    PartyOut,
    PersonOut,
    StageChangeOut,
)
from dealvault.access.stages import (
    DealKind,
    MemberRole,
    OrgKind,
    PartyRole,
    Stage,
    check_transition,
    next_stage,
)
from dealvault.db.base import utcnow
from dealvault.db.memo import recall
from dealvault.errors import Conflict, Invalid, NotFound

E = TypeVar("E", bound=StrEnum)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

#: Which deal party an organisation must be to hold a membership role.
ROLE_PARTIES: dict[MemberRole, frozenset[PartyRole]] = {
    MemberRole.SELLER_STEWARD: frozenset({PartyRole.SELLER}),
    MemberRole.SECURITY_OFFICER: frozenset({PartyRole.SELLER}),
    MemberRole.BIDDER_BUSINESS: frozenset({PartyRole.BIDDER}),
    MemberRole.BIDDER_CLEAN_TEAM: frozenset({PartyRole.BIDDER}),
    MemberRole.BUYER_RECEIVER: frozenset({PartyRole.BIDDER}),
    MemberRole.COUNSEL: frozenset({PartyRole.COUNSEL, PartyRole.SELLER, PartyRole.BIDDER}),
    MemberRole.INTERMEDIARY: frozenset({PartyRole.INTERMEDIARY}),
    MemberRole.AUDITOR: frozenset({PartyRole.AUDITOR}),
}


def _enum(kind: type[E], value: str, what: str) -> E:
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(m.value for m in kind)
        raise Invalid(f"unknown {what} {value!r}; choose one of: {names}") from None


# -- organisations ---------------------------------------------------------------------
def create_organization(
    session: Session, *, name: str, kind: str, uscc: str | None = None
) -> Organization:
    org_kind = _enum(OrgKind, kind, "organisation kind")
    name = name.strip()
    if not name:
        raise Invalid("organisation name must not be empty")
    if uscc is not None:
        if not std_uscc.is_valid(uscc):
            raise Invalid("unified social credit code is not valid (GB 32100 checksum)")
        uscc = std_uscc.compact(uscc)
    if session.scalar(select(Organization).where(Organization.name == name)) is not None:
        raise Conflict(f"organisation {name!r} already exists")
    org = Organization(name=name, kind=org_kind.value, uscc=uscc)
    session.add(org)
    session.flush()
    return org


def get_organization(session: Session, *, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None and name.isdigit():
        org = session.get(Organization, int(name))
    if org is None:
        raise NotFound(f"organisation {name!r} not found")
    return org


def list_organizations(session: Session, *, kind: str | None = None) -> list[Organization]:
    q = select(Organization).order_by(Organization.id)
    if kind is not None:
        q = q.where(Organization.kind == _enum(OrgKind, kind, "organisation kind").value)
    return list(session.scalars(q))


def organization_view(org: Organization) -> OrganizationOut:
    return OrganizationOut.model_validate(org)


# -- people ------------------------------------------------------------------------------
def create_person(session: Session, *, email: str, name: str, organization: str) -> Person:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise Invalid("e-mail address is not valid")
    org = get_organization(session, name=organization)
    if session.scalar(select(Person).where(Person.email == email)) is not None:
        raise Conflict("a person with this e-mail already exists")
    person = Person(email=email, name=name.strip(), organization_id=org.id)
    session.add(person)
    session.flush()
    return person


def get_person(session: Session, *, email: str) -> Person:
    person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None:
        raise NotFound("person not found (check the e-mail address)")
    return person


def emails_by_id(session: Session, *, ids: Iterable[int | None]) -> dict[int, str]:
    """The e-mail of each person id given (None ids are skipped; one query)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Person.id, Person.email).where(Person.id.in_(wanted))).all())


def list_persons(session: Session, *, organization: str | None = None) -> list[Person]:
    q = select(Person).order_by(Person.id)
    if organization is not None:
        q = q.where(Person.organization_id == get_organization(session, name=organization).id)
    return list(session.scalars(q))


def person_view(person: Person) -> PersonOut:
    return PersonOut(
        id=person.id,
        email=person.email,
        name=person.name,
        organization=person.organization.name,
        created_at=person.created_at,
    )


# -- deals -------------------------------------------------------------------------------
def create_deal(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str,
    seller: str,
    bidders: Sequence[str] = (),
    actor: Person | None = None,
    drill: bool = False,
) -> Deal:
    if not _CODE.match(code):
        raise Invalid("deal code must be lower-case letters, digits, '.', '_' or '-' (max 64)")
    deal_kind = _enum(DealKind, kind, "deal kind")
    if session.scalar(select(Deal).where(Deal.code == code)) is not None:
        raise Conflict(f"deal {code!r} already exists")
    seller_org = get_organization(session, name=seller)
    deal = Deal(
        code=code, name=name, kind=deal_kind.value, stage=Stage.PREPARATION.value, drill=drill
    )
    session.add(deal)
    session.flush()
    session.add(DealParty(deal_id=deal.id, organization_id=seller_org.id, role=PartyRole.SELLER))
    session.add(
        StageChange(
            deal_id=deal.id,
            from_stage=None,
            to_stage=Stage.PREPARATION,
            actor_id=actor.id if actor else None,
        )
    )
    session.flush()
    for bidder in bidders:
        add_party(session, deal=deal, organization=bidder, role=PartyRole.BIDDER.value)
    session.refresh(deal)
    return deal


def get_deal(session: Session, *, code: str) -> Deal:
    deal = session.scalar(select(Deal).where(Deal.code == code))
    if deal is None:
        raise NotFound(f"deal {code!r} not found")
    return deal


def list_deals(session: Session, *, stage: str | None = None) -> list[Deal]:
    q = select(Deal).order_by(Deal.id)
    if stage is not None:
        q = q.where(Deal.stage == _enum(Stage, stage, "stage").value)
    return list(session.scalars(q))


def add_party(session: Session, *, deal: Deal, organization: str, role: str) -> DealParty:
    party_role = _enum(PartyRole, role, "party role")
    if party_role is PartyRole.SELLER:
        raise Invalid("a deal has exactly one seller, set when it is created")
    if Stage(deal.stage) in (Stage.CLOSING, Stage.POST_CLOSING, Stage.TERMINATED):
        raise Conflict(f"no new parties at stage {deal.stage}")
    org = get_organization(session, name=organization)
    if any(p.organization_id == org.id for p in deal.parties):
        raise Conflict(f"organisation {org.name!r} is already a party to deal {deal.code!r}")
    party = DealParty(deal_id=deal.id, organization_id=org.id, role=party_role.value)
    session.add(party)
    session.flush()
    session.refresh(deal)
    return party


def party_of(deal: Deal, organization_id: int) -> DealParty | None:
    return next((p for p in deal.parties if p.organization_id == organization_id), None)


def add_member(session: Session, *, deal: Deal, person: Person, role: str) -> Membership:
    member_role = _enum(MemberRole, role, "member role")
    party = party_of(deal, person.organization_id)
    if party is None:
        raise Invalid(
            f"{person.organization.name!r} is not a party to deal {deal.code!r}; add it first"
        )
    if PartyRole(party.role) not in ROLE_PARTIES[member_role]:
        allowed = ", ".join(sorted(r.value for r in ROLE_PARTIES[member_role]))
        raise Invalid(f"role {member_role.value} needs a member of a {allowed} party")
    exists = session.scalar(
        select(Membership).where(
            Membership.deal_id == deal.id,
            Membership.person_id == person.id,
            Membership.role == member_role.value,
        )
    )
    if exists is not None:
        raise Conflict("this person already has this role in the deal")
    m = Membership(deal_id=deal.id, person_id=person.id, role=member_role.value)
    session.add(m)
    session.flush()
    return m


def member_roles(session: Session, *, deal: Deal, person: Person) -> set[MemberRole]:
    def load() -> frozenset[MemberRole]:
        rows = session.scalars(
            select(Membership.role).where(
                Membership.deal_id == deal.id, Membership.person_id == person.id
            )
        )
        return frozenset(MemberRole(r) for r in rows)

    return set(recall(session, ("member_roles", deal.id, person.id), load))


def store_roles(session: Session, *, person: Person) -> set[str]:
    """The store-wide roles ``person`` holds now (operator, training admin)."""

    def load() -> frozenset[str]:
        rows = session.scalars(
            select(StoreRoleGrant.role).where(
                StoreRoleGrant.person_id == person.id, StoreRoleGrant.revoked_at.is_(None)
            )
        )
        return frozenset(rows)

    return set(recall(session, ("store_roles", person.id), load))


def _change_stage(
    session: Session, *, deal: Deal, target: Stage, actor: Person | None, reason: str | None
) -> None:
    current = Stage(deal.stage)
    check_transition(current, target)
    deal.stage = target.value
    deal.updated_at = utcnow()
    session.add(
        StageChange(
            deal_id=deal.id,
            from_stage=current.value,
            to_stage=target.value,
            actor_id=actor.id if actor else None,
            reason=reason,
        )
    )
    session.flush()


def advance_deal(
    session: Session,
    *,
    deal: Deal,
    to: str | None = None,
    winner: str | None = None,
    actor: Person | None = None,
    reason: str | None = None,
) -> Deal:
    """Move a deal forward. Closing needs a winning bidder (``winner`` or set before)."""
    target = next_stage(Stage(deal.stage)) if to is None else _enum(Stage, to, "stage")
    if target is Stage.TERMINATED:
        raise Invalid("use 'deal terminate' to end a deal")
    if winner is not None:
        org = get_organization(session, name=winner)
        party = party_of(deal, org.id)
        if party is None or party.role != PartyRole.BIDDER or party.withdrawn:
            raise Invalid(f"{org.name!r} is not an active bidder in deal {deal.code!r}")
        for p in deal.parties:
            p.is_winner = p.id == party.id
    if target in (Stage.CLOSING, Stage.POST_CLOSING) and not any(p.is_winner for p in deal.parties):
        check_transition(Stage(deal.stage), target)
        raise Conflict("closing needs a winning bidder: pass --winner ORGANISATION")
    _change_stage(session, deal=deal, target=target, actor=actor, reason=reason)
    return deal


def terminate_deal(
    session: Session, *, deal: Deal, actor: Person | None = None, reason: str | None = None
) -> Deal:
    _change_stage(session, deal=deal, target=Stage.TERMINATED, actor=actor, reason=reason)
    return deal


#: the roles of a bidder's people (the buyer's receivers included)
BIDDER_SIDE = frozenset(
    {MemberRole.BIDDER_BUSINESS, MemberRole.BIDDER_CLEAN_TEAM, MemberRole.BUYER_RECEIVER}
)


def visible_organizations(session: Session, *, deal: Deal, viewer: Person) -> set[int] | None:
    """Whose members ``viewer`` may see in ``deal``: None for everyone's (the operator, the
    seller's people, counsel, auditors); for a bidder's person, the seller's organisation
    and their own only (bidders never learn who works for a competitor)."""
    if "operator" in store_roles(session, person=viewer):
        return None
    bidder_orgs = {p.organization_id for p in deal.parties if p.role == PartyRole.BIDDER.value}
    roles = member_roles(session, deal=deal, person=viewer)
    if viewer.organization_id not in bidder_orgs and not (roles and roles <= BIDDER_SIDE):
        return None
    sellers = {p.organization_id for p in deal.parties if p.role == PartyRole.SELLER.value}
    return sellers | {viewer.organization_id}


def deal_view(session: Session, deal: Deal, *, viewer: Person | None = None) -> DealOut:
    """The deal as ``viewer`` may see it (None: everything, for the operator's CLI lists)."""
    members = session.scalars(
        select(Membership).where(Membership.deal_id == deal.id).order_by(Membership.id)
    ).all()
    orgs = None if viewer is None else visible_organizations(session, deal=deal, viewer=viewer)
    if orgs is not None:
        members = [m for m in members if m.person.organization_id in orgs]
    history = session.scalars(
        select(StageChange).where(StageChange.deal_id == deal.id).order_by(StageChange.id)
    ).all()
    actors = {
        p.id: p.email
        for p in session.scalars(
            select(Person).where(Person.id.in_({h.actor_id for h in history if h.actor_id}))
        )
    }
    return DealOut(
        id=deal.id,
        code=deal.code,
        name=deal.name,
        kind=deal.kind,
        stage=deal.stage,
        frozen=deal.frozen,
        drill=bool(deal.drill),
        created_at=deal.created_at,
        updated_at=deal.updated_at,
        parties=[
            PartyOut(
                organization=p.organization.name,
                role=p.role,
                is_winner=p.is_winner,
                withdrawn=p.withdrawn,
            )
            for p in deal.parties
        ],
        members=[
            MemberOut(person=m.person.email, organization=m.person.organization.name, role=m.role)
            for m in members
        ],
        history=[
            StageChangeOut(
                from_stage=h.from_stage,
                to_stage=h.to_stage,
                actor=actors.get(h.actor_id) if h.actor_id else None,
                reason=h.reason,
                at=h.at,
            )
            for h in history
        ],
    )
