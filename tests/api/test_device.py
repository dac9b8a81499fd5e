"""The device behind every signed-in API request: the client's device header, recorded only
as a hash; an API token without one stands for the device; the remote CLI keeps its device
value (mode 0600) and sends it; events without a device keep the old body."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from sqlalchemy import select

from dealvault.access.device import COOKIE, HEADER, device_id, new_value
from dealvault.audit.models import AuditEvent
from dealvault.audit.service import EventIn, event_body
from dealvault.remote import device_value
from tests.api.conftest import ANALYST, Server, activate, remote_of
from tests.api.test_signin import invite


def bodies(server: Server) -> list[bytes]:
    with server.stores.records_session() as s:
        return [bytes(b) for b in s.scalars(select(AuditEvent.body).order_by(AuditEvent.seq))]


def acts(server: Server, action: str) -> list[dict[str, object]]:
    return [e for e in map(json.loads, bodies(server)) if e["action"] == action]


def test_the_device_id_is_a_short_hash_of_a_well_formed_value_only() -> None:
    raw = new_value()
    assert device_id(raw) == "dev:" + hashlib.sha256(raw.encode()).hexdigest()[:16]
    assert device_id(raw) != device_id(new_value())
    for bad in (None, "", "short", "x" * 129, "has space" * 3, "ünïcode-value-0123456789"):
        assert device_id(bad) is None


def test_the_body_names_the_device_only_when_there_is_one() -> None:
    old = EventIn(action="deal.list", actor=ANALYST, client="10.0.0.1")
    assert "device" not in json.loads(event_body(1, "2026-03-02T01:00:00.000Z", old, None))
    new = EventIn(action="deal.list", actor=ANALYST, client="10.0.0.1", device="dev:0123")
    doc = json.loads(event_body(1, "2026-03-02T01:00:00.000Z", new, None))
    assert doc["device"] == "dev:0123"


def test_api_requests_record_the_header_hashed_else_the_token_stands_for_it(
    server: Server,
) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    made = me.post("/api/account/tokens", json={"name": "script", "scopes": ["read"], "days": 7})
    secret, tid = made.json()["secret"], made.json()["token"]["id"]
    raw = new_value()
    for device in (raw, None, "not a device value!"):  # the last is malformed: ignored
        http = server.client()
        http.headers["Authorization"] = f"Bearer {secret}"
        if device is not None:
            http.headers[HEADER] = device
        assert http.get("/api/deals").status_code == 200
    by_token = [e for e in acts(server, "deal.list") if e["session"] == tid]
    assert [e["device"] for e in by_token] == [device_id(raw), f"tok:{tid}", f"tok:{tid}"]
    # a session: the browser's device cookie, or nothing (the body is as before)
    assert me.http.get("/api/deals").status_code == 200
    cookie = new_value()
    me.http.cookies.set(COOKIE, cookie)
    assert me.http.get("/api/deals").status_code == 200
    by_session = [e for e in acts(server, "deal.list") if e["session"] != tid]
    assert ["device" in e for e in by_session] == [False, True]
    assert by_session[1]["device"] == device_id(cookie)
    # a refusal is recorded with the device too
    refused = server.client()
    refused.headers.update({"Authorization": f"Bearer {secret}", HEADER: raw})
    body = {"dataset": "crm", "categories": ["contact"], "level": "masked", "purpose": "p",
            "duration_days": 5}  # fmt: skip
    assert refused.post(f"/api/deals/{server.world.deal}/requests", json=body).status_code == 403
    denied = [e for e in map(json.loads, bodies(server)) if e.get("decision") == "deny"]
    assert denied and denied[-1]["device"] == device_id(raw)
    log = b"\n".join(bodies(server))
    assert raw.encode() not in log and cookie.encode() not in log


def test_the_remote_cli_keeps_one_private_device_value_and_sends_it(
    server: Server, tmp_path: Path
) -> None:
    path = tmp_path / "cfg" / "device"
    first = device_value(path)
    assert device_value(path) == first and device_id(first) is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("damaged\n")
    assert device_value(path) not in (first, "damaged")  # a damaged file is made again
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    remote_of(server, me).list_deals()
    (listed,) = acts(server, "deal.list")
    assert listed["device"] == device_id(device_value())  # DEALVAULT_DEVICE_FILE of the tests
    assert device_value().encode() not in b"\n".join(bodies(server))
