"""Use cases for organisations, people and deals, each committed as one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from dealvault.access import service as access
from dealvault.access.schemas import DealOut, OrganizationOut, PersonOut
from dealvault.db.stores import Stores


def create_organization(
    stores: Stores, *, name: str, kind: str, uscc: str | None = None
) -> OrganizationOut:
    with stores.unit_of_work() as uow:
        return access.organization_view(
            access.create_organization(uow.records, name=name, kind=kind, uscc=uscc)
        )


def list_organizations(stores: Stores, *, kind: str | None = None) -> list[OrganizationOut]:
    with stores.records_session() as s:
        return [access.organization_view(o) for o in access.list_organizations(s, kind=kind)]


def show_organization(stores: Stores, *, name: str) -> OrganizationOut:
    with stores.records_session() as s:
        return access.organization_view(access.get_organization(s, name=name))


def create_person(stores: Stores, *, email: str, name: str, organization: str) -> PersonOut:
    with stores.unit_of_work() as uow:
        return access.person_view(
            access.create_person(uow.records, email=email, name=name, organization=organization)
        )


def list_persons(stores: Stores, *, organization: str | None = None) -> list[PersonOut]:
    with stores.records_session() as s:
        return [access.person_view(p) for p in access.list_persons(s, organization=organization)]


def show_person(stores: Stores, *, email: str) -> PersonOut:
    with stores.records_session() as s:
        return access.person_view(access.get_person(s, email=email))


def create_deal(
    stores: Stores,
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
        return access.deal_view(s, deal)


def add_party(stores: Stores, *, deal: str, organization: str, role: str) -> DealOut:
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal)
        access.add_party(uow.records, deal=d, organization=organization, role=role)
        return access.deal_view(uow.records, d)


def add_member(stores: Stores, *, deal: str, email: str, role: str) -> DealOut:
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal)
        person = access.get_person(uow.records, email=email)
        access.add_member(uow.records, deal=d, person=person, role=role)
        return access.deal_view(uow.records, d)


def show_deal(stores: Stores, *, code: str) -> DealOut:
    with stores.records_session() as s:
        return access.deal_view(s, access.get_deal(s, code=code))


def list_deals(stores: Stores, *, stage: str | None = None) -> list[DealOut]:
    with stores.records_session() as s:
        return [access.deal_view(s, d) for d in access.list_deals(s, stage=stage)]


def advance_deal(
    stores: Stores,
    *,
    code: str,
    to: str | None,
    winner: str | None,
    actor: str | None,
    reason: str | None,
) -> DealOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        who = access.get_person(s, email=actor) if actor else None
        deal = access.get_deal(s, code=code)
        access.advance_deal(s, deal=deal, to=to, winner=winner, actor=who, reason=reason)
        return access.deal_view(s, deal)


def terminate_deal(stores: Stores, *, code: str, actor: str | None, reason: str | None) -> DealOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        who = access.get_person(s, email=actor) if actor else None
        deal = access.get_deal(s, code=code)
        access.terminate_deal(s, deal=deal, actor=who, reason=reason)
        return access.deal_view(s, deal)
