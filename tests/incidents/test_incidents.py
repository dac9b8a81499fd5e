"""Incidents handled through the one decision point: opened from alerts or by hand, a team from
the deal's members, notes, closed with a resolution; each action refused to a role without it
(the refusal recorded), allowed while the deal is frozen, recorded without personal values."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.flows import admin, incidents
from dealvault.flows.context import AppStores
from tests.conftest import OP, P
from tests.incidents.conftest import ANALYST, COUNSEL, ROWS, SECURITY, Scene

PHONE = ROWS[0]["手机号"]


def _events(stores: AppStores, prefix: str = "incident.") -> list[dict[str, object]]:
    with stores.records_session() as s:
        bodies = s.scalars(
            select(AuditEvent.body)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.seq)
        )
        return [json.loads(b) for b in bodies]


def test_open_from_an_alert_team_notes_close(stores: AppStores, scene: Scene) -> None:
    sec, steward = P(SECURITY), P(scene.world.steward)
    inc = incidents.open_incident(
        stores, actor=sec, title=f"refusals, caller {PHONE}", alert_ids=[scene.alert]
    )
    assert (inc.deal, inc.status, inc.severity, inc.alerts) == (
        scene.world.deal, "open", "warning", [scene.alert]
    )  # fmt: skip
    assert inc.people == [ANALYST] and inc.opened_by == SECURITY
    inc = incidents.assign(stores, actor=sec, incident_id=inc.id, email=SECURITY, role="lead")
    inc = incidents.assign(stores, actor=steward, incident_id=inc.id, email=COUNSEL,
                           role="legal")  # fmt: skip
    assert [(m.role, m.email) for m in inc.team] == [("lead", SECURITY), ("legal", COUNSEL)]
    with pytest.raises(Conflict, match="already lead"):
        incidents.assign(stores, actor=sec, incident_id=inc.id, email=SECURITY, role="lead")
    with pytest.raises(Invalid, match="unknown team role"):
        incidents.assign(stores, actor=sec, incident_id=inc.id, email=SECURITY, role="boss")
    with pytest.raises(NotFound, match="no member of deal"):
        incidents.assign(stores, actor=sec, incident_id=inc.id, email="x@y.example",
                         role="communications")  # fmt: skip
    inc = incidents.add_note(stores, actor=sec, incident_id=inc.id, text=f"called {PHONE}")
    assert [(n.author, n.text) for n in inc.notes] == [(SECURITY, f"called {PHONE}")]
    listed = incidents.list_incidents(stores, actor=steward)
    assert [(i.id, i.status) for i in listed] == [(inc.id, "open")]
    inc = incidents.close_incident(stores, actor=sec, incident_id=inc.id,
                                   resolution="the analyst's access was revoked")  # fmt: skip
    assert (inc.status, inc.closed_by, inc.resolution) == (
        "closed", SECURITY, "the analyst's access was revoked"
    )  # fmt: skip
    assert inc.window_end == inc.closed_at
    with pytest.raises(Conflict, match="is closed"):
        incidents.close_incident(stores, actor=sec, incident_id=inc.id, resolution="again")
    assert incidents.list_incidents(stores, actor=sec, deal=scene.world.deal, status="open") == []
    recorded = _events(stores)
    assert [e["action"] for e in recorded] == [
        "incident.open", "incident.assign", "incident.assign", "incident.note", "incident.list",
        "incident.close", "incident.list",
    ]  # fmt: skip
    assert {e["decision"] for e in recorded} == {"allow"}
    text = json.dumps(recorded, ensure_ascii=False)
    assert PHONE not in text and "refusals" not in text and "revoked" not in text


def test_open_by_hand_and_bad_requests(stores: AppStores, scene: Scene) -> None:
    sec = P(SECURITY)
    inc = incidents.open_incident(stores, actor=sec, deal=scene.world.deal, title="lost laptop",
                                  severity="critical", people=[ANALYST.upper()],
                                  datasets=["crm"])  # fmt: skip
    assert (inc.severity, inc.alerts, inc.people, inc.datasets) == (
        "critical", [], [ANALYST], ["crm"]
    )  # fmt: skip
    with pytest.raises(Invalid, match="name the deal"):
        incidents.open_incident(stores, actor=sec, title="x")
    with pytest.raises(Invalid, match="unknown severity"):
        incidents.open_incident(stores, actor=sec, deal=scene.world.deal, title="x",
                                severity="grave")  # fmt: skip
    with pytest.raises(NotFound, match="alert 999 not found"):
        incidents.open_incident(stores, actor=sec, title="x", alert_ids=[999])
    with pytest.raises(NotFound, match="incident 999 not found"):
        incidents.show_incident(stores, actor=sec, incident_id=999)
    with pytest.raises(Invalid, match="more than one deal"):
        incidents.open_incident(stores, actor=sec, deal="other", title="x",
                                alert_ids=[scene.alert])  # fmt: skip


def test_each_action_is_refused_to_a_role_without_it(stores: AppStores, scene: Scene) -> None:
    inc = incidents.open_incident(stores, actor=P(SECURITY), title="t", alert_ids=[scene.alert])
    calls = {
        "incident.open": lambda a: incidents.open_incident(
            stores, actor=a, title="t", alert_ids=[scene.alert]
        ),
        "incident.show": lambda a: incidents.show_incident(stores, actor=a, incident_id=inc.id),
        "incident.timeline": lambda a: incidents.incident_timeline(
            stores, actor=a, incident_id=inc.id
        ),
        "incident.impact": lambda a: incidents.impact(stores, actor=a, incident_id=inc.id),
        "incident.list": lambda a: incidents.list_incidents(stores, actor=a),
        "incident.assign": lambda a: incidents.assign(
            stores, actor=a, incident_id=inc.id, email=COUNSEL, role="legal"
        ),
        "incident.note": lambda a: incidents.add_note(
            stores, actor=a, incident_id=inc.id, text="n"
        ),
        "incident.close": lambda a: incidents.close_incident(
            stores, actor=a, incident_id=inc.id, resolution="r"
        ),
    }
    for who in (COUNSEL, ANALYST, OP.email):
        for call in calls.values():
            with pytest.raises(Forbidden):
                call(P(who))
    denied = [e for e in _events(stores) if e["decision"] == "deny"]
    assert sorted({str(e["action"]) for e in denied}) == sorted(calls)
    assert {str(e["actor"]) for e in denied} == {COUNSEL, ANALYST, OP.email}


def test_an_incident_is_handled_while_the_deal_is_frozen(stores: AppStores, scene: Scene) -> None:
    admin.set_frozen(stores, actor=P(scene.world.steward), code=scene.world.deal, frozen=True,
                     reason="suspected leak")  # fmt: skip
    sec = P(SECURITY)
    inc = incidents.open_incident(stores, actor=sec, title="leak", alert_ids=[scene.alert])
    incidents.assign(stores, actor=sec, incident_id=inc.id, email=SECURITY, role="security")
    incidents.add_note(stores, actor=sec, incident_id=inc.id, text="frozen at once")
    assert incidents.impact(stores, actor=sec, incident_id=inc.id).customers == 0
    assert incidents.show_incident(stores, actor=sec, incident_id=inc.id).timeline
    out = incidents.close_incident(stores, actor=sec, incident_id=inc.id, resolution="contained")
    assert out.status == "closed"
