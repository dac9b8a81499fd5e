"""Organisations, people, deals: the stage machine, parties, memberships."""

from __future__ import annotations

import pytest

from dealvault.access.stages import TRANSITIONS, Stage, check_transition
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.flows import admin
from dealvault.flows.context import AppStores
from tests.conftest import P, World


def test_happy_path_to_post_closing(stores: AppStores, world: World) -> None:
    d = admin.advance_deal(
        stores, code=world.deal, to=None, winner=None, actor=P(world.steward), reason="teaser out"
    )
    assert d.stage == "due_diligence"
    d = admin.advance_deal(
        stores, code=world.deal, to="clean_team", winner=None, actor=None, reason=None
    )
    d = admin.advance_deal(
        stores, code=world.deal, to=None, winner="Bidder A", actor=None, reason=None
    )
    assert d.stage == "signing"
    assert [p.organization for p in d.parties if p.is_winner] == ["Bidder A"]
    d = admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=None, reason=None)
    d = admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=None, reason=None)
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
    with pytest.raises(Conflict, match="cannot advance"):
        admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=None, reason=None)


def test_illegal_transitions_are_rejected_with_the_legal_ones(
    stores: AppStores, world: World
) -> None:
    with pytest.raises(
        Conflict,
        match=r"preparation -> closing; allowed from preparation: due_diligence, terminated",
    ):
        admin.advance_deal(
            stores, code=world.deal, to="closing", winner=None, actor=None, reason=None
        )
    with pytest.raises(Invalid, match="unknown stage"):
        admin.advance_deal(
            stores, code=world.deal, to="nowhere", winner=None, actor=None, reason=None
        )
    assert admin.show_deal(stores, code=world.deal).stage == "preparation"


def test_closing_needs_a_winner(stores: AppStores, world: World) -> None:
    for to in ("due_diligence", "signing"):
        admin.advance_deal(stores, code=world.deal, to=to, winner=None, actor=None, reason=None)
    with pytest.raises(Conflict, match="winning bidder"):
        admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=None, reason=None)
    with pytest.raises(Invalid, match="not an active bidder"):
        admin.advance_deal(
            stores, code=world.deal, to=None, winner="洁净日化有限公司", actor=None, reason=None
        )
    assert (
        admin.advance_deal(
            stores, code=world.deal, to=None, winner="Bidder B", actor=None, reason=None
        ).stage
        == "closing"
    )


def test_terminate_any_time_before_closing_only(stores: AppStores, world: World) -> None:
    d = admin.terminate_deal(stores, code=world.deal, actor=P(world.steward), reason="no agreement")
    assert d.stage == "terminated"
    with pytest.raises(Conflict, match="illegal stage transition terminated -> due_diligence"):
        admin.advance_deal(
            stores, code=world.deal, to="due_diligence", winner=None, actor=None, reason=None
        )


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
    admin.create_organization(stores, name="Law LLP", kind="law_firm")
    admin.create_person(stores, email="counsel@law.example", name="Counsel", organization="Law LLP")
    with pytest.raises(Invalid, match="not a party"):
        admin.add_member(stores, deal=world.deal, email="counsel@law.example", role="counsel")
    admin.add_party(stores, deal=world.deal, organization="Law LLP", role="counsel")
    d = admin.add_member(stores, deal=world.deal, email="counsel@law.example", role="counsel")
    assert ("counsel@law.example", "counsel") in [(m.person, m.role) for m in d.members]
    with pytest.raises(Invalid, match="needs a member of a seller party"):
        admin.add_member(stores, deal=world.deal, email=world.bidder_person, role="seller_steward")
    with pytest.raises(Conflict, match="already has this role"):
        admin.add_member(stores, deal=world.deal, email=world.steward, role="seller_steward")
    with pytest.raises(Conflict, match="already a party"):
        admin.add_party(stores, deal=world.deal, organization="Bidder A", role="bidder")
    with pytest.raises(Invalid, match="exactly one seller"):
        admin.add_party(stores, deal=world.deal, organization="Law LLP", role="seller")


def test_organisations_and_people_validation(stores: AppStores) -> None:
    with pytest.raises(Invalid, match="unknown organisation kind"):
        admin.create_organization(stores, name="X", kind="pirate")
    with pytest.raises(Invalid, match="GB 32100"):
        admin.create_organization(stores, name="X", kind="seller", uscc="91350100M000100Y44")
    org = admin.create_organization(stores, name="X", kind="seller", uscc="91350100M000100Y43")
    assert org.uscc == "91350100M000100Y43"
    with pytest.raises(Conflict):
        admin.create_organization(stores, name="X", kind="bidder")
    with pytest.raises(Invalid, match="e-mail"):
        admin.create_person(stores, email="not-an-email", name="N", organization="X")
    with pytest.raises(NotFound, match="organisation 'Y' not found"):
        admin.create_person(stores, email="n@x.example", name="N", organization="Y")
    admin.create_person(stores, email="N@X.example", name="N", organization="X")
    assert admin.show_person(stores, email="n@x.example").organization == "X"
    assert [o.name for o in admin.list_organizations(stores, kind="seller")] == ["X"]
    with pytest.raises(Invalid, match="deal code"):
        admin.create_deal(
            stores, code="Bad Code", name="n", kind="equity", seller="X", bidders=[], actor=None
        )
