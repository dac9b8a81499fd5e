"""Partner notices: signed with the log's key, verified offline with its public key (a
tampered copy fails), no personal value; acknowledged by the addressed parties' people only,
and the incident's notice lists who acknowledged and who has not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Conflict, Forbidden, IntegrityError, Invalid
from dealvault.flows import admin, incident_partners, incidents
from dealvault.flows.context import AppStores
from tests.conftest import OP, SELLER, STEWARD, P
from tests.incidents.conftest import ANALYST, COUNSEL, ROWS, SECURITY, Scene, release

CONTACT = "security desk, +86 10 0000 0000"
OTHER = "someone@bidder-c.example"


def _personal(text: str) -> list[str]:
    return [v for r in ROWS for k, v in r.items() if k in ("姓名", "手机号", "邮箱", "身份证号")
            and v in text]  # fmt: skip


def test_signed_verified_offline_and_tampering_fails(
    stores: AppStores, keyring: KeyRing, scene: Scene, tmp_path: Path
) -> None:
    release(stores, keyring, scene.world, "Bidder A")
    inc = incidents.open_incident(stores, actor=P(SECURITY), title="t", alert_ids=[scene.alert])
    n = incident_partners.issue_partner_notice(stores, actor=P(SECURITY), incident_id=inc.id,
                                               contact=CONTACT)  # fmt: skip
    note = n.body or ""
    assert n.addressees == ["Bidder A", "Bidder B"] and n.waiting == ["Bidder A", "Bidder B"]
    assert "customers concerned: 12" in note and "held by: Bidder A 12" in note
    assert _personal(note) == [] and ANALYST not in note and SECURITY not in note
    assert f"what: alert {scene.alert}: rule denials (warning), 1 event(s)" in note
    key = stores.audit.verifier
    assert key is not None
    good, bad, junk = tmp_path / "n.note", tmp_path / "tampered.note", tmp_path / "junk.note"
    good.write_text(note, encoding="utf-8")
    bad.write_text(note.replace("customers concerned: 12", "customers concerned: 1"))
    junk.write_text("not a note\n")
    ok = incident_partners.verify_partner_notice(good, keys=[key.key_string()])
    assert ok.fields["incident"] == [str(inc.id)] and ok.fields["contact"] == [CONTACT]
    with pytest.raises(IntegrityError, match=r"tampered\.note: the partner notice does not verify"):
        incident_partners.verify_partner_notice(bad, keys=[key.key_string()])
    with pytest.raises(Invalid, match=r"\-\-key"):
        incident_partners.verify_partner_notice(good, keys=[])
    with pytest.raises(Invalid, match=r"junk\.note"):
        incident_partners.verify_partner_notice(junk, keys=[key.key_string()])


def test_acks_by_the_addressed_parties_only(stores: AppStores, scene: Scene) -> None:
    admin.create_organization(stores, actor=OP, name="Bidder C", kind="bidder")
    admin.create_person(stores, actor=OP, email=OTHER, name="Other", organization="Bidder C")
    admin.create_deal(stores, actor=OP, code="other", name="Other", kind="asset", seller=SELLER,
                      bidders=["Bidder C"], stewards=[STEWARD])  # fmt: skip
    admin.add_member(stores, actor=OP, deal="other", email=OTHER, role="bidder_business")
    inc = incidents.open_incident(stores, actor=P(SECURITY), title="t", alert_ids=[scene.alert])
    n = incident_partners.issue_partner_notice(stores, actor=P(SECURITY), incident_id=inc.id,
                                               contact=CONTACT)  # fmt: skip
    with pytest.raises(Forbidden):  # a person of another deal
        incident_partners.acknowledge(stores, actor=P(OTHER), notice_id=n.id)
    with pytest.raises(Forbidden):  # the seller's own counsel: not addressed to the seller
        incident_partners.acknowledge(stores, actor=P(COUNSEL), notice_id=n.id)
    with pytest.raises(Forbidden):  # the seller's steward: not a role that acknowledges
        incident_partners.acknowledge(stores, actor=P(STEWARD), notice_id=n.id)
    out = incident_partners.acknowledge(stores, actor=P(ANALYST), notice_id=n.id)
    assert [(a.organisation, a.email) for a in out.acknowledged] == [("Bidder A", ANALYST)]
    assert out.waiting == ["Bidder B"]
    with pytest.raises(Conflict, match="already"):
        incident_partners.acknowledge(stores, actor=P(ANALYST), notice_id=n.id)
    with stores.records_session() as s:
        rows = s.execute(select(AuditEvent.actor, AuditEvent.decision, AuditEvent.body).where(
            AuditEvent.action.in_(("incident.partner_ack", "incident.partner_notice")))
            .order_by(AuditEvent.seq)).all()  # fmt: skip
    assert [(a, d) for a, d, _ in rows] == [
        (SECURITY, "allow"), (OTHER, "deny"), (COUNSEL, "deny"), (STEWARD, "deny"),
        (ANALYST, "allow"),
    ]  # fmt: skip
    text = "\n".join(json.dumps(json.loads(b), ensure_ascii=False) for _, _, b in rows)
    assert CONTACT not in text and _personal(text) == []
