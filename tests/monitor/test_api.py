"""The alerts over HTTP (and the remote CLI's calls of them), for the deal's security officer
with an API token; refused to a party without the role."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dealvault.access import service as access
from dealvault.access.principal import Authn, Principal
from dealvault.accounts.service import account_of
from dealvault.api.app import create_app
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.flows.accounts import AccountRules
from dealvault.flows.context import AppStores
from dealvault.flows.own_account import create_token
from dealvault.remote import Login, Remote
from tests.conftest import World
from tests.monitor.conftest import SECURITY


def _token(stores: AppStores, settings: Settings, email: str) -> str:
    """An API token of ``email`` (as a complete sign-in would make it), with an account."""
    with stores.unit_of_work() as uow:
        account_of(uow.records, access.get_person(uow.records, email=email), create=True)
    signed_in = Principal(email=email, authn=Authn.PASSWORD_TOTP)
    made = create_token(stores, actor=signed_in, rules=AccountRules.from_settings(settings),
                        name="test", scopes=["read", "manage"], days=1)  # fmt: skip
    return made.secret


@pytest.mark.parametrize("backend", ["sqlite"])
def test_alerts_over_http_and_the_remote_cli(
    stores: AppStores, keyring: KeyRing, raised: World, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path)
    app = create_app(settings, keyring=keyring, stores=stores)
    http = TestClient(app, base_url="https://testserver")
    officer = {"Authorization": f"Bearer {_token(stores, settings, SECURITY)}"}
    analyst = {"Authorization": f"Bearer {_token(stores, settings, raised.bidder_person)}"}
    listed = http.get(f"/api/deals/{raised.deal}/alerts", headers=officer)
    assert listed.status_code == 200, listed.text
    (alert,) = listed.json()
    assert (alert["rule"], alert["subject"]) == ("denials", raised.bidder_person)
    assert [a["id"] for a in http.get("/api/alerts", headers=officer).json()] == [alert["id"]]
    one = http.get(f"/api/alerts/{alert['id']}", headers=officer)
    assert one.status_code == 200 and one.json()["explanation"] == alert["explanation"]
    assert http.get(f"/api/deals/{raised.deal}/alerts", headers=analyst).status_code == 403
    assert http.get("/api/alerts", headers=analyst).status_code == 403
    assert http.get("/api/alerts", headers=officer, params={"status": "x"}).status_code == 422
    refused = http.post(f"/api/alerts/{alert['id']}/ack", headers=analyst, json={"note": "x"})
    assert refused.status_code == 403
    login = Login(server="https://testserver", email=SECURITY, kind="token",
                  secret=officer["Authorization"][7:])  # fmt: skip
    remote = Remote(login, transport=http._transport)
    assert [a.id for a in remote.alerts(deal=raised.deal, status="open", severity=None,
                                        limit=10)] == [alert["id"]]  # fmt: skip
    done = remote.acknowledge_alert(alert["id"], note="asked Bidder A to stop")
    assert done.status == "acknowledged" and done.acked_by == SECURITY
    assert remote.alert(alert["id"]).ack_note == "asked Bidder A to stop"
    again = http.post(f"/api/alerts/{alert['id']}/ack", headers=officer, json={"note": "again"})
    assert again.status_code == 409
