"""Use cases for organisations, people and deals, each one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.models import Deal, Person
from dealvault.access.principal import Principal
from dealvault.access.schemas import DealOut, OrganizationOut, PersonOut
from dealvault.audit.service import EventIn
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint, person_of


def create_organization(
    stores: AppStores, *, actor: Principal, name: str, kind: str, uscc: str | None = None
) -> OrganizationOut:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="org.create",
            event=EventIn(action="org.create", objects={"organization": name, "kind": kind}),
        )
        org = access.create_organization(uow.records, name=name, kind=kind, uscc=uscc)
        audit(stores, uow, event)
        return access.organization_view(org)


def list_organizations(
    stores: AppStores, *, actor: Principal, kind: str | None = None
) -> list[OrganizationOut]:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="org.read",
            event=EventIn(action="org.list", objects={"kind": kind}),
        )
        out = [
            access.organization_view(o) for o in access.list_organizations(uow.records, kind=kind)
        ]
        audit(stores, uow, event)
        return out


def show_organization(stores: AppStores, *, actor: Principal, name: str) -> OrganizationOut:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="org.read",
            event=EventIn(action="org.show", objects={"organization": name}),
        )
        out = access.organization_view(access.get_organization(uow.records, name=name))
        audit(stores, uow, event)
        return out


def create_person(
    stores: AppStores, *, actor: Principal, email: str, name: str, organization: str
) -> PersonOut:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="person.create",
            event=EventIn(action="person.create", objects={"organization": organization}),
        )
        person = access.create_person(
            uow.records, email=email, name=name, organization=organization
        )
        audit(stores, uow, _with(event, person=person.email))
        return access.person_view(person)


def _with(event: EventIn, **objects: str | int | None) -> EventIn:
    return replace(event, objects={**event.objects, **objects})


def list_persons(
    stores: AppStores, *, actor: Principal, organization: str | None = None
) -> list[PersonOut]:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="person.read",
            event=EventIn(action="person.list", objects={"organization": organization}),
        )
        s = uow.records
        out = [access.person_view(p) for p in access.list_persons(s, organization=organization)]
        audit(stores, uow, event)
        return out


def show_person(stores: AppStores, *, actor: Principal, email: str) -> PersonOut:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="person.read",
            event=EventIn(action="person.show"),
        )
        out = access.person_view(access.get_person(uow.records, email=email))
        audit(stores, uow, _with(event, person=out.email))
        return out


def create_deal(
    stores: AppStores,
    *,
    actor: Principal,
    code: str,
    name: str,
    kind: str,
    seller: str,
    bidders: Sequence[str],
    stewards: Sequence[str] = (),
    drill: bool = False,
) -> DealOut:
    """Open a deal (operators) and name its first seller stewards (never the operator
    themself: nobody grants themselves a role). ``drill``: a deal of an incident drill."""
    with stores.unit_of_work() as uow:
        s = uow.records
        wanted = {e.strip().lower() for e in stewards}
        who, event = authorize(
            stores,
            s,
            actor=actor,
            action="deal.create",
            targets_self=actor.email in wanted,
            event=EventIn(
                action="deal.create",
                deal=code,
                objects={
                    "seller": seller,
                    "kind": kind,
                    "bidders": ", ".join(bidders),
                    "stewards": ", ".join(sorted(wanted)) or None,
                    **({"drill": "yes"} if drill else {}),
                },
            ),
        )
        deal = access.create_deal(
            s,
            code=code,
            name=name,
            kind=kind,
            seller=seller,
            bidders=bidders,
            actor=who,
            drill=drill,
        )
        for email in sorted(wanted):
            access.add_member(
                s, deal=deal, person=access.get_person(s, email=email), role="seller_steward"
            )
        audit(stores, uow, event)
        checkpoint(stores, uow, reason=f"deal {deal.code} created")
        return access.deal_view(s, deal)


def add_party(
    stores: AppStores, *, actor: Principal, deal: str, organization: str, role: str
) -> DealOut:
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal)
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="party.add",
            deal=d,
            event=EventIn(
                action="deal.add_party", objects={"organization": organization, "role": role}
            ),
        )
        access.add_party(uow.records, deal=d, organization=organization, role=role)
        audit(stores, uow, event)
        return access.deal_view(uow.records, d)


def add_member(stores: AppStores, *, actor: Principal, deal: str, email: str, role: str) -> DealOut:
    """Give a person a role in a deal: never oneself, whoever one is."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        person = access.get_person(s, email=email)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="member.add",
            deal=d,
            targets_self=person.email == actor.email,
            event=EventIn(action="deal.add_member", objects={"person": person.email, "role": role}),
        )
        access.add_member(s, deal=d, person=person, role=role)
        audit(stores, uow, event)
        checkpoint(stores, uow, reason=f"deal {deal}: {role} added")
        return access.deal_view(s, d)


def show_deal(stores: AppStores, *, actor: Principal, code: str) -> DealOut:
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=code)
        me, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="deal.read",
            deal=d,
            event=EventIn(action="deal.show"),
        )
        out = access.deal_view(uow.records, d, viewer=me)
        audit(stores, uow, event)
        return out


def list_deals(stores: AppStores, *, actor: Principal, stage: str | None = None) -> list[DealOut]:
    """Every deal for an operator; for anyone else, the deals they are a member of."""
    with stores.unit_of_work() as uow:
        s = uow.records
        me = person_of(s, actor)
        deals = access.list_deals(s, stage=stage)
        if "operator" not in access.store_roles(s, person=me):
            deals = [d for d in deals if access.member_roles(s, deal=d, person=me)]
        out: list[DealOut] = []
        for d in deals:
            _, event = authorize(
                stores,
                s,
                actor=actor,
                action="deal.read",
                deal=d,
                event=EventIn(action="deal.list"),
            )
            out.append(access.deal_view(s, d, viewer=me))
        if out:
            audit(stores, uow, _with(event, deals=len(out)))
        return out


def _stage_change(
    stores: AppStores,
    *,
    code: str,
    actor: Principal,
    action: str,
    reason: str | None,
    move: Callable[[Session, Deal, Person], object],
    winner: str | None = None,
) -> DealOut:
    """Change a deal's stage, record it and sign a checkpoint, in one transaction."""
    with stores.unit_of_work() as uow:
        s = uow.records
        deal = access.get_deal(s, code=code)
        before = deal.stage
        base = EventIn(action="deal.stage", objects={"from": before}, purpose=reason)
        who, event = authorize(stores, s, actor=actor, action=action, deal=deal, event=base)
        if winner is not None and action != "deal.winner":
            authorize(stores, s, actor=actor, action="deal.winner", deal=deal, event=base)
        move(s, deal, who)
        objects: dict[str, str | int | None] = {"from": before, "to": deal.stage}
        if winner is not None:
            objects["winner"] = winner
        audit(stores, uow, _with(event, **objects))
        checkpoint(stores, uow, reason=f"deal {code}: {before} -> {deal.stage}")
        return access.deal_view(s, deal)


def advance_deal(
    stores: AppStores,
    *,
    actor: Principal,
    code: str,
    to: str | None,
    winner: str | None,
    reason: str | None,
) -> DealOut:
    return _stage_change(
        stores,
        code=code,
        actor=actor,
        action="deal.advance",
        reason=reason,
        winner=winner,
        move=lambda s, deal, who: access.advance_deal(
            s, deal=deal, to=to, winner=winner, actor=who, reason=reason
        ),
    )


def terminate_deal(
    stores: AppStores, *, actor: Principal, code: str, reason: str | None
) -> DealOut:
    return _stage_change(
        stores,
        code=code,
        actor=actor,
        action="deal.terminate",
        reason=reason,
        move=lambda s, deal, who: access.terminate_deal(s, deal=deal, actor=who, reason=reason),
    )


def set_frozen(
    stores: AppStores, *, actor: Principal, code: str, frozen: bool, reason: str
) -> DealOut:
    """Freeze (temporary isolation: every access to the deal stops at once) or unfreeze."""
    if not reason.strip():
        raise Invalid("a reason is required to freeze or unfreeze a deal")
    with stores.unit_of_work() as uow:
        s = uow.records
        deal = access.get_deal(s, code=code)
        action = "deal.freeze" if frozen else "deal.unfreeze"
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action=action,
            deal=deal,
            event=EventIn(action=action, purpose=reason, objects={"stage": deal.stage}),
        )
        apply_freeze(stores, uow, deal=deal, frozen=frozen, event=event)
        return access.deal_view(s, deal)


def apply_freeze(
    stores: AppStores, uow: UnitOfWork, *, deal: Deal, frozen: bool, event: EventIn
) -> None:
    """The change behind a freeze or unfreeze, once decided: the flag, its audit event and a
    signed checkpoint, in the caller's transaction (``set_frozen``, and the monitor freezing a
    deal on a critical alert). Conflict when the deal already is so."""
    code = deal.code
    if deal.frozen == frozen:
        raise Conflict(f"deal {code} is already {'frozen' if frozen else 'not frozen'}")
    deal.frozen = frozen
    uow.records.flush()
    audit(stores, uow, event)
    checkpoint(stores, uow, reason=f"deal {code} {'frozen' if frozen else 'unfrozen'}")
