"""Transfer plans: scope and exclusions, recipients, approvals at closing with an agreement."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyrage
import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.flows import admin, agreements, compliance, customers
from dealvault.flows import transfer as flows
from dealvault.flows.context import AppStores
from dealvault.transfer.manifest import recipient_fingerprint
from dealvault.vault.models import CustomerRecord
from tests.conftest import OP, STEWARD, P, World
from tests.vault.helpers import customer_row, do_import, write_csv

SELLER = "洁净日化有限公司"
BUYER = "Bidder A"
STEWARD2 = "steward2@seller.example"
COUNSEL = "counsel@law.example"
OFFICER = "security@seller.example"
CATS = ["identity", "contact"]


def identity() -> pyrage.x25519.Identity:
    return pyrage.x25519.Identity.generate()


def prepare(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    *,
    customers_n: int = 12,
    stage: str = "closing",
    agreement: bool = True,
) -> list[str]:
    """Approvers (a second steward, counsel, a security officer), customers imported, the deal
    moved to ``stage`` (Bidder A wins at closing) and a transfer agreement of Bidder A.
    Returns the subject ids of the customers, in import order."""
    admin.create_organization(stores, actor=OP, name="Law LLP", kind="law_firm")
    admin.add_party(stores, actor=OP, deal=world.deal, organization="Law LLP", role="counsel")
    for email, org, role in (
        (STEWARD2, SELLER, "seller_steward"),
        (COUNSEL, "Law LLP", "counsel"),
        (OFFICER, SELLER, "security_officer"),
    ):
        admin.create_person(stores, actor=OP, email=email, name="X", organization=org)
        admin.add_member(stores, actor=OP, deal=world.deal, email=email, role=role)
    rows = [customer_row(i) for i in range(1, customers_n + 1)]
    csv = write_csv(tmp_path / "crm.csv", rows)
    do_import(stores, keyring, csv, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)
    path = ["due_diligence", "signing", "closing"]
    for to in path[: path.index(stage) + 1] if stage in path else []:
        admin.advance_deal(
            stores,
            code=world.deal,
            to=to,
            winner=BUYER if to == "closing" else None,
            actor=P(world.steward),
            reason=None,
        )
    if agreement:
        agreements.add_agreement(
            stores,
            actor=P(world.steward),
            deal=world.deal,
            organization=BUYER,
            kind="transfer",
            title="Asset transfer agreement",
            effective=date.today() - timedelta(days=1),
        )
    with stores.records_session() as s:
        return list(s.scalars(select(CustomerRecord.subject_id).order_by(CustomerRecord.id)))


def set_status(stores: AppStores, subject: str, status: str) -> None:
    """A steward records the customer's opt-out or objection."""
    customers.set_status(
        stores,
        actor=P(STEWARD),
        deal="clean-2026",
        dataset="crm",
        subject_id=subject,
        status=status,
        reason="customer request of 2026-11-20",
    )


def shred_one(stores: AppStores, keyring: KeyRing, world: World, subject: str) -> None:
    """Crypto-shred one customer of the dataset (an erasure request)."""
    customers.shred(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        subject_id=subject,
        whole_dataset=False,
        reason="erasure request",
    )


def make_plan(
    stores: AppStores, world: World, recipient: str, *, categories: list[str] | None = None
) -> flows.PlanOut:
    return flows.create_plan(
        stores,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        recipient=BUYER,
        recipients=[recipient],
        categories=categories or CATS,
        purpose="hand-over of the customer base at closing",
    )


def approved_plan(
    stores: AppStores,
    world: World,
    recipient: str,
    *,
    categories: list[str] | None = None,
    open_gate: bool = True,
) -> flows.PlanOut:
    plan = make_plan(stores, world, recipient, categories=categories)
    done = plan
    for approver in (STEWARD2, COUNSEL, OFFICER)[: len(plan.required_roles)]:
        done = flows.approve_plan(stores, actor=P(approver), plan_id=plan.id)
    assert done.status == "approved"
    if open_gate:
        clear_gate(stores, plan_id=plan.id)
    return done


def clear_gate(stores: AppStores, *, plan_id: int, counsel: str = COUNSEL) -> None:
    """Counsel checks the plan and waives each blocking finding open (the tests of packages
    are about packages; the gate's own tests keep it closed)."""
    out = compliance.check_plan(stores, actor=P(counsel), plan_id=plan_id)
    for f in out.findings:
        if f.blocking and f.status == "open":
            why = "waived for a test of packages, not of the gate"
            compliance.waive_finding(stores, actor=P(counsel), finding_id=f.id, reason=why)


def actions(stores: AppStores) -> list[tuple[str, str | None]]:
    with stores.records_session() as s:
        return [
            (a, d)
            for a, d in s.execute(
                select(AuditEvent.action, AuditEvent.decision).order_by(AuditEvent.seq)
            )
        ]


def test_opt_outs_and_objections_are_recorded_by_stewards(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    subjects = prepare(stores, keyring, world, tmp_path)

    def mark(who: str, subject: str, status: str) -> customers.StatusOut:
        return customers.set_status(
            stores,
            actor=P(who),
            deal=world.deal,
            dataset="crm",
            subject_id=subject,
            status=status,
            reason="letter of 2026-11-20",
        )

    with pytest.raises(Forbidden):
        mark(world.bidder_person, subjects[0], "objecting")
    with pytest.raises(Invalid, match="status must be one of"):
        mark(world.steward, subjects[0], "shredded")
    with pytest.raises(NotFound):
        mark(world.steward, "0" * 24, "objecting")
    out = mark(world.steward, subjects[0], "objecting")
    assert (out.previous, out.status) == ("active", "objecting")
    back = mark(world.steward, subjects[0], "active")
    assert back.previous == "objecting"
    shred_one(stores, keyring, world, subjects[1])
    with pytest.raises(Conflict, match="shredded"):
        mark(world.steward, subjects[1], "active")
    with stores.records_session() as s:
        rows = s.execute(
            select(AuditEvent.decision, AuditEvent.body).where(
                AuditEvent.action == "customer.status"
            )
        ).all()
    assert [d for d, _ in rows] == ["deny", "allow", "allow"]
    assert all(b"letter of 2026-11-20" in body for _, body in rows)


def test_plan_counts_exclusions_and_fixes_roles(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    subjects = prepare(stores, keyring, world, tmp_path)
    set_status(stores, subjects[0], "opted_out")
    set_status(stores, subjects[2], "objecting")
    shred_one(stores, keyring, world, subjects[1])
    key = str(identity().to_public())
    plan = make_plan(stores, world, key)
    assert plan.status == "pending" and plan.recipient == BUYER
    assert plan.exclusions == {"opted_out": 1, "objecting": 1, "shredded": 1}
    assert plan.required_roles == ["seller_steward", "counsel"]
    assert plan.still_needed == ["seller_steward", "counsel"]
    assert plan.fingerprints == [recipient_fingerprint(key)]
    sensitive = make_plan(stores, world, key, categories=["identity", "sensitive"])
    assert sensitive.required_roles == ["seller_steward", "counsel", "security_officer"]
    assert [p.id for p in flows.list_plans(stores, actor=P(world.steward), deal=world.deal)] == [
        plan.id,
        sensitive.id,
    ]
    assert flows.show_plan(stores, actor=P(world.steward), plan_id=plan.id).categories == CATS
    assert ("transfer.plan.create", "allow") in actions(stores)


def test_plan_inputs_are_checked(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    key = str(identity().to_public())
    with pytest.raises(Invalid, match="only age X25519 recipients"):
        make_plan(stores, world, "ssh-ed25519 AAAA")
    with pytest.raises(Invalid, match="not a valid age recipient"):
        make_plan(stores, world, "age1notakey")
    with pytest.raises(Invalid, match="unknown category"):
        make_plan(stores, world, key, categories=["everything"])
    with pytest.raises(Invalid, match="not an active bidder"):
        flows.create_plan(
            stores,
            actor=P(world.steward),
            deal=world.deal,
            dataset="crm",
            recipient="Law LLP",
            recipients=[key],
            categories=CATS,
            purpose="x",
        )
    with pytest.raises(Invalid, match="not the winning bidder"):
        flows.create_plan(
            stores,
            actor=P(world.steward),
            deal=world.deal,
            dataset="crm",
            recipient="Bidder B",
            recipients=[key],
            categories=CATS,
            purpose="x",
        )
    with pytest.raises(Invalid, match="purpose"):
        flows.create_plan(
            stores,
            actor=P(world.steward),
            deal=world.deal,
            dataset="crm",
            recipient=BUYER,
            recipients=[key],
            categories=CATS,
            purpose=" ",
        )
    with pytest.raises(Forbidden, match=r"plan\.create needs one of the roles: seller_steward"):
        flows.create_plan(
            stores,
            actor=P(world.bidder_person),
            deal=world.deal,
            dataset="crm",
            recipient=BUYER,
            recipients=[key],
            categories=CATS,
            purpose="x",
        )
    assert ("transfer.plan.create", "deny") in actions(stores)
    with pytest.raises(NotFound):
        flows.show_plan(stores, actor=P(world.steward), plan_id=99)
    with pytest.raises(Invalid, match="unknown status"):
        flows.list_plans(stores, actor=P(world.steward), deal=world.deal, status="done")


def test_plans_are_drawn_up_at_signing_or_closing(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, stage="due_diligence", agreement=False)
    key = str(identity().to_public())
    # the decision point refuses a plan before signing (a recorded denial)
    with pytest.raises(Forbidden, match=r"plan\.create is not possible at stage due_diligence"):
        make_plan(stores, world, key)
    assert actions(stores)[-1] == ("transfer.plan.create", "deny")
    admin.advance_deal(
        stores, code=world.deal, to="signing", winner=None, actor=P(world.steward), reason=None
    )
    plan = make_plan(stores, world, key)  # drawn up before closing ...
    with pytest.raises(Forbidden) as err:  # ... but approved only at closing, with an agreement
        flows.approve_plan(stores, actor=P(STEWARD2), plan_id=plan.id)
    assert "plan.approve is not possible at stage signing" in str(err.value)
    assert actions(stores)[-1] == ("transfer.plan.approve", "deny")
    admin.advance_deal(
        stores, code=world.deal, to="closing", winner=BUYER, actor=P(world.steward), reason=None
    )
    with pytest.raises(Forbidden, match="no transfer agreement of Bidder A is in force"):
        flows.approve_plan(stores, actor=P(STEWARD2), plan_id=plan.id)
    agreements.add_agreement(
        stores,
        actor=P(world.steward),
        deal=world.deal,
        organization=BUYER,
        kind="transfer",
        title="Transfer agreement",
        effective=date.today(),
        categories=["identity"],
    )
    with pytest.raises(Forbidden, match="covers dataset crm and categories identity, contact"):
        flows.approve_plan(stores, actor=P(STEWARD2), plan_id=plan.id)
    agreements.add_agreement(
        stores,
        actor=P(world.steward),
        deal=world.deal,
        organization=BUYER,
        kind="transfer",
        title="Transfer agreement (all data)",
        effective=date.today(),
    )
    assert flows.approve_plan(stores, actor=P(STEWARD2), plan_id=plan.id).still_needed == [
        "counsel"
    ]
    assert ("transfer.plan.approve", "deny") in actions(stores)


def test_approval_rules_follow_access_requests(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    plan = make_plan(stores, world, str(identity().to_public()))
    with pytest.raises(Forbidden, match=r"nobody may plan\.approve for themselves"):
        flows.approve_plan(stores, actor=P(world.steward), plan_id=plan.id)
    assert actions(stores)[-1] == ("transfer.plan.approve", "deny")
    with pytest.raises(Forbidden, match="none of the required roles"):
        flows.approve_plan(stores, actor=P(OFFICER), plan_id=plan.id)
    after = flows.approve_plan(stores, actor=P(STEWARD2), plan_id=plan.id, comment="scope checked")
    assert after.status == "pending" and after.still_needed == ["counsel"]
    with pytest.raises(Conflict, match="already decided"):
        flows.approve_plan(stores, actor=P(STEWARD2), plan_id=plan.id)
    done = flows.approve_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert done.status == "approved" and done.decided_at is not None
    assert [(a.approver, a.role) for a in done.approvals] == [
        (STEWARD2, "seller_steward"),
        (COUNSEL, "counsel"),
    ]
    with pytest.raises(Conflict, match="already approved"):
        flows.deny_plan(stores, actor=P(OFFICER), plan_id=plan.id, reason="late")
    assert ("transfer.plan.approved", None) in actions(stores)


def test_deny_is_final(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    prepare(stores, keyring, world, tmp_path)
    plan = make_plan(stores, world, str(identity().to_public()))
    with pytest.raises(Invalid, match="reason"):
        flows.deny_plan(stores, actor=P(COUNSEL), plan_id=plan.id, reason=" ")
    with pytest.raises(Forbidden, match="author of a plan"):
        flows.deny_plan(stores, actor=P(world.steward), plan_id=plan.id, reason="no")
    denied = flows.deny_plan(stores, actor=P(COUNSEL), plan_id=plan.id, reason="scope too wide")
    assert denied.status == "denied" and denied.approvals[0].comment == "scope too wide"
    assert denied.still_needed == []
    with pytest.raises(Conflict, match="already denied"):
        flows.approve_plan(stores, actor=P(STEWARD2), plan_id=plan.id)
    assert [
        p.id for p in flows.list_plans(stores, actor=P(COUNSEL), deal=world.deal, status="denied")
    ] == [plan.id]
