"""The incident's clocks and notices over HTTP, and a partner's acknowledgement through their
own authenticated identity: the addressed party's person only."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dealvault.api.app import create_app
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.flows import incident_partners, incidents
from dealvault.flows.context import AppStores
from tests.conftest import P
from tests.incidents.conftest import ANALYST, COUNSEL, SECURITY, Scene
from tests.monitor.test_api import _token


@pytest.mark.parametrize("backend", ["sqlite"])
def test_clocks_notices_and_a_partners_ack_over_http(
    stores: AppStores, keyring: KeyRing, scene: Scene, tmp_path: Path
) -> None:
    inc = incidents.open_incident(stores, actor=P(SECURITY), title="t", alert_ids=[scene.alert])
    n = incident_partners.issue_partner_notice(stores, actor=P(SECURITY), incident_id=inc.id,
                                               contact="security desk")  # fmt: skip
    settings = Settings(home=tmp_path)
    http = TestClient(create_app(settings, keyring=keyring, stores=stores),
                      base_url="https://testserver")  # fmt: skip
    officer = {"Authorization": f"Bearer {_token(stores, settings, SECURITY)}"}
    analyst = {"Authorization": f"Bearer {_token(stores, settings, ANALYST)}"}
    counsel = {"Authorization": f"Bearer {_token(stores, settings, COUNSEL)}"}
    got = http.get(f"/api/incidents/{inc.id}/clocks", headers=officer)
    assert got.status_code == 200, got.text
    assert [c["id"] for c in got.json()] == ["pipl-authority", "pipl-customers"]
    assert http.get(f"/api/incidents/{inc.id}/clocks", headers=analyst).status_code == 403
    ack = f"/api/incidents/{inc.id}/partner-notices/{n.id}/ack"
    assert http.post(ack, headers=counsel).status_code == 403  # the seller's: not addressed
    wrong = http.post(f"/api/incidents/999/partner-notices/{n.id}/ack", headers=analyst)
    assert wrong.status_code == 404
    done = http.post(ack, headers=analyst)
    assert done.status_code == 200, done.text
    assert [a["organisation"] for a in done.json()["acknowledged"]] == ["Bidder A"]
    assert done.json()["body"] is None
    assert http.post(ack, headers=analyst).status_code == 409
    listed = http.get(f"/api/incidents/{inc.id}/notices", headers=officer).json()
    assert [(x["kind"], x["waiting"]) for x in listed] == [("partner", ["Bidder B"])]
    assert http.get(f"/api/incidents/{inc.id}/notice-batches", headers=officer).json() == []
