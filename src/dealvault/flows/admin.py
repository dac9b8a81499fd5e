"""Use cases for organisations, people and deals, each one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision
from dealvault.access.models import Deal, Person
from dealvault.access.schemas import DealOut, OrganizationOut, PersonOut
from dealvault.access.stages import MemberRole
from dealvault.audit.service import EventIn
from dealvault.errors import Conflict, Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, checkpoint, enforce


def create_organization(
    stores: AppStores, *, name: str, kind: str, uscc: str | None = None, actor: str | None = None
) -> OrganizationOut:
    with stores.unit_of_work() as uow:
        org = access.create_organization(uow.records, name=name, kind=kind, uscc=uscc)
        audit(
            stores,
            uow,
            EventIn(
                action="org.create",
                actor=actor,
                objects={"organization": org.name, "kind": org.kind},
            ),
        )
        return access.organization_view(org)


def list_organizations(stores: AppStores, *, kind: str | None = None) -> list[OrganizationOut]:
    with stores.records_session() as s:
        return [access.organization_view(o) for o in access.list_organizations(s, kind=kind)]


def show_organization(stores: AppStores, *, name: str) -> OrganizationOut:
    with stores.records_session() as s:
        return access.organization_view(access.get_organization(s, name=name))


def create_person(
    stores: AppStores, *, email: str, name: str, organization: str, actor: str | None = None
) -> PersonOut:
    with stores.unit_of_work() as uow:
        person = access.create_person(
            uow.records, email=email, name=name, organization=organization
        )
        audit(
            stores,
            uow,
            EventIn(
                action="person.create",
                actor=actor,
                objects={"person": person.email, "organization": organization},
            ),
        )
        return access.person_view(person)


def list_persons(stores: AppStores, *, organization: str | None = None) -> list[PersonOut]:
    with stores.records_session() as s:
        return [access.person_view(p) for p in access.list_persons(s, organization=organization)]


def show_person(stores: AppStores, *, email: str) -> PersonOut:
    with stores.records_session() as s:
        return access.person_view(access.get_person(s, email=email))


def create_deal(
    stores: AppStores,
    *,
    code: str,
    name: str,
    kind: str,
    seller: str,
    bidders: Sequence[str],
    actor: str | None,
) -> DealOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        who = access.get_person(s, email=actor) if actor else None
        deal = access.create_deal(
            s, code=code, name=name, kind=kind, seller=seller, bidders=bidders, actor=who
        )
        audit(
            stores,
            uow,
            EventIn(
                action="deal.create",
                actor=actor,
                deal=deal.code,
                objects={"seller": seller, "kind": deal.kind, "bidders": ", ".join(bidders)},
            ),
        )
        checkpoint(stores, uow, reason=f"deal {deal.code} created")
        return access.deal_view(s, deal)


def add_party(
    stores: AppStores, *, deal: str, organization: str, role: str, actor: str | None = None
) -> DealOut:
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal)
        access.add_party(uow.records, deal=d, organization=organization, role=role)
        audit(
            stores,
            uow,
            EventIn(
                action="deal.add_party",
                actor=actor,
                deal=deal,
                objects={"organization": organization, "role": role},
            ),
        )
        return access.deal_view(uow.records, d)


def add_member(
    stores: AppStores, *, deal: str, email: str, role: str, actor: str | None = None
) -> DealOut:
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal)
        person = access.get_person(uow.records, email=email)
        access.add_member(uow.records, deal=d, person=person, role=role)
        audit(
            stores,
            uow,
            EventIn(
                action="deal.add_member",
                actor=actor,
                deal=deal,
                objects={"person": person.email, "role": role},
            ),
        )
        return access.deal_view(uow.records, d)


def show_deal(stores: AppStores, *, code: str) -> DealOut:
    with stores.records_session() as s:
        return access.deal_view(s, access.get_deal(s, code=code))


def list_deals(stores: AppStores, *, stage: str | None = None) -> list[DealOut]:
    with stores.records_session() as s:
        return [access.deal_view(s, d) for d in access.list_deals(s, stage=stage)]


def _stage_change(
    stores: AppStores,
    *,
    code: str,
    actor: str | None,
    reason: str | None,
    move: Callable[[Session, Deal, Person | None], object],
    winner: str | None = None,
) -> DealOut:
    """Change a deal's stage, record it and sign a checkpoint, in one transaction."""
    with stores.unit_of_work() as uow:
        s = uow.records
        who = access.get_person(s, email=actor) if actor else None
        deal = access.get_deal(s, code=code)
        before = deal.stage
        move(s, deal, who)
        objects: dict[str, str | int | None] = {"from": before, "to": deal.stage}
        if winner is not None:
            objects["winner"] = winner
        audit(
            stores,
            uow,
            EventIn(action="deal.stage", actor=actor, deal=code, objects=objects, purpose=reason),
        )
        checkpoint(stores, uow, reason=f"deal {code}: {before} -> {deal.stage}")
        return access.deal_view(s, deal)


def advance_deal(
    stores: AppStores,
    *,
    code: str,
    to: str | None,
    winner: str | None,
    actor: str | None,
    reason: str | None,
) -> DealOut:
    return _stage_change(
        stores,
        code=code,
        actor=actor,
        reason=reason,
        winner=winner,
        move=lambda s, deal, who: access.advance_deal(
            s, deal=deal, to=to, winner=winner, actor=who, reason=reason
        ),
    )


def terminate_deal(
    stores: AppStores, *, code: str, actor: str | None, reason: str | None
) -> DealOut:
    return _stage_change(
        stores,
        code=code,
        actor=actor,
        reason=reason,
        move=lambda s, deal, who: access.terminate_deal(s, deal=deal, actor=who, reason=reason),
    )


#: Who may isolate a deal (and lift the isolation): the seller's stewards and security officers.
FREEZE_ROLES = frozenset({MemberRole.SELLER_STEWARD, MemberRole.SECURITY_OFFICER})


def set_frozen(stores: AppStores, *, code: str, actor: str, frozen: bool, reason: str) -> DealOut:
    """Freeze (temporary isolation: every access to the deal stops at once) or unfreeze."""
    if not reason.strip():
        raise Invalid("a reason is required to freeze or unfreeze a deal")
    with stores.unit_of_work() as uow:
        s = uow.records
        person = access.get_person(s, email=actor)
        deal = access.get_deal(s, code=code)
        action = "deal.freeze" if frozen else "deal.unfreeze"
        event = EventIn(action=action, actor=person.email, deal=code, purpose=reason,
                        objects={"stage": deal.stage})  # fmt: skip
        roles = access.member_roles(s, deal=deal, person=person)
        allowed = bool(roles & FREEZE_ROLES)
        decision = Decision(
            allowed,
            "none",
            ("may isolate the deal",)
            if allowed
            else (f"only a seller steward or security officer of {code} may do this",),
        )
        enforce(stores, decision, event)
        if deal.frozen == frozen:
            raise Conflict(f"deal {code} is already {'frozen' if frozen else 'not frozen'}")
        deal.frozen = frozen
        s.flush()
        audit(stores, uow, replace(event, decision="allow"))
        checkpoint(stores, uow, reason=f"deal {code} {'frozen' if frozen else 'unfrozen'}")
        return access.deal_view(s, deal)
