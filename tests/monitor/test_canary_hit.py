"""Canary hits: the contact point of a canary used outside names the recipient it was released
to, raises a critical alert and freezes the deal; the phone or e-mail itself is never
recorded, shown or put in an error. Reported at the CLI's flow and through the gateway's
HMAC-signed webhook."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from dealvault.access import service as access
from dealvault.api.app import create_app
from dealvault.audit.models import AuditEvent
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.errors import Invalid
from dealvault.flows import admin
from dealvault.flows.canary_hits import report_hit
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import DisclosureRequest, disclose
from dealvault.flows.store import grant_role
from dealvault.monitor.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from dealvault.transfer.canaries import CanaryRecord
from tests.conftest import OP, SELLER, P, World
from tests.transfer.test_canaries import open_canaries
from tests.vault.helpers import customer_row, do_import, write_csv

GATEWAY = "sms-gateway@seller.example"
SECRET = "the gateway's shared secret (test)"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Released:
    world: World
    canaries: dict[str, list[CanaryRecord]]  # recipient -> its canaries


@pytest.fixture
def released(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> Released:
    """Twelve customers, released pseudonymized to Bidder A and to Bidder B (with canaries)."""
    rows = [customer_row(i) for i in range(1, 13)]
    do_import(stores, keyring, write_csv(tmp_path / "c.csv", rows), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=P(world.steward),
                       reason="due diligence")  # fmt: skip
    for bidder in ("Bidder A", "Bidder B"):
        req = DisclosureRequest(
            actor=P(world.steward), deal=world.deal, dataset="crm", purpose="clean team",
            level=Level.PSEUDONYMIZED, recipient=bidder, seed=1,
        )  # fmt: skip
        disclose(stores, keyring, request=req)
    with stores.records_session() as s:
        deal = access.get_deal(s, code=world.deal)
        names = {o.id: o.name for o in access.list_organizations(s)}
        deal_id = deal.id
    by: dict[str, list[CanaryRecord]] = {}
    for c in open_canaries(stores, keyring, deal_id):
        by.setdefault(names[c.recipient_id], []).append(c)
    assert sorted(by) == ["Bidder A", "Bidder B"]
    return Released(world=world, canaries=by)


def _stored_text(stores: AppStores) -> str:
    """Everything the record store keeps in text about alerts and events."""
    with stores.records_engine.connect() as conn:
        bodies = conn.execute(text("SELECT body FROM audit_events")).scalars().all()
        alerts = conn.execute(text("SELECT title, explanation, details, subject FROM alerts")).all()
    return "\n".join([*(bytes(b).decode() for b in bodies), *("|".join(a) for a in alerts)])


def test_a_hit_names_the_recipient_and_freezes_the_deal(
    stores: AppStores, keyring: KeyRing, released: Released
) -> None:
    canary = released.canaries["Bidder B"][0]
    digits = canary.phone[-11:]
    shown = f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}"  # as a gateway may write it
    out = report_hit(stores, keyring, actor=OP, channel="phone", value=shown, at=AT)
    assert out.matched and (out.recipient, out.deal, out.dataset) == (
        "Bidder B", released.world.deal, "crm"
    )  # fmt: skip
    assert out.canary == canary.subject_id and out.releases == 1 and out.frozen
    with stores.records_session() as s:
        assert access.get_deal(s, code=released.world.deal).frozen
    # the same canary's e-mail, later that day: the same alert, counted again
    again = report_hit(
        stores, keyring, actor=OP, channel="email", value=canary.email.upper(), at=AT
    )
    assert again.alert == out.alert and not again.frozen
    with stores.records_session() as s:
        row = s.execute(
            text("SELECT severity, subject, count, froze, explanation FROM alerts")
        ).one()
        hits = [
            json.loads(b)
            for b in s.scalars(select(AuditEvent.body).where(AuditEvent.action == "canary.hit"))
        ]
    assert row[:4] == ("critical", f"canary #{canary.id}", 2, True)
    assert "released only to Bidder B in 1 audited release(s)" in row[4]
    assert hits[0]["objects"]["recipient"] == "Bidder B"
    assert hits[0]["objects"]["canary"] == canary.subject_id
    stored = _stored_text(stores)
    for value in (digits, canary.email, canary.email.lower(), canary.name):
        assert value not in stored


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_unknown_or_malformed_contact_raises_nothing_and_shows_nothing(
    stores: AppStores, keyring: KeyRing, released: Released
) -> None:
    out = report_hit(stores, keyring, actor=OP, channel="phone", value="13912345678", at=AT)
    assert not out.matched and out.alert is None
    with stores.records_session() as s:
        (event,) = [
            json.loads(b)
            for b in s.scalars(select(AuditEvent.body).where(AuditEvent.action == "canary.hit"))
        ]
    assert event["objects"]["result"] == "no canary" and len(event["objects"]["contact_mac"]) == 64
    assert "13912345678" not in _stored_text(stores)
    for channel, value in (("phone", "+1 555 0100 999"), ("email", "someone.at.example")):
        with pytest.raises(Invalid) as err:
            report_hit(stores, keyring, actor=OP, channel=channel, value=value, at=AT)
        assert value not in str(err.value)


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret.encode(), timestamp=stamp, body=body),
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_gateway_webhook_is_signed_and_acts_as_its_account(
    stores: AppStores, keyring: KeyRing, released: Released, tmp_path: Path
) -> None:
    admin.create_person(stores, actor=OP, email=GATEWAY, name="SMS gateway", organization=SELLER)
    grant_role(stores, actor=OP, email=GATEWAY, role="canary_gateway")
    settings = Settings(
        home=tmp_path,
        canary_webhook_secret=SECRET,
        canary_gateway=GATEWAY,  # type: ignore[arg-type]
    )
    http = TestClient(
        create_app(settings, keyring=keyring, stores=stores),
        base_url="https://testserver",
        client=("203.0.113.9", 4000),
    )
    canary = released.canaries["Bidder A"][1]
    body = json.dumps({"email": canary.email, "at": AT.isoformat()}).encode()
    for headers in (
        {},
        _signed(body, secret="another secret"),
        {**_signed(body), TIMESTAMP_HEADER: "1"},
    ):
        refused = http.post("/api/canary/hits", content=body, headers=headers)
        assert refused.status_code == 401, refused.text
        assert canary.email not in refused.text
    r = http.post("/api/canary/hits", content=body, headers=_signed(body))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["recipient"] == "Bidder A" and got["frozen"] and canary.email not in r.text
    with stores.records_session() as s:
        (event,) = [
            json.loads(b)
            for b in s.scalars(select(AuditEvent.body).where(AuditEvent.action == "canary.hit"))
        ]
    assert (event["actor"], event["authn"], event["client"]) == (GATEWAY, "webhook", "203.0.113.9")
    assert event["objects"]["source"] == "webhook"
    bad = b'{"phone": "1", "email": "x@y.example"}'
    assert http.post("/api/canary/hits", content=bad, headers=_signed(bad)).status_code == 400
    off = TestClient(create_app(Settings(home=tmp_path), keyring=keyring, stores=stores))
    assert off.post("/api/canary/hits", content=body, headers=_signed(body)).status_code == 404
