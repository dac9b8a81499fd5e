"""Entering a deal's pages: the deal as the person may see it, their roles in it, and what
stands before its content (click-through agreements awaiting their acceptance, missing
confidentiality training). Decided as ``deal.read``."""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel

from dealvault.access import acceptance as acc
from dealvault.access import service as access
from dealvault.access.acceptance import MyAgreementOut
from dealvault.access.policy import active_policy
from dealvault.access.principal import Principal
from dealvault.access.schemas import DealOut
from dealvault.access.training import training_problem
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.vault.service import list_datasets


class EntryOut(BaseModel):
    deal: DealOut
    #: the names of the deal's datasets (metadata)
    datasets: list[str]
    #: the acting person's roles in the deal (seller_steward, bidder_clean_team, …)
    roles: list[str]
    #: click-through agreements of the person's organisation awaiting their acceptance
    awaiting: list[MyAgreementOut]
    #: the course the deal's policy requires above metadata, and why the person's training
    #: does not count (None: it does)
    training_course: str
    training_problem: str | None


def enter_deal(stores: AppStores, *, actor: Principal, deal: str) -> EntryOut:
    """What a member's first look at a deal shows, and what they must do before more."""
    at = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        person, event = authorize(
            stores, s, actor=actor, action="deal.read", deal=d,
            event=EventIn(action="deal.enter"),
        )  # fmt: skip
        roles = sorted(r.value for r in access.member_roles(s, deal=d, person=person))
        awaiting = [
            view
            for a in acc.click_agreements(s, deal=d, organization_id=person.organization_id)
            if (view := acc.my_view(a, deal=d, person=person, at=at)).awaiting
        ]
        course = active_policy(s, deal=d).training_course
        out = EntryOut(
            deal=access.deal_view(s, d, viewer=person),
            datasets=[ds.name for ds in list_datasets(s, deal=d)],
            roles=roles,
            awaiting=awaiting,
            training_course=course,
            training_problem=training_problem(s, person=person, course=course, at=at),
        )
        counts = {"awaiting": len(awaiting), "training_missing": int(bool(out.training_problem))}
        audit(stores, uow, replace(event, counts=counts))
        return out
