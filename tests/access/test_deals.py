"""Organisations, people, deals: the stage machine, parties, memberships."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from dealvault.access.stages import TRANSITIONS, Stage, check_transition, next_stage
from dealvault.audit.models import AuditEvent
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.flows import admin
from dealvault.flows.context import AppStores
from tests.conftest import OP, SELLER, STEWARD, TRAINER, P, World, start_store

S = P(STEWARD)  # stage changes are the seller steward's


def test_happy_path_to_post_closing(stores: AppStores, world: World) -> None:
    d = admin.advance_deal(
        stores, code=world.deal, to=None, winner=None, actor=P(world.steward), reason="teaser out"
    )
    assert d.stage == "due_diligence"
    d = admin.advance_deal(
        stores, code=world.deal, to="clean_team", winner=None, actor=S, reason=None
    )
    d = admin.advance_deal(
        stores, code=world.deal, to=None, winner="Bidder A", actor=S, reason=None
    )
    assert d.stage == "signing"
    assert [p.organization for p in d.parties if p.is_winner] == ["Bidder A"]
    d = admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=S, reason=None)
    d = admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=S, reason=None)
    assert d.stage == "post_closing"
    assert [h.to_stage for h in d.history] == [
        "preparation",
        "due_diligence",
        "clean_team",
        "signing",
        "closing",
        "post_closing",
    ]
    assert d.history[1].actor == world.steward and d.history[1].reason == "teaser out"
    # post_closing is the last stage: the policy allows no advance from it at all
    with pytest.raises(Forbidden, match=r"deal\.advance is not possible at stage post_closing"):
        admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=S, reason=None)
    with pytest.raises(Conflict, match="cannot advance"):
        next_stage(Stage.POST_CLOSING)
    decision, actor, reasons = _last(stores, "deal.stage")
    assert (decision, actor) == ("deny", world.steward)
    assert "deal.advance is not possible at stage post_closing" in reasons


def test_only_a_seller_steward_changes_the_stage(stores: AppStores, world: World) -> None:
    """A bidder's analyst, the operator and a training administrator may neither advance
    nor terminate a deal; each refusal is recorded with its reason."""
    for who in (world.bidder_person, world.operator, world.trainer):
        with pytest.raises(
            Forbidden, match=r"deal\.advance needs one of the roles: seller_steward"
        ):
            admin.advance_deal(
                stores, code=world.deal, to=None, winner=None, actor=P(who), reason="mine"
            )
        assert _last(stores, "deal.stage")[:2] == ("deny", who)
        with pytest.raises(
            Forbidden, match=r"deal\.terminate needs one of the roles: seller_steward"
        ):
            admin.terminate_deal(stores, code=world.deal, actor=P(who), reason="mine")
        assert _last(stores, "deal.stage")[:2] == ("deny", who)
    assert admin.show_deal(stores, actor=OP, code=world.deal).stage == "preparation"


def test_illegal_transitions_are_rejected_with_the_legal_ones(
    stores: AppStores, world: World
) -> None:
    with pytest.raises(
        Conflict,
        match=r"preparation -> closing; allowed from preparation: due_diligence, terminated",
    ):
        admin.advance_deal(stores, code=world.deal, to="closing", winner=None, actor=S, reason=None)
    with pytest.raises(Invalid, match="unknown stage"):
        admin.advance_deal(stores, code=world.deal, to="nowhere", winner=None, actor=S, reason=None)
    assert admin.show_deal(stores, actor=S, code=world.deal).stage == "preparation"


def test_closing_needs_a_winner(stores: AppStores, world: World) -> None:
    for to in ("due_diligence", "signing"):
        admin.advance_deal(stores, code=world.deal, to=to, winner=None, actor=S, reason=None)
    with pytest.raises(Conflict, match="winning bidder"):
        admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=S, reason=None)
    with pytest.raises(Invalid, match="not an active bidder"):
        admin.advance_deal(
            stores, code=world.deal, to=None, winner="洁净日化有限公司", actor=S, reason=None
        )
    assert (
        admin.advance_deal(
            stores, code=world.deal, to=None, winner="Bidder B", actor=S, reason=None
        ).stage
        == "closing"
    )


def test_terminate_any_time_before_closing_only(stores: AppStores, world: World) -> None:
    d = admin.terminate_deal(stores, code=world.deal, actor=P(world.steward), reason="no agreement")
    assert d.stage == "terminated"
    with pytest.raises(Conflict, match="illegal stage transition terminated -> due_diligence"):
        check_transition(Stage.TERMINATED, Stage.DUE_DILIGENCE)
    # a terminated deal is irreversible: the policy refuses any advance before the stage machine
    with pytest.raises(Forbidden, match=r"deal\.advance is not possible at stage terminated"):
        admin.advance_deal(
            stores, code=world.deal, to="due_diligence", winner=None, actor=S, reason=None
        )
    assert admin.show_deal(stores, actor=S, code=world.deal).stage == "terminated"


def _last(stores: AppStores, action: str) -> tuple[str | None, str | None, str]:
    """Decision, actor and reasons of the newest audit event of ``action``."""
    with stores.records_session() as s:
        e = s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())
        ).first()
        assert e is not None
        return e.decision, e.actor, "; ".join(json.loads(e.body)["reasons"])


@pytest.mark.parametrize("stage", list(Stage))
def test_transition_table_is_consistent(stage: Stage) -> None:
    for target in Stage:
        if target in TRANSITIONS[stage]:
            check_transition(stage, target)
        else:
            with pytest.raises(Conflict):
                check_transition(stage, target)
    assert (Stage.TERMINATED in TRANSITIONS[stage]) == (
        stage not in (Stage.CLOSING, Stage.POST_CLOSING, Stage.TERMINATED)
    )


def test_parties_and_members(stores: AppStores, world: World) -> None:
    admin.create_organization(stores, actor=OP, name="Law LLP", kind="law_firm")
    admin.create_person(
        stores, actor=OP, email="counsel@law.example", name="Counsel", organization="Law LLP"
    )
    with pytest.raises(Invalid, match="not a party"):
        admin.add_member(
            stores, actor=S, deal=world.deal, email="counsel@law.example", role="counsel"
        )
    admin.add_party(stores, actor=S, deal=world.deal, organization="Law LLP", role="counsel")
    d = admin.add_member(
        stores, actor=S, deal=world.deal, email="counsel@law.example", role="counsel"
    )
    assert ("counsel@law.example", "counsel") in [(m.person, m.role) for m in d.members]
    with pytest.raises(Invalid, match="needs a member of a seller party"):
        admin.add_member(
            stores, actor=OP, deal=world.deal, email=world.bidder_person, role="seller_steward"
        )
    with pytest.raises(Conflict, match="already has this role"):
        admin.add_member(
            stores, actor=OP, deal=world.deal, email=world.steward, role="seller_steward"
        )
    with pytest.raises(Conflict, match="already a party"):
        admin.add_party(stores, actor=OP, deal=world.deal, organization="Bidder A", role="bidder")
    with pytest.raises(Invalid, match="exactly one seller"):
        admin.add_party(stores, actor=OP, deal=world.deal, organization="Law LLP", role="seller")


def test_nobody_adds_themselves_or_grants_without_the_role(stores: AppStores, world: World) -> None:
    """A bidder may not put itself (or a colleague) on the clean team; a steward and the
    operator may not give themselves a role; a bidder may not add a party. Each refusal is
    recorded with its reason, and the deal's members do not change."""
    before = admin.show_deal(stores, actor=OP, code=world.deal).members
    for email in (world.bidder_person, "clean@bidder-a.example"):
        if email != world.bidder_person:
            admin.create_person(stores, actor=OP, email=email, name="C", organization="Bidder A")
        with pytest.raises(
            Forbidden,
            match=r"member\.add needs one of the roles: operator, seller_steward "
            r"\(held: bidder_business\)",
        ):
            admin.add_member(
                stores,
                actor=P(world.bidder_person),
                deal=world.deal,
                email=email,
                role="bidder_clean_team",
            )
        assert _last(stores, "deal.add_member")[:2] == ("deny", world.bidder_person)
    for who, role in ((world.steward, "security_officer"), (world.operator, "seller_steward")):
        with pytest.raises(Forbidden, match=r"nobody may member\.add for themselves"):
            admin.add_member(stores, actor=P(who), deal=world.deal, email=who, role=role)
        decision, actor, reasons = _last(stores, "deal.add_member")
        assert (decision, actor) == ("deny", who)
        assert "nobody may member.add for themselves" in reasons
    with pytest.raises(Forbidden, match=r"party\.add needs one of the roles"):
        admin.add_party(
            stores,
            actor=P(world.bidder_person),
            deal=world.deal,
            organization="Bidder A",
            role="counsel",
        )
    assert _last(stores, "deal.add_party")[:2] == ("deny", world.bidder_person)
    assert admin.show_deal(stores, actor=OP, code=world.deal).members == before


def test_organisations_and_people_validation(stores: AppStores) -> None:
    start_store(stores)  # organisations and people are registered by the store's operator
    with pytest.raises(Invalid, match="unknown organisation kind"):
        admin.create_organization(stores, actor=OP, name="X", kind="pirate")
    with pytest.raises(Invalid, match="GB 32100"):
        admin.create_organization(
            stores, actor=OP, name="X", kind="seller", uscc="91350100M000100Y44"
        )
    org = admin.create_organization(
        stores, actor=OP, name="X", kind="seller", uscc="91350100M000100Y43"
    )
    assert org.uscc == "91350100M000100Y43"
    with pytest.raises(Conflict):
        admin.create_organization(stores, actor=OP, name="X", kind="bidder")
    with pytest.raises(Invalid, match="e-mail"):
        admin.create_person(stores, actor=OP, email="not-an-email", name="N", organization="X")
    with pytest.raises(NotFound, match="organisation 'Y' not found"):
        admin.create_person(stores, actor=OP, email="n@x.example", name="N", organization="Y")
    admin.create_person(stores, actor=OP, email="N@X.example", name="N", organization="X")
    assert admin.show_person(stores, actor=OP, email="n@x.example").organization == "X"
    assert [o.name for o in admin.list_organizations(stores, actor=OP, kind="seller")] == [
        SELLER,
        "X",
    ]
    with pytest.raises(Invalid, match="deal code"):
        admin.create_deal(
            stores, code="Bad Code", name="n", kind="equity", seller="X", bidders=[], actor=OP
        )
    # store-wide registrations are the operator's: a training administrator may not make them
    with pytest.raises(Forbidden, match=r"org\.create needs one of the roles: operator"):
        admin.create_organization(stores, actor=P(TRAINER), name="Z", kind="bidder")
    with pytest.raises(Forbidden, match=r"person\.create needs one of the roles: operator"):
        admin.create_person(
            stores, actor=P(TRAINER), email="z@x.example", name="Z", organization="X"
        )
    # and the operator may not make themselves the steward of a deal they open
    with pytest.raises(Forbidden, match=r"nobody may deal\.create for themselves"):
        admin.create_deal(
            stores,
            code="x-1",
            name="n",
            kind="equity",
            seller="X",
            bidders=[],
            stewards=[OP.email],
            actor=OP,
        )
    assert _last(stores, "org.create")[:2] == ("deny", TRAINER)
    assert _last(stores, "person.create")[:2] == ("deny", TRAINER)
    decision, actor, reasons = _last(stores, "deal.create")
    assert (decision, actor) == ("deny", OP.email)
    assert "nobody may deal.create for themselves" in reasons
    assert admin.list_deals(stores, actor=OP) == []
