"""The compliance gate: a plan is checked against every rule (each finding with its rule and
legal source, blocking or advisory), findings clear when resolved, counsel alone waives one
with a written reason and never as the plan's author, a waiver lapses when the counts change,
and nothing recorded holds a personal value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from dealvault.audit.models import AuditEvent
from dealvault.compliance import rules_notice
from dealvault.compliance.rules import RULES, PlanFacts, evaluate
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Conflict, Forbidden, Invalid
from dealvault.flows import compliance
from dealvault.flows.context import AppStores
from dealvault.vault.models import CustomerRecord
from tests.conftest import STEWARD, P, World
from tests.transfer.test_plans import COUNSEL, OFFICER, identity, make_plan, prepare, set_status
from tests.vault.helpers import customer_row, do_import, ric, write_csv


@pytest.fixture(autouse=True)
def _no_notice_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The notice rules stay silent here (facts not gathered): tests/compliance/test_notices.py
    tests them, these tests the gate's other rules and its records."""
    monkeypatch.setattr(rules_notice, "gather", lambda *a, **k: {})


def _facts(**over: object) -> PlanFacts:
    base: dict[str, object] = {
        "plan_id": 1, "deal": "d", "deal_kind": "asset", "dataset": "crm", "recipient": "Buyer",
        "categories": ("identity", "contact"), "purpose": "hand-over of the customer base",
        "eligible": 100,
    }  # fmt: skip
    return PlanFacts(**{**base, **over})  # type: ignore[arg-type]


def _rules(facts: PlanFacts) -> set[str]:
    return {f.rule for f in evaluate(facts)}


def test_each_rule_on_both_sides_of_its_threshold() -> None:
    assert _rules(_facts()) == set()
    # children counted at import: blocking only while some customers carry no flags
    assert _rules(_facts(minors=1, flags_unknown=1)) == {"minors-guardian-consent", "flags-unknown"}
    assert _rules(_facts(minors=1)) == set()  # flagged one by one: left out, not blocking
    assert _rules(_facts(minors=0, flags_unknown=1)) == {"flags-unknown"}
    assert "sensitive-separate-consent" in _rules(_facts(categories=("identity", "sensitive")))
    assert "sensitive-separate-consent" not in _rules(
        _facts(categories=("identity", "sensitive"), eligible=0)
    )
    assert "purpose-stated" in _rules(_facts(purpose="closing"))
    assert "purpose-stated" not in _rules(_facts(purpose="hand over customers"))
    found = evaluate(_facts(exclusions={"objecting": 2, "opted_out": 1}))
    assert [(f.rule, f.blocking, dict(f.counts)) for f in found] == [
        ("exclusions-counted", False, {"objecting": 2, "opted_out": 1})
    ]
    assert all(r.source for r in RULES) and len({r.id for r in RULES}) == len(RULES)


def test_check_waive_and_clear(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    subjects = prepare(stores, keyring, world, tmp_path)
    child = customer_row(90, 身份证号=ric(birth="20200101", seq="090"), 出生日期="2020-01-01")
    do_import(stores, keyring, write_csv(tmp_path / "kids.csv", [child]), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    # as if imported before children were flagged one by one: the gate cannot tell who
    with stores.records_session() as s, s.begin():
        s.execute(update(CustomerRecord).values(flags=None))
    set_status(stores, subjects[0], "objecting")
    plan = make_plan(stores, world, str(identity().to_public()))
    out = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    by_rule = {f.rule: f for f in out.findings}
    # (pia-signed-off: no impact assessment of the plan yet, tests/compliance/test_pia.py)
    assert set(by_rule) == {
        "minors-guardian-consent", "exclusions-counted", "marketing-consent", "pia-signed-off",
        "flags-unknown",
    }  # fmt: skip
    minors = by_rule["minors-guardian-consent"]
    assert minors.blocking and minors.source == "PIPL art. 28, 31" and minors.counts["minors"] == 1
    assert minors.counts["unflagged"] == 12  # the active customers imported without flags
    assert not by_rule["exclusions-counted"].blocking
    assert (out.blocking, out.passed) == (2, False)

    with pytest.raises(Forbidden):  # the plan's author may not excuse it
        compliance.waive_finding(stores, actor=P(STEWARD), finding_id=minors.id,
                                 reason="the child record is a test account")  # fmt: skip
    with pytest.raises(Forbidden):  # nor anyone but counsel
        compliance.waive_finding(stores, actor=P(OFFICER), finding_id=minors.id,
                                 reason="the child record is a test account")  # fmt: skip
    with pytest.raises(Invalid, match="written reason"):
        compliance.waive_finding(stores, actor=P(COUNSEL), finding_id=minors.id, reason="ok")
    waived = compliance.waive_finding(
        stores, actor=P(COUNSEL), finding_id=minors.id,
        reason="guardian consent on paper, file 2026-117, checked by counsel",
    )  # fmt: skip
    assert (waived.status, waived.waived_by) == ("waived", COUNSEL)
    with pytest.raises(Conflict):
        compliance.waive_finding(stores, actor=P(COUNSEL), finding_id=minors.id,
                                 reason="waived a second time, by mistake")  # fmt: skip
    again = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    # only the impact assessment's finding stays open
    assert again.blocking == 1 and {f.rule: f.status for f in again.findings}[
        "minors-guardian-consent"] == "waived"  # fmt: skip

    # the counts change (another child imported): the waiver lapses
    other = customer_row(91, 身份证号=ric(birth="20210101", seq="091"), 出生日期="2021-01-01")
    do_import(stores, keyring, write_csv(tmp_path / "kids2.csv", [other]),
              actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    lapsed = compliance.check_plan(stores, actor=P(STEWARD), plan_id=plan.id)
    assert not lapsed.passed
    assert {f.rule: f.status for f in lapsed.findings}["minors-guardian-consent"] == "open"
    listed = compliance.list_findings(stores, actor=P(OFFICER), plan_id=plan.id)
    assert listed.findings == lapsed.findings

    with stores.records_session() as s:
        bodies = [json.loads(b) for b in s.scalars(
            select(AuditEvent.body).where(AuditEvent.action.like("compliance.%")))]  # fmt: skip
    assert {b["action"] for b in bodies} == {
        "compliance.check", "compliance.waive", "compliance.findings"}  # fmt: skip
    text = json.dumps(bodies, ensure_ascii=False)
    assert "guardian consent on paper" not in text and child["身份证号"] not in text
    denied = [b for b in bodies if b["decision"] == "deny"]
    assert {d["actor"] for d in denied} == {STEWARD, OFFICER}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_resolved_finding_clears(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    subjects = prepare(stores, keyring, world, tmp_path)
    # identity only: no contact details, so no marketing restriction to find
    plan = make_plan(stores, world, str(identity().to_public()), categories=["identity"])
    first = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id).findings
    assert [f.rule for f in first] == ["pia-signed-off"]  # no impact assessment yet
    set_status(stores, subjects[1], "opted_out")
    out = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert [(f.rule, f.counts) for f in out.findings] == [
        ("exclusions-counted", {"opted_out": 1}),
        ("pia-signed-off", {"assessments": 0}),
    ]
    assert out.blocking == 1  # the exclusions are advisory only
