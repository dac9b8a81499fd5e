"""The personal information impact assessment (PIPL art. 55-56, GB/T 39335-2020): generated
from the store's facts (counts only), kept three years, signed off by counsel and the
security officer each in a role they hold (never the plan's author, never a bidder), and the
gate's rule pia-signed-off on both sides: missing, one sign-off, two, stale after a customer
objects, fresh again after a new version is signed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.compliance import rules_notice
from dealvault.compliance.pia_models import ComplianceImpactAssessment
from dealvault.compliance.pia_report import render_html
from dealvault.compliance.service import FindingOut
from dealvault.crypto.keyring import KeyRing
from dealvault.documents import write_document
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.flows import admin, compliance
from dealvault.flows import compliance_pia as pia
from dealvault.flows.context import AppStores
from tests.conftest import OP, STEWARD, P, World
from tests.transfer.test_plans import COUNSEL, OFFICER, identity, make_plan, prepare, set_status
from tests.vault.helpers import customer_row


@pytest.fixture(autouse=True)
def _no_notice_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The notice rules stay silent here (facts not gathered): tests/compliance/test_notices.py
    tests them, these tests the impact assessment's rule."""
    monkeypatch.setattr(rules_notice, "gather", lambda *a, **k: {})


def _pia_finding(stores: AppStores, plan_id: int) -> FindingOut | None:
    out = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan_id)
    found = {f.rule: f for f in out.findings if f.status == "open"}
    return found.get("pia-signed-off")


def test_generate_sign_and_the_gate(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    subjects = prepare(stores, keyring, world, tmp_path)
    plan = make_plan(stores, world, str(identity().to_public()))
    missing = _pia_finding(stores, plan.id)
    assert missing is not None and missing.blocking and missing.counts == {"assessments": 0}
    assert missing.source == "PIPL art. 55, 56; GB/T 39335-2020"

    for who in (world.bidder_person, COUNSEL):  # neither a steward nor the security officer
        with pytest.raises(Forbidden):
            pia.generate(stores, keyring, actor=P(who), plan_id=plan.id)
    with pytest.raises(NotFound, match="transfer plan 999"):
        pia.generate(stores, keyring, actor=P(STEWARD), plan_id=999)

    v1 = pia.generate(stores, keyring, actor=P(STEWARD), plan_id=plan.id)
    assert (v1.version, v1.generated_by, v1.stale, v1.signed_off) == (1, STEWARD, False, False)
    assert v1.kept_until == v1.generated_at.replace(year=v1.generated_at.year + 3)
    b = v1.inputs["basis"]
    assert (b["eligible"], b["exclusions"], b["recipient"], b["destination"]) == (
        12, {}, "Bidder A", "CN")  # fmt: skip
    assert v1.inputs["controls"]["encryption"]["customer_keys"] == 12
    assert v1.inputs["controls"]["access"]["recipient_transfer_agreements"] == 1
    assert [r.id for r in v1.risks] == ["purpose", "leak", "access", "rights"]
    assert v1.art56[0].verdict == "yes"
    unsigned = _pia_finding(stores, plan.id)
    assert unsigned is not None and unsigned.counts == {"pia": v1.id, "signoffs_missing": 2}

    # the plan's author holds the security officer's role too: still refused
    admin.add_member(stores, actor=OP, deal=world.deal, email=STEWARD, role="security_officer")
    with pytest.raises(Forbidden):
        pia.sign(stores, actor=P(STEWARD), pia_id=v1.id, role="security_officer")
    with pytest.raises(Forbidden):  # a role the person does not hold in the deal
        pia.sign(stores, actor=P(COUNSEL), pia_id=v1.id, role="security_officer")
    with pytest.raises(Forbidden):  # a bidder
        pia.sign(stores, actor=P(world.bidder_person), pia_id=v1.id, role="counsel")
    with pytest.raises(Invalid):
        pia.sign(stores, actor=P(COUNSEL), pia_id=v1.id, role="auditor")

    note = "purposes checked against the transfer agreement, clause 4"
    one = pia.sign(stores, actor=P(COUNSEL), pia_id=v1.id, role="counsel", note=note)
    assert [(s.role, s.person, s.note) for s in one.signoffs] == [("counsel", COUNSEL, note)]
    assert not one.signed_off
    with pytest.raises(Conflict, match="already signed off as counsel"):
        pia.sign(stores, actor=P(COUNSEL), pia_id=v1.id, role="counsel")
    half = _pia_finding(stores, plan.id)  # one sign-off of two: still blocking
    assert half is not None and half.counts == {"pia": v1.id, "signoffs_missing": 1}
    assert "security officer" in half.message

    two = pia.sign(stores, actor=P(OFFICER), pia_id=v1.id, role="security_officer")
    assert two.signed_off and {s.role for s in two.signoffs} == {"counsel", "security_officer"}
    assert _pia_finding(stores, plan.id) is None
    assert compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id).passed

    # a customer objects: the assessment no longer matches the plan's facts
    set_status(stores, subjects[0], "objecting")
    stale = _pia_finding(stores, plan.id)
    assert stale is not None and "no longer matches" in stale.message
    assert stale.counts == {"pia": v1.id}
    assert pia.show(stores, actor=P(COUNSEL), pia_id=v1.id).stale

    v2 = pia.generate(stores, keyring, actor=P(OFFICER), plan_id=plan.id)
    assert (v2.version, v2.inputs["basis"]["exclusions"]) == (2, {"objecting": 1})
    assert v2.sha256 != v1.sha256
    with pytest.raises(Conflict, match="not the plan's latest"):
        pia.sign(stores, actor=P(COUNSEL), pia_id=v1.id, role="counsel")
    pia.sign(stores, actor=P(COUNSEL), pia_id=v2.id, role="counsel")
    # the security officer generated v2 but did not author the plan: may sign it off
    pia.sign(stores, actor=P(OFFICER), pia_id=v2.id, role="security_officer")
    fresh = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert {f.rule: f.status for f in fresh.findings}["pia-signed-off"] == "cleared"
    assert fresh.passed

    lines = pia.list_pias(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert [(x.version, x.stale, sorted(x.signoffs)) for x in lines] == [
        (1, True, ["counsel", "security_officer"]),
        (2, False, ["counsel", "security_officer"]),
    ]
    with pytest.raises(Forbidden):
        pia.list_pias(stores, actor=P(world.bidder_person), plan_id=plan.id)

    with stores.records_session() as s:
        stored = list(s.scalars(select(ComplianceImpactAssessment.inputs)))
        bodies = [json.loads(x) for x in s.scalars(
            select(AuditEvent.body).where(AuditEvent.action.like("compliance.pia%")))]  # fmt: skip
    # no personal value in the stored inputs nor the events
    text = json.dumps([stored, bodies], ensure_ascii=False)
    for i in range(1, 13):
        row = customer_row(i)
        for value in (row["姓名"], row["身份证号"], row["手机号"], row["邮箱"], row["地址"]):
            assert value not in text
    assert subjects[0] not in text and note not in text
    signs = [x for x in bodies if x["action"] == "compliance.pia_sign" and x["decision"] == "allow"]
    assert {x["counts"]["chars"] for x in signs} == {len(note), 0}
    denied = {(x["actor"], x["action"]) for x in bodies if x["decision"] == "deny"}
    assert (STEWARD, "compliance.pia_sign") in denied
    assert (world.bidder_person, "compliance.pia") in denied
    reasons = [
        x.get("reasons") for x in bodies if x["decision"] == "deny" and x["actor"] == STEWARD
    ]
    assert any("author" in " ".join(r or ()) for r in reasons)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_export_html_and_pdf(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    plan = make_plan(
        stores, world, str(identity().to_public()), categories=["identity", "sensitive"]
    )
    made = pia.generate(stores, keyring, actor=P(STEWARD), plan_id=plan.id)
    data = pia.show(stores, actor=P(COUNSEL), pia_id=made.id, export=True)
    html = render_html(data)
    headings = ("个人信息保护影响评估报告", "评估准备", "数据映射", "风险源识别",
                "对个人权益的影响", "安全措施", "风险评级", "Sign-off", "not signed")  # fmt: skip
    for heading in headings:
        assert heading in html
    assert write_document(tmp_path / "pia.html", html) == "html"
    assert (tmp_path / "pia.html").stat().st_mode & 0o777 == 0o600
    assert write_document(tmp_path / "pia.pdf", html) == "pdf"
    pdf = (tmp_path / "pia.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    out = " ".join(text.stdout.decode("utf-8").split())
    assert "Personal information impact assessment" in out and "风险评级" in out
    with stores.records_session() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("compliance.pia%"))))  # fmt: skip
    assert actions == {"compliance.pia", "compliance.pia_export"}
