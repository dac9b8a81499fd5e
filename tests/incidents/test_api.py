"""Incidents over HTTP with the security officer's API token: opened from an alert and by
hand, team, note, tasks (overdue flagged), timeline, impact, close; a person of another
organisation is refused every one (recorded), and no answer holds a personal value."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dealvault.api.app import create_app
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from tests.incidents.conftest import ANALYST, COUNSEL, ROWS, SECURITY, Scene, release
from tests.monitor.test_api import _token

PHONE = ROWS[0]["手机号"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_incidents_over_http(
    stores: AppStores, keyring: KeyRing, scene: Scene, tmp_path: Path
) -> None:
    release(stores, keyring, scene.world, "Bidder A")
    settings = Settings(home=tmp_path)
    http = TestClient(create_app(settings, keyring=keyring, stores=stores),
                      base_url="https://testserver")  # fmt: skip
    officer = {"Authorization": f"Bearer {_token(stores, settings, SECURITY)}"}
    analyst = {"Authorization": f"Bearer {_token(stores, settings, ANALYST)}"}
    deal = scene.world.deal

    opened = http.post("/api/incidents", headers=officer,
                       json={"title": "refusals", "alert_ids": [scene.alert]})  # fmt: skip
    assert opened.status_code == 201, opened.text
    inc = opened.json()
    assert (inc["deal"], inc["severity"], inc["alerts"]) == (deal, "warning", [scene.alert])
    base = f"/api/incidents/{inc['id']}"
    by_hand = http.post("/api/incidents", headers=officer, json={
        "title": "lost laptop", "deal": deal, "severity": "critical",
        "since": (utcnow() - timedelta(days=1)).replace(tzinfo=None).isoformat(),
    })  # fmt: skip
    assert by_hand.status_code == 201 and by_hand.json()["severity"] == "critical"
    assert http.post("/api/incidents", headers=officer, json={"title": "x"}).status_code == 400
    team = http.post(f"{base}/team", headers=officer, json={"email": COUNSEL, "role": "legal"})
    assert [m["email"] for m in team.json()["team"]] == [COUNSEL]
    again = http.post(f"{base}/team", headers=officer, json={"email": COUNSEL, "role": "legal"})
    assert again.status_code == 409
    noted = http.post(f"{base}/notes", headers=officer, json={"text": f"called {PHONE}"})
    assert noted.status_code == 200 and len(noted.json()["notes"]) == 1

    due = (utcnow() + timedelta(hours=2)).isoformat()
    body = {"title": "review the notices", "owner": COUNSEL, "due": due}
    task = http.post(f"{base}/tasks", headers=officer, json=body)
    assert task.status_code == 201, task.text
    assert (task.json()["owner"], task.json()["overdue"]) == (COUNSEL, False)
    stranger = http.post(f"{base}/tasks", headers=officer,
                         json={"title": "x", "owner": ANALYST, "due": due})  # fmt: skip
    assert stranger.status_code == 400 and "cannot own a task" in stranger.json()["message"]
    past = http.post(f"{base}/tasks", headers=officer, json={
        "title": "x", "owner": SECURITY, "due": (utcnow() - timedelta(hours=1)).isoformat()
    })  # fmt: skip
    assert past.status_code == 400
    tasks = http.get(f"{base}/tasks", headers=officer).json()
    assert [t["id"] for t in tasks] == [task.json()["id"]]
    listed = http.get("/api/incidents", headers=officer, params={"deal": deal, "status": "open"})
    assert [i["id"] for i in listed.json()] == [by_hand.json()["id"], inc["id"]]
    shown = http.get(base, headers=officer, params={"timeline": "true"}).json()
    assert {e["kind"] for e in shown["timeline"]} >= {"alert", "note", "task", "event"}
    timeline = http.get(f"{base}/timeline", headers=officer)
    assert timeline.status_code == 200 and timeline.json()
    impact = http.get(f"/api/incidents/{by_hand.json()['id']}/impact", headers=officer).json()
    assert impact["customers"] == 12 and impact["recipients"][0]["recipient"] == "Bidder A"
    done = http.post(f"{base}/tasks/{task.json()['id']}/done", headers=officer,
                     json={"note": "sent to counsel"})  # fmt: skip
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert http.post(f"{base}/tasks/{task.json()['id']}/done", headers=officer,
                     json={}).status_code == 409  # fmt: skip
    assert http.post(f"{base}/tasks/999/done", headers=officer, json={}).status_code == 404
    closed = http.post(f"{base}/close", headers=officer, json={"resolution": "contained"})
    assert closed.json()["status"] == "closed"
    assert http.post(f"{base}/close", headers=officer, json={"resolution": "x"}).status_code == 409
    assert http.get("/api/incidents/999", headers=officer).status_code == 404
    assert http.get(base, headers={}).status_code == 401

    # a person of another organisation (Bidder A's analyst, a member of the deal) is refused
    for method, path, body in [
        ("GET", "/api/incidents", None),
        ("GET", f"/api/incidents?deal={deal}", None),
        ("POST", "/api/incidents", {"title": "mine", "deal": deal}),
        ("GET", base, None),
        ("GET", f"{base}/timeline", None),
        ("GET", f"{base}/impact", None),
        ("GET", f"{base}/tasks", None),
        ("POST", f"{base}/team", {"email": ANALYST, "role": "lead"}),
        ("POST", f"{base}/notes", {"text": "hello"}),
        ("POST", f"{base}/tasks", {"title": "x", "owner": ANALYST, "due": due}),
        ("POST", f"{base}/tasks/{task.json()['id']}/done", {}),
        ("POST", f"{base}/close", {"resolution": "x"}),
    ]:
        refused = http.request(method, path, headers=analyst, json=body)
        assert refused.status_code == 403, (method, path, refused.text)
    # no answer holds a customer's personal value but the note its author wrote
    seen = http.get(f"/api/incidents/{by_hand.json()['id']}/impact", headers=officer).text
    assert all(row["手机号"] not in seen and row["姓名"] not in seen for row in ROWS)
