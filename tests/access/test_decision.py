"""The one decision point end to end: agreement, training, grant, stage ceiling, freeze, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dealvault.access import service as access_service
from dealvault.access.agreements import SignerIn
from dealvault.access.decision import allowed_level, decide
from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.errors import DealvaultError, Forbidden
from dealvault.flows import access_requests, admin, agreements
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import Disclosure, DisclosureRequest, view
from dealvault.vault import service as vault_service
from tests.conftest import OP, SELLER, STEWARD, P, World, acting_person, train
from tests.vault.helpers import customer_row, do_import, write_csv

COUNSEL = "counsel@law.example"
SECURITY = "security@seller.example"
CLEAN = "clean@bidder-a.example"
TODAY = date.today()


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def gov(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> World:
    """The world plus counsel, a security officer, a clean-team member and 60 customers."""
    admin.create_organization(stores, actor=OP, name="Law LLP", kind="law_firm")
    admin.add_party(stores, actor=OP, deal=world.deal, organization="Law LLP", role="counsel")
    admin.create_person(stores, actor=OP, email=COUNSEL, name="Counsel", organization="Law LLP")
    admin.create_person(stores, actor=OP, email=SECURITY, name="Sec", organization=SELLER)
    admin.create_person(stores, actor=OP, email=CLEAN, name="Clean", organization="Bidder A")
    admin.add_member(stores, actor=OP, deal=world.deal, email=COUNSEL, role="counsel")
    admin.add_member(stores, actor=OP, deal=world.deal, email=SECURITY, role="security_officer")
    admin.add_member(stores, actor=OP, deal=world.deal, email=CLEAN, role="bidder_clean_team")
    rows = [customer_row(i, 手机号=f"139{i:08d}") for i in range(60)]
    do_import(
        stores,
        keyring,
        write_csv(tmp_path / "c.csv", rows),
        actor=P(STEWARD),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    for _ in range(2):  # preparation -> due_diligence -> clean_team
        admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=P(STEWARD),
                           reason="test")  # fmt: skip
    return world


def _view(stores: AppStores, keyring: KeyRing, who: str, level: Level | None) -> Disclosure:
    req = DisclosureRequest(
        actor=P(who), deal="clean-2026", dataset="crm", level=level or Level.METADATA,
        purpose="diligence",
    )  # fmt: skip
    return view(stores, keyring, request=req, level=level)


def _govern_clean_team(stores: AppStores, *, row_cap: int | None = None) -> int:
    """Agreement, training and an approved grant for the clean-team member; the grant id."""
    agreements.add_agreement(
        stores, actor=P(STEWARD), deal="clean-2026", organization="Bidder A", kind="clean_team",
        title="Clean team agreement", effective=TODAY - timedelta(days=5),
        signers=[SignerIn(CLEAN, TODAY - timedelta(days=5))],
    )  # fmt: skip
    train(stores, CLEAN, days_ago=10)  # by the training administrator
    req = access_requests.request_access(
        stores, actor=P(CLEAN), deal="clean-2026", dataset="crm",
        categories=["identity", "contact", "preference"], level="masked",
        purpose="spot checks", duration_days=7, row_cap=row_cap,
    )  # fmt: skip
    access_requests.approve_request(stores, actor=P(STEWARD), request_id=req.id)
    out = access_requests.approve_request(stores, actor=P(COUNSEL), request_id=req.id)
    assert out.status == "approved" and out.grant is not None
    return out.grant.id


@dataclass(frozen=True)
class Ev:
    action: str
    decision: str | None
    actor: str | None


def _last_event(stores: AppStores, action: str = "disclose") -> Ev:
    with stores.records_session() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())
        ).first()
        assert event is not None
        return Ev(event.action, event.decision, event.actor)


def test_clean_team_needs_agreement_training_and_grant(
    stores: AppStores, keyring: KeyRing, gov: World
) -> None:
    with pytest.raises(Forbidden) as denied:
        _view(stores, keyring, CLEAN, Level.MASKED)
    text = str(denied.value)
    assert ("training" in text and "clean_team agreement" in text.replace("-", "_").lower()) or (
        "agreement" in text
    )
    assert "grant" in text
    assert _last_event(stores).decision == "deny"
    _govern_clean_team(stores)
    got = _view(stores, keyring, CLEAN, None)  # the highest level allowed: masked
    assert got.meta["level"] == "masked" and got.meta["recipient"] == "Bidder A"
    assert got.frame.height == 60 + 3  # with Bidder A's canaries
    assert "token" in got.frame.columns and "subject_id" not in got.frame.columns
    assert _last_event(stores).decision == "allow"
    with pytest.raises(Forbidden, match=r"ceiling|above"):
        _view(stores, keyring, CLEAN, Level.FULL)


def test_row_cap_bounds_every_delivery(stores: AppStores, keyring: KeyRing, gov: World) -> None:
    _govern_clean_team(stores, row_cap=25)
    assert _view(stores, keyring, CLEAN, Level.MASKED).frame.height == 25
    with pytest.raises(Forbidden, match="row cap"):
        _view(stores, keyring, CLEAN, Level.MASKED)


def test_expiry_and_revocation_at_the_boundary_instant(
    stores: AppStores, keyring: KeyRing, gov: World
) -> None:
    grant_id = _govern_clean_team(stores)
    with stores.records_session() as s:
        person = acting_person(s, CLEAN)
        deal = access_service.get_deal(s, code="clean-2026")
        ds = vault_service.get_dataset(s, deal=deal, name="crm")
        from dealvault.access.governance_models import Grant

        grant = s.get(Grant, grant_id)
        assert grant is not None
        expires = grant.expires_at.replace(tzinfo=grant.expires_at.tzinfo or UTC)

        def at(when: datetime) -> bool:
            return decide(
                s, actor=person, deal=deal, action="read", level="masked",
                categories=["contact"], dataset="crm", dataset_id=ds.id, at=when,
            ).allowed  # fmt: skip

        assert at(expires - timedelta(microseconds=1))
        assert not at(expires)
    access_requests.revoke_grant(stores, actor=P(SECURITY), grant_id=grant_id, reason="test")
    with pytest.raises(Forbidden, match="grant"):
        _view(stores, keyring, CLEAN, Level.MASKED)


def test_revoked_agreement_and_expired_training_deny_at_once(
    stores: AppStores, keyring: KeyRing, gov: World
) -> None:
    _govern_clean_team(stores)
    _view(stores, keyring, CLEAN, Level.MASKED)
    agreement_id = agreements.list_agreements(stores, actor=P(STEWARD), deal="clean-2026")[0].id
    agreements.revoke_agreement(stores, actor=P(STEWARD), agreement_id=agreement_id, reason="t")
    with pytest.raises(Forbidden, match="agreement"):
        _view(stores, keyring, CLEAN, Level.MASKED)


def test_self_approval_is_rejected_and_recorded(stores: AppStores, gov: World) -> None:
    # a steward needs no grant and may ask for none
    with pytest.raises(Forbidden, match=r"access\.request needs one of the roles"):
        access_requests.request_access(
            stores, actor=P(STEWARD), deal="clean-2026", dataset="crm", categories=["contact"],
            level="masked", purpose="self", duration_days=1,
        )  # fmt: skip
    assert _last_event(stores, "access.request") == Ev("access.request", "deny", STEWARD)
    req = access_requests.request_access(
        stores, actor=P(SECURITY), deal="clean-2026", dataset="crm", categories=["contact"],
        level="masked", purpose="self", duration_days=1,
    )  # fmt: skip
    with pytest.raises(Forbidden, match=r"nobody may access\.approve for themselves"):
        access_requests.approve_request(stores, actor=P(SECURITY), request_id=req.id)
    assert _last_event(stores, "access.approve") == Ev("access.approve", "deny", SECURITY)


def test_a_frozen_deal_denies_everything(stores: AppStores, keyring: KeyRing, gov: World) -> None:
    _govern_clean_team(stores)
    admin.set_frozen(stores, code="clean-2026", actor=P(SECURITY), frozen=True, reason="incident")
    for who, level in ((STEWARD, Level.FULL), (CLEAN, Level.MASKED), (STEWARD, Level.AGGREGATE)):
        with pytest.raises(Forbidden, match="frozen"):
            _view(stores, keyring, who, level)
    with stores.records_session() as s:
        deal = access_service.get_deal(s, code="clean-2026")
        steward = acting_person(s, STEWARD)
        for action in ("dataset.import", "customer.shred", "keys.rotate_data", "policy.set"):
            got = decide(s, actor=steward, deal=deal, action=action)
            assert not got.allowed
            assert f"the deal is frozen: {action} is stopped" in got.reasons
        # what a frozen deal still allows: the steward's deal reads and the unfreeze
        for action in ("deal.read", "deal.unfreeze"):
            assert decide(s, actor=steward, deal=deal, action=action).allowed
    with pytest.raises(Forbidden, match=r"deal\.unfreeze needs one of the roles"):
        admin.set_frozen(stores, code="clean-2026", actor=P(CLEAN), frozen=False, reason="no")
    assert _last_event(stores, "deal.unfreeze") == Ev("deal.unfreeze", "deny", CLEAN)
    admin.set_frozen(stores, code="clean-2026", actor=P(STEWARD), frozen=False, reason="resolved")
    assert _view(stores, keyring, STEWARD, Level.FULL).frame.height == 60
    actions = [e.action for e in _events(stores)]
    assert "deal.freeze" in actions and "deal.unfreeze" in actions


def _events(stores: AppStores) -> list[Ev]:
    with stores.records_session() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        return [Ev(e.action, e.decision, e.actor) for e in rows]


def test_bidder_business_gets_aggregates_only(
    stores: AppStores, keyring: KeyRing, gov: World
) -> None:
    train(stores, gov.bidder_person, days_ago=1)
    with stores.records_session() as s:
        deal = access_service.get_deal(s, code="clean-2026")
        person = acting_person(s, gov.bidder_person)
        best = allowed_level(s, actor=person, deal=deal, dataset="crm")
        assert best.allowed and best.level == "aggregate"
    with pytest.raises(Forbidden):
        _view(stores, keyring, gov.bidder_person, Level.ANONYMIZED)


# ---- property: no sequence of calls yields a personal value without an allow decision ----

PEOPLE = (STEWARD, CLEAN, COUNSEL, "analyst@bidder-a.example")
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("view"), st.sampled_from(PEOPLE), st.sampled_from(list(Level))),
        st.tuples(st.just("freeze"), st.sampled_from((True, False))),
        st.tuples(st.just("advance")),
        st.tuples(st.just("govern")),
        st.tuples(st.just("revoke")),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_no_value_without_an_allow_decision(
    stores: AppStores, keyring: KeyRing, gov: World, steps: list[tuple[object, ...]]
) -> None:
    phones = {f"139{i:08d}" for i in range(60)}
    for step in steps:
        before = len(_events(stores))
        try:
            if step[0] == "view":
                who, level = str(step[1]), Level(str(step[2]))
                got = _view(stores, keyring, who, level)
                released = {str(v) for col in got.frame.iter_columns() for v in col.to_list()}
                if released & phones:
                    # clear phones only at full, and only after an allow for that person
                    assert got.meta["level"] == "full"
                    last = _last_event(stores)
                    assert last.decision == "allow" and last.actor == who
                    assert who == STEWARD
            elif step[0] == "freeze":
                admin.set_frozen(stores, code="clean-2026", actor=P(STEWARD), frozen=bool(step[1]),
                                 reason="p")  # fmt: skip
            elif step[0] == "advance":
                admin.advance_deal(stores, code="clean-2026", to=None, winner="Bidder A",
                                   actor=P(STEWARD), reason="p")  # fmt: skip
            elif step[0] == "govern":
                _govern_clean_team(stores)
            else:
                for g in access_requests.list_requests(stores, deal="clean-2026", status=None,
                                                       mine=False, actor=P(STEWARD)):  # fmt: skip
                    if g.grant is not None and g.grant.revoked_at is None:
                        access_requests.revoke_grant(stores, actor=P(STEWARD), grant_id=g.grant.id,
                                                     reason="p")  # fmt: skip
        except Forbidden:
            if step[0] == "view":  # the newest event, whatever the use case, is the denial
                assert _events(stores)[-1].decision == "deny"
        except DealvaultError:
            pass
        if step[0] == "view":
            assert len(_events(stores)) > before  # every view decision is an audit event


def test_a_policy_change_does_not_move_a_pending_requests_approvers(
    stores: AppStores, gov: World
) -> None:
    from dealvault.access.policy import default_policy
    from dealvault.flows import policy as policy_flows

    req = access_requests.request_access(
        stores, actor=P(CLEAN), deal="clean-2026", dataset="crm", categories=["contact"],
        level="masked", purpose="p", duration_days=3,
    )  # fmt: skip
    stricter = default_policy().text.replace(
        'default = ["seller_steward", "counsel"]',
        'default = ["seller_steward", "counsel", "security_officer"]',
    )
    policy_flows.set_policy(
        stores, actor=P(STEWARD), deal="clean-2026", text=stricter, comment="three approvers"
    )
    access_requests.approve_request(stores, actor=P(STEWARD), request_id=req.id)
    out = access_requests.approve_request(stores, actor=P(COUNSEL), request_id=req.id)
    assert out.status == "approved" and out.required_roles == ["seller_steward", "counsel"]
    later = access_requests.request_access(
        stores, actor=P(CLEAN), deal="clean-2026", dataset="crm", categories=["contact"],
        level="masked", purpose="p", duration_days=3,
    )  # fmt: skip
    assert later.required_roles == ["seller_steward", "counsel", "security_officer"]
