"""Access requests, approvals by distinct people in required roles, grants, expiry, revocation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dealvault.access import grant_use, grants
from dealvault.access import service as access
from dealvault.access.governance_models import Grant
from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.flows import access_requests as flow
from dealvault.flows import admin
from dealvault.flows.context import AppStores
from dealvault.vault import service as vault
from tests.conftest import OP, SELLER, P, World, acting_person

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)  # views say "now"
US = timedelta(microseconds=1)
COUNSEL = "counsel@law.example"
SECURITY = "security@seller.example"
CLEAN = "clean@bidder-a.example"
STEWARD2 = "steward2@seller.example"
NAMES = ("Counsel Person", "Security Person", "Clean Analyst", "Second Steward")


@dataclass(frozen=True)
class Gov:
    stores: AppStores
    deal: str
    steward: str
    analyst: str


@pytest.fixture
def gov(stores: AppStores, keyring: KeyRing, world: World) -> Gov:
    """The world plus counsel, a security officer, a clean-team analyst, and dataset 'crm', at
    the clean-team stage."""
    admin.create_organization(stores, actor=OP, name="Law LLP", kind="law_firm")
    admin.add_party(stores, actor=OP, deal=world.deal, organization="Law LLP", role="counsel")
    people = (
        (COUNSEL, NAMES[0], "Law LLP", "counsel"),
        (SECURITY, NAMES[1], SELLER, "security_officer"),
        (CLEAN, NAMES[2], "Bidder A", "bidder_clean_team"),
        (STEWARD2, NAMES[3], SELLER, "seller_steward"),
    )
    for email, name, org, role in people:
        admin.create_person(stores, actor=OP, email=email, name=name, organization=org)
        admin.add_member(stores, actor=OP, deal=world.deal, email=email, role=role)
    with stores.unit_of_work() as uow:
        deal = access.get_deal(uow.records, code=world.deal)
        vault.get_or_create_dataset(uow, keyring, deal=deal, name="crm")
    for _ in range(2):  # requests are filed from due diligence on: to the clean-team stage
        admin.advance_deal(stores, actor=P(world.steward), code=world.deal, to=None, winner=None,
                           reason="test")  # fmt: skip
    return Gov(stores, world.deal, world.steward, world.bidder_person)


def ask(
    g: Gov, *, who: str = CLEAN, cats: tuple[str, ...] = ("contact", "identity"), **kw: Any
) -> flow.RequestOut:
    args: dict[str, Any] = {
        "level": "masked",
        "purpose": "spot-check contact data quality",
        "duration_days": 14,
        "row_cap": 500,
        "at": T0,
    }
    args.update(kw)
    return flow.request_access(
        g.stores, actor=P(who), deal=g.deal, dataset="crm", categories=cats, **args
    )


def approve(
    g: Gov, rid: int, who: str, at: datetime = T0 + timedelta(hours=1), **kw: Any
) -> flow.RequestOut:
    return flow.approve_request(g.stores, actor=P(who), request_id=rid, at=at, **kw)


def granted(g: Gov, **kw: Any) -> flow.RequestOut:
    rid = ask(g, **kw).id
    approve(g, rid, g.steward)
    out = approve(g, rid, COUNSEL)
    assert out.grant is not None
    return out


def events(g: Gov, prefix: str = "access.") -> list[dict[str, Any]]:
    with g.stores.records_session() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        return [json.loads(e.body) for e in rows if e.action.startswith(prefix)]


def check(g: Gov, fn: Any, **kw: Any) -> Any:
    """Run a service function in a session with the person, deal and dataset resolved."""
    with g.stores.unit_of_work() as uow:
        s = uow.records
        deal = access.get_deal(s, code=g.deal)
        return fn(
            s,
            person=acting_person(s, kw.pop("who", CLEAN)),
            deal=deal,
            dataset_id=vault.get_dataset(s, deal=deal, name="crm").id,
            **kw,
        )


# -- the approval flow ----------------------------------------------------------------------
def test_steward_and_counsel_approve_and_a_grant_is_made(gov: Gov) -> None:
    req = ask(gov)
    assert req.status == "pending" and req.still_needed == ["seller_steward", "counsel"]
    assert req.categories == ["identity", "contact"]  # canonical order
    step = approve(gov, req.id, gov.steward, comment="fine")
    assert step.status == "pending" and step.still_needed == ["counsel"] and step.grant is None
    t = T0 + timedelta(hours=2)
    done = approve(gov, req.id, COUNSEL, at=t)
    assert done.status == "approved" and done.decided_at == t and done.still_needed == []
    assert [(a.approver, a.role) for a in done.approvals] == [
        (gov.steward, "seller_steward"),
        (COUNSEL, "counsel"),
    ]
    g = done.grant
    assert g is not None and g.person == CLEAN and g.state == "active"
    assert (g.level, g.categories, g.row_cap, g.rows_used) == (
        "masked",
        ["identity", "contact"],
        500,
        0,
    )
    assert g.purpose == "spot-check contact data quality"
    assert g.granted_at == t and g.expires_at == t + timedelta(days=14)

    evs = events(gov)
    assert [e["action"] for e in evs] == [
        "access.request", "access.approve", "access.approve", "access.grant",
    ]  # fmt: skip
    assert all(e["decision"] == "allow" for e in evs)  # every event records its decision
    assert flow.show_request(gov.stores, actor=P(gov.steward), request_id=req.id).grant == g
    assert evs[0]["objects"] == {
        "request": req.id, "dataset": "crm", "categories": "identity,contact", "level": "masked",
        "days": 14, "row_cap": 500,
    }  # fmt: skip
    assert evs[1]["objects"]["still_needed"] == "counsel" and evs[2]["actor"] == COUNSEL
    assert evs[3]["seq"] == evs[2]["seq"] + 1  # the grant commits with the last approval
    assert evs[3]["objects"]["grant"] == g.id and evs[3]["objects"]["grantee"] == CLEAN
    assert evs[3]["objects"]["expires_at"] == g.expires_at.isoformat()
    body = json.dumps(evs, ensure_ascii=False)
    assert not any(n in body for n in NAMES)  # people by account only, never by name


def test_sensitive_data_also_needs_the_security_officer(gov: Gov) -> None:
    rid = ask(gov, cats=("sensitive",), level="pseudonymized").id
    approve(gov, rid, gov.steward)
    mid = approve(gov, rid, COUNSEL)
    assert mid.status == "pending" and mid.still_needed == ["security_officer"]
    assert mid.required_roles == ["seller_steward", "counsel", "security_officer"]
    done = approve(gov, rid, SECURITY)
    assert done.status == "approved" and done.grant is not None


def test_service_takes_any_required_roles(gov: Gov) -> None:
    """Without the policy: two distinct stewards required; the second steward completes it."""
    rid = ask(gov).id
    with gov.stores.unit_of_work() as uow:
        s = uow.records
        req = grants.get_request(s, request_id=rid)
        deal = access.get_deal(s, code=gov.deal)
        two = ("seller_steward", "seller_steward")
        for i, email in enumerate((gov.steward, STEWARD2)):
            _, grant = grants.approve(
                s, request=req, approver=acting_person(s, email), deal=deal,
                required_roles=two, at=T0,
            )  # fmt: skip
            assert (grant is None) == (i == 0)
        assert req.status == "approved"
        with pytest.raises(Invalid, match="unknown approver role"):
            grants.still_needed(req, ["pope"])
        uow.records.rollback()


# -- who may approve ------------------------------------------------------------------------
def test_self_approval_is_rejected_and_recorded(gov: Gov) -> None:
    # a steward reads everything without a grant: the policy lets no steward ask for one
    with pytest.raises(
        Forbidden, match=r"access\.request needs one of the roles: .* \(held: seller_steward\)"
    ):
        ask(gov, who=gov.steward)
    refused = events(gov)
    assert [(e["action"], e["decision"], e["actor"]) for e in refused] == [
        ("access.request", "deny", gov.steward)
    ]
    rid = ask(gov, who=SECURITY).id  # the security officer asks for themselves
    with pytest.raises(Forbidden, match=r"nobody may access\.approve for themselves") as exc:
        approve(gov, rid, SECURITY)
    assert exc.value.code == "denied"
    denied = [e for e in events(gov) if e["decision"] == "deny"][1:]
    assert len(denied) == 1 and denied[0]["action"] == "access.approve"
    assert denied[0]["actor"] == SECURITY and denied[0]["objects"]["request"] == rid
    assert "nobody may access.approve for themselves" in denied[0]["reasons"][0]
    after = flow.show_request(gov.stores, actor=P(gov.steward), request_id=rid)
    assert after.approvals == [] and after.status == "pending"
    # the holders of the required roles may fill them instead
    approve(gov, rid, STEWARD2)
    assert approve(gov, rid, COUNSEL).status == "approved"
    with pytest.raises(Forbidden, match="own request"):
        flow.deny_request(
            gov.stores, actor=P(SECURITY), request_id=ask(gov, who=SECURITY).id, reason="x"
        )


def test_same_person_twice_outsiders_and_filled_roles(gov: Gov) -> None:
    rid = ask(gov).id
    approve(gov, rid, gov.steward)
    with pytest.raises(Conflict, match="already decided") as exc:
        approve(gov, rid, gov.steward)
    assert exc.value.code == "already_decided"
    with pytest.raises(Conflict, match=r"already filled.*still needed: counsel"):
        approve(gov, rid, STEWARD2)
    # a bidder may approve no request at all (the policy); the security officer may approve
    # some, but is not required for this one
    for outsider, why in (
        (gov.analyst, r"access\.approve needs one of the roles: seller_steward, counsel, "),
        (SECURITY, "none of the required roles"),
    ):
        with pytest.raises(Forbidden, match=why):
            approve(gov, rid, outsider)
    denied = [e for e in events(gov) if e["decision"] == "deny"]
    assert [e["actor"] for e in denied] == [gov.analyst, SECURITY]
    assert flow.show_request(gov.stores, actor=P(gov.steward), request_id=rid).still_needed == [
        "counsel"
    ]
    with pytest.raises(NotFound):
        approve(gov, 999, COUNSEL)


def test_one_person_with_two_roles_fills_only_one(gov: Gov) -> None:
    admin.add_member(gov.stores, actor=OP, deal=gov.deal, email=SECURITY, role="seller_steward")
    rid = ask(gov, cats=("sensitive",)).id
    # steward and security officer: the security role is taken, as nobody else could fill it
    first = approve(gov, rid, SECURITY)
    assert first.approvals[0].role == "security_officer"
    assert first.still_needed == ["seller_steward", "counsel"]
    with pytest.raises(Conflict):
        approve(gov, rid, SECURITY)
    approve(gov, rid, gov.steward)
    assert approve(gov, rid, COUNSEL).status == "approved"
    # an explicit role must be one the approver can fill
    rid2 = ask(gov, cats=("sensitive",)).id
    with pytest.raises(Invalid, match="not one this approver can fill"):
        approve(gov, rid2, SECURITY, role="counsel")
    assert approve(gov, rid2, SECURITY, role="seller_steward").approvals[0].role == "seller_steward"


def test_deny_is_final(gov: Gov) -> None:
    rid = ask(gov).id
    approve(gov, rid, gov.steward)
    with pytest.raises(Invalid, match="reason"):
        flow.deny_request(gov.stores, actor=P(COUNSEL), request_id=rid, reason="  ")
    with pytest.raises(Forbidden, match=r"access\.deny needs one of the roles: seller_steward"):
        flow.deny_request(gov.stores, actor=P(gov.analyst), request_id=rid, reason="no")
    with pytest.raises(Forbidden, match="none of the required roles"):
        flow.deny_request(gov.stores, actor=P(SECURITY), request_id=rid, reason="no")
    out = flow.deny_request(
        gov.stores, actor=P(COUNSEL), request_id=rid, reason="purpose too broad", at=T0 + US
    )
    assert out.status == "denied" and out.decided_at == T0 + US and out.grant is None
    assert out.approvals[-1].decision == "deny" and out.approvals[-1].comment == "purpose too broad"
    with pytest.raises(Conflict, match="already denied"):
        approve(gov, rid, STEWARD2)
    with pytest.raises(Conflict, match="already denied"):
        flow.deny_request(gov.stores, actor=P(STEWARD2), request_id=rid, reason="x")
    deny_ev = [e for e in events(gov) if e["action"] == "access.deny"]
    # the two refusals, then the denial (allowed: the decision on the action, not the request)
    assert [(e["decision"], e["actor"]) for e in deny_ev] == [
        ("deny", gov.analyst),
        ("deny", SECURITY),
        ("allow", COUNSEL),
    ]
    assert "access.deny needs one of the roles" in deny_ev[0]["reasons"][0]
    assert "none of the required roles" in deny_ev[1]["reasons"][0]
    assert deny_ev[2]["objects"]["status"] == "denied"
    assert deny_ev[2]["reasons"] == ["purpose too broad"]
    assert [
        r.id
        for r in flow.list_requests(
            gov.stores, actor=P(gov.steward), deal=gov.deal, status="denied"
        )
    ] == [rid]


# -- time: expiry and revocation ------------------------------------------------------------
def test_expiry_boundary(gov: Gov) -> None:
    g = granted(gov).grant
    assert g is not None
    ok = {"categories": ["contact"], "level": "masked"}
    for at, n in (
        (g.granted_at - US, 0),
        (g.granted_at, 1),
        (g.expires_at - US, 1),
        (g.expires_at, 0),
    ):
        assert len(check(gov, grant_use.active_grants, at=at)) == n, at
    best, why = check(gov, grant_use.grant_problem, at=g.expires_at - US, **ok)
    assert best is not None and best.id == g.id and why is None
    best, why = check(gov, grant_use.grant_problem, at=g.expires_at, **ok)
    assert best is None
    day = f"{g.expires_at:%Y-%m-%d}"
    assert why == f"no approved grant for masked of contact in crm (grants: 1 expired {day})"
    _, why = check(gov, grant_use.grant_problem, at=g.granted_at - US, **ok)
    assert why is not None and "1 not yet in force" in why
    _, why = check(gov, grant_use.grant_problem, who=gov.analyst, at=g.granted_at, **ok)
    assert why == "no approved grant for masked of contact in crm (no grants)"


def test_revocation_takes_effect_at_the_instant(gov: Gov) -> None:
    g = granted(gov).grant
    assert g is not None
    r = g.granted_at + timedelta(days=3)
    with pytest.raises(
        Forbidden, match=r"access\.revoke needs one of the roles: seller_steward, security_officer"
    ):
        flow.revoke_grant(gov.stores, actor=P(COUNSEL), grant_id=g.id, reason="x", at=r)
    with pytest.raises(Invalid, match="reason"):
        flow.revoke_grant(gov.stores, actor=P(SECURITY), grant_id=g.id, reason="", at=r)
    out = flow.revoke_grant(
        gov.stores, actor=P(SECURITY), grant_id=g.id, reason="left the team", at=r
    )
    assert out.revoked_at == r and out.state == "revoked" and out.revoke_reason == "left the team"
    assert len(check(gov, grant_use.active_grants, at=r - US)) == 1
    assert check(gov, grant_use.active_grants, at=r) == []
    _, why = check(gov, grant_use.grant_problem, at=r, categories=["identity"], level="masked")
    assert why == "no approved grant for masked of identity in crm (grants: 1 revoked)"
    with pytest.raises(Conflict, match="already revoked"):
        flow.revoke_grant(gov.stores, actor=P(gov.steward), grant_id=g.id, reason="again", at=r)
    with pytest.raises(NotFound, match="grant 999"):
        flow.revoke_grant(gov.stores, actor=P(gov.steward), grant_id=999, reason="x")
    rev = [e for e in events(gov) if e["action"] == "access.revoke"]
    assert [e["decision"] for e in rev] == ["deny", "allow"]
    assert "access.revoke needs one of the roles" in rev[0]["reasons"][0]
    assert rev[1]["objects"]["grantee"] == CLEAN and rev[1]["reasons"] == ["left the team"]


# -- coverage and row caps -------------------------------------------------------------------
def test_coverage_by_categories_and_level(gov: Gov) -> None:
    g = granted(gov, level="pseudonymized").grant
    assert g is not None
    at = g.granted_at
    best, _ = check(gov, grant_use.grant_problem, at=at, categories=["contact"], level="anonymized")
    assert best is not None  # pseudonymized covers anonymized
    for cats, level in ((["contact"], "masked"), (["contact", "sensitive"], "anonymized")):
        best, why = check(gov, grant_use.grant_problem, at=at, categories=cats, level=level)
        assert best is None and why is not None
        assert "1 in force not covering it: pseudonymized of identity, contact" in why
    best, _ = check(gov, grant_use.grant_problem, at=at, categories=[], level="pseudonymized")
    assert best is not None  # no categories named: the level decides
    _, why = check(gov, grant_use.grant_problem, at=at, categories=[], level="full")
    assert why is not None and why.startswith("no approved grant for full in crm (grants: 1 in")
    with pytest.raises(Invalid, match="unknown level"):
        check(gov, grant_use.grant_problem, at=at, categories=["contact"], level="secret")


def test_row_cap_consumption(gov: Gov) -> None:
    g = granted(gov).grant
    assert g is not None
    with gov.stores.unit_of_work() as uow:
        grant = grant_use.get_grant(uow.records, grant_id=g.id)
        assert [grant_use.consume_rows(grant, rows=n) for n in (300, 0, 300, 10)] == [
            300,
            0,
            200,
            0,
        ]
        with pytest.raises(Invalid, match="negative"):
            grant_use.consume_rows(grant, rows=-1)
    with gov.stores.records_session() as s:
        assert s.get(Grant, g.id).rows_used == 500  # type: ignore[union-attr]
    best, why = check(
        gov, grant_use.grant_problem, at=g.granted_at, categories=["contact"], level="masked"
    )
    assert best is None and why == f"row cap of grant {g.id} is used up (500 of 500 rows)"
    # a second grant without a cap is preferred now, and never runs out
    g2 = granted(gov, row_cap=None).grant
    assert g2 is not None
    with gov.stores.unit_of_work() as uow:
        best, why = check(
            gov, grant_use.grant_problem, at=g2.granted_at, categories=["contact"], level="masked"
        )
        assert best.id == g2.id and why is None
        grant = grant_use.get_grant(uow.records, grant_id=g2.id)
        assert grant_use.consume_rows(grant, rows=10_000) == 10_000
    # an uncapped grant's delivered rows are counted by an atomic increment
    with gov.stores.unit_of_work() as uow:
        grant_use.add_rows(uow.records, grant_id=g2.id, rows=50)
        grant_use.add_rows(uow.records, grant_id=g2.id, rows=7)
        with pytest.raises(Invalid, match="negative"):
            grant_use.add_rows(uow.records, grant_id=g2.id, rows=-1)
    with gov.stores.records_session() as s:
        assert s.get(Grant, g2.id).rows_used == 10_057  # type: ignore[union-attr]


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cats": ("contact", "gossip")}, "unknown category 'gossip'"),
        ({"cats": ()}, "at least one data category"),
        ({"level": "raw"}, "unknown level 'raw'; choose one of: metadata, aggregate"),
        ({"purpose": "  "}, "state the purpose"),
        ({"duration_days": 0}, "duration must be 1 to 365 days"),
        ({"duration_days": 366}, "duration must be 1 to 365 days"),
        ({"row_cap": 0}, "row cap must be a positive number"),
    ],
)
def test_bad_requests(gov: Gov, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        ask(gov, **kw)
    assert events(gov) == []


def test_non_members_and_unknown_things(gov: Gov) -> None:
    admin.create_person(
        gov.stores, actor=OP, email="out@bidder-b.example", name="Out", organization="Bidder B"
    )
    with pytest.raises(Forbidden, match="not a member of deal clean-2026"):
        ask(gov, who="out@bidder-b.example")
    assert [(e["action"], e["decision"]) for e in events(gov)] == [("access.request", "deny")]
    with pytest.raises(NotFound, match="dataset 'hr'"):
        flow.request_access(
            gov.stores, actor=P(CLEAN), deal=gov.deal, dataset="hr", categories=["contact"],
            level="masked", purpose="p", duration_days=1,
        )  # fmt: skip
    with pytest.raises(NotFound, match="access request 42"):
        flow.show_request(gov.stores, actor=P(gov.steward), request_id=42)
    with pytest.raises(Invalid, match="unknown status"):
        flow.list_requests(gov.stores, actor=P(gov.steward), deal=gov.deal, status="maybe")
    with pytest.raises(Forbidden, match="not a member of deal clean-2026"):
        flow.list_requests(gov.stores, actor=P("out@bidder-b.example"), deal=gov.deal)


def test_list_filters(gov: Gov) -> None:
    a = ask(gov).id
    b = ask(gov, who=gov.analyst, level="aggregate", row_cap=None).id
    approve(gov, a, gov.steward)
    approve(gov, a, COUNSEL)
    steward = P(gov.steward)
    assert [r.id for r in flow.list_requests(gov.stores, actor=steward, deal=gov.deal)] == [a, b]
    pending = flow.list_requests(gov.stores, actor=steward, deal=gov.deal, status="pending")
    assert [r.id for r in pending] == [b]
    mine = flow.list_requests(gov.stores, actor=P(gov.analyst), deal=gov.deal, mine=True)
    assert [r.id for r in mine] == [b] and mine[0].row_cap is None
    # someone who decides no requests sees only their own, even without --mine
    theirs = flow.list_requests(gov.stores, actor=P(CLEAN), deal=gov.deal)
    assert [r.id for r in theirs] == [a]
    assert flow.list_requests(gov.stores, actor=steward, deal=gov.deal, mine=True) == []


def test_levels_match_the_disclosure_engine() -> None:
    from dealvault.deidentify.levels import Level

    assert tuple(lv.value for lv in Level) == grants.LEVELS
