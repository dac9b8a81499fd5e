"""Nobody grants themselves anything: random command sequences by people without the right
role change no role, stage, training record, grant, policy or key, and every attempt is a
recorded denial naming its actor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from dealvault.access import policy as pol
from dealvault.access.agreements import SignerIn
from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Forbidden
from dealvault.flows import access_requests, admin, agreements, customers, keys
from dealvault.flows import policy as policy_flows
from dealvault.flows.context import AppStores
from dealvault.flows.store import grant_role
from tests.conftest import OP, SELLER, P, World, train
from tests.vault.helpers import customer_row, do_import, write_csv

CLEAN = "clean@bidder-a.example"
COUNSEL = "counsel@law.example"
AUDITOR = "auditor@audit.example"
OUTSIDER = "someone@bidder-b.example"
OUTSIDER_SELLER = "intern@seller.example"  # the seller's staff, but no role anywhere
UNPRIVILEGED = ("analyst@bidder-a.example", CLEAN, COUNSEL, AUDITOR, OUTSIDER, OUTSIDER_SELLER)
ROLES = (
    "seller_steward",
    "security_officer",
    "bidder_business",
    "bidder_clean_team",
    "counsel",
    "intermediary",
    "auditor",
)


@pytest.fixture
def backend() -> str:  # the property runs on SQLite; the decision point is the same code
    return "sqlite"


@pytest.fixture
def room(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> dict[str, Any]:
    """The world at due diligence, with a dataset, more people and a pending request."""
    admin.create_organization(stores, actor=OP, name="Law Firm", kind="law_firm")
    admin.create_organization(stores, actor=OP, name="Audit Firm", kind="auditor")
    for email, org in (
        (CLEAN, "Bidder A"),
        (COUNSEL, "Law Firm"),
        (AUDITOR, "Audit Firm"),
        (OUTSIDER, "Bidder B"),
        (OUTSIDER_SELLER, SELLER),
    ):
        admin.create_person(stores, actor=OP, email=email, name="X", organization=org)
    for org, role in (("Law Firm", "counsel"), ("Audit Firm", "auditor")):
        admin.add_party(stores, actor=OP, deal=world.deal, organization=org, role=role)
    steward = P(world.steward)
    for email, role in ((CLEAN, "bidder_clean_team"), (COUNSEL, "counsel"), (AUDITOR, "auditor")):
        admin.add_member(stores, actor=steward, deal=world.deal, email=email, role=role)
    path = write_csv(tmp_path / "c.csv", [customer_row(i) for i in range(1, 21)])
    do_import(stores, keyring, path, actor=steward, deal=world.deal, rejects_dir=tmp_path / "r")
    admin.advance_deal(stores, actor=steward, code=world.deal, to=None, winner=None, reason="dd")
    train(stores, CLEAN)
    req = access_requests.request_access(
        stores,
        actor=P(CLEAN),
        deal=world.deal,
        dataset="crm",
        categories=["identity"],
        level="anonymized",
        purpose="modelling",
        duration_days=7,
    )
    tighter = pol.default_policy().text.replace(
        '"deal.freeze" = { roles = ["seller_steward", "security_officer"], stages = ["*"] }',
        '"deal.freeze" = { roles = ["security_officer"], stages = ["*"] }',
    )
    return {"deal": world.deal, "request": req.id, "policy": tighter, "tmp": tmp_path}


Command = Callable[[AppStores, KeyRing, dict[str, Any], str, str, str], object]


def _commands() -> dict[str, Command]:
    def member(s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str) -> object:
        return admin.add_member(s, actor=P(who), deal=r["deal"], email=to, role=role)

    def advance(
        s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str
    ) -> object:
        return admin.advance_deal(s, actor=P(who), code=r["deal"], to=None, winner=None, reason="x")

    def terminate(
        s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str
    ) -> object:
        return admin.terminate_deal(s, actor=P(who), code=r["deal"], reason="x")

    def training(
        s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str
    ) -> object:
        return agreements.add_training(
            s, actor=P(who), email=to, course="confidentiality", completed=date.today()
        )

    def policy(s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str) -> object:
        return policy_flows.set_policy(
            s, actor=P(who), deal=r["deal"], text=r["policy"], comment="x"
        )

    def store_role(
        s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str
    ) -> object:
        return grant_role(
            s, actor=P(who), email=to, role="operator" if len(role) % 2 else "training_admin"
        )

    def own_deal(
        s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str
    ) -> object:
        return admin.create_deal(
            s,
            actor=P(who),
            code=f"mine-{len(role)}",
            name="x",
            kind="asset",
            seller="Bidder B",
            bidders=[],
            stewards=[who],
        )

    def agreement(
        s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str
    ) -> object:
        return agreements.add_agreement(
            s,
            actor=P(who),
            deal=r["deal"],
            organization="Bidder A",
            kind="nda",
            title="x",
            effective=date.today(),
            signers=[SignerIn(email=to)],
        )

    def approve(
        s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str
    ) -> object:
        return access_requests.approve_request(s, actor=P(who), request_id=r["request"])

    def freeze(s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str) -> object:
        return admin.set_frozen(s, actor=P(who), code=r["deal"], frozen=True, reason="x")

    def master(s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str) -> object:
        return keys.rotate_master_key(s, k, actor=P(who))

    def data_key(
        s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str
    ) -> object:
        return keys.rotate_data_key(s, k, actor=P(who), deal=r["deal"], dataset="crm")

    def shred(s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str) -> object:
        return customers.shred(
            s,
            k,
            actor=P(who),
            deal=r["deal"],
            dataset="crm",
            subject_id=None,
            whole_dataset=True,
            reason="x",
        )

    def person(s: AppStores, k: KeyRing, r: dict[str, Any], who: str, to: str, role: str) -> object:
        return admin.create_person(
            s, actor=P(who), email=f"new{len(role)}@seller.example", name="x", organization=SELLER
        )

    return {
        f.__name__: f
        for f in (
            member,
            advance,
            terminate,
            training,
            policy,
            store_role,
            own_deal,
            agreement,
            approve,
            freeze,
            master,
            data_key,
            shred,
            person,
        )
    }


COMMANDS = _commands()


def _state(stores: AppStores) -> dict[str, object]:
    """Everything a self-grant could change, as sorted rows."""
    queries = {
        "memberships": "SELECT deal_id, person_id, role FROM memberships",
        "deals": "SELECT code, stage, frozen FROM deals",
        "persons": "SELECT email FROM persons",
        "training": "SELECT person_id, course, completed FROM training_records",
        "grants": "SELECT id, person_id, revoked_at FROM grants",
        "approvals": "SELECT request_id, approver_id, decision FROM approvals",
        "policy": "SELECT deal_id, version, sha256 FROM policy_versions",
        "store_roles": "SELECT person_id, role, revoked_at FROM store_roles",
        "agreements": "SELECT id FROM agreements",
        "customers": "SELECT status, count(*) FROM customer_records GROUP BY status",
    }
    out: dict[str, object] = {}
    with stores.records_session() as s:
        for name, q in queries.items():
            out[name] = sorted(tuple(map(str, row)) for row in s.execute(text(q)))
        out["data_keys"] = sorted(
            tuple(map(str, row))
            for row in s.execute(text("SELECT id, data_key_version FROM datasets"))
        )
    with stores.keystore_sessions() as ks:
        out["keystore"] = sorted(
            tuple(map(str, row))
            for row in ks.execute(
                text("SELECT dataset_id, purpose, version, kek_version FROM dataset_keys")
            )
        )
    return out


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(sorted(COMMANDS)),
            st.sampled_from(UNPRIVILEGED),
            st.sampled_from((*UNPRIVILEGED, "steward@seller.example")),
            st.sampled_from(ROLES),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_people_without_the_role_change_nothing(
    stores: AppStores,
    keyring: KeyRing,
    room: dict[str, Any],
    steps: list[tuple[str, str, str, str]],
) -> None:
    before = _state(stores)
    for name, who, target, role in steps:
        if name == "approve" and who != CLEAN:
            who = CLEAN  # the requester approving their own request
        with pytest.raises(Forbidden):
            COMMANDS[name](stores, keyring, room, who, target, role)
        with stores.records_session() as s:
            last = s.execute(
                select(AuditEvent.decision, AuditEvent.actor)
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            ).one()
        assert tuple(last) == ("deny", who), (name, who)
    assert _state(stores) == before


def test_no_audit_event_lacks_an_actor(stores: AppStores, room: dict[str, Any]) -> None:
    with stores.records_session() as s:
        actors = s.scalars(select(AuditEvent.actor)).all()
    assert actors and all(a for a in actors)


@pytest.mark.parametrize(
    ("name", "who", "target", "role"),
    [
        ("member", "steward@seller.example", OUTSIDER_SELLER, "security_officer"),
        ("training", "trainer@seller.example", COUNSEL, "auditor"),
        ("policy", "steward@seller.example", COUNSEL, "auditor"),
        ("store_role", "operator@seller.example", OUTSIDER_SELLER, "auditor"),  # even: admin
        ("agreement", "steward@seller.example", CLEAN, "auditor"),
        ("approve", "steward@seller.example", CLEAN, "auditor"),
        ("freeze", "steward@seller.example", CLEAN, "auditor"),
        ("data_key", "steward@seller.example", CLEAN, "auditor"),
        ("person", "operator@seller.example", CLEAN, "auditor"),
        ("advance", "steward@seller.example", CLEAN, "auditor"),
    ],
)
def test_the_same_commands_work_for_the_right_role(
    stores: AppStores,
    keyring: KeyRing,
    room: dict[str, Any],
    name: str,
    who: str,
    target: str,
    role: str,
) -> None:
    """The control: the commands of the property above are well-formed, so their refusal
    comes from the decision, not from bad arguments."""
    before = _state(stores)
    COMMANDS[name](stores, keyring, room, who, target, role)
    assert _state(stores) != before
