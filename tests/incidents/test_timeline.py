"""An incident's timeline: its alerts, its notes and the audit events of its deal and people in
its window, in time order, naming no personal value."""

from __future__ import annotations

from dealvault.crypto.keyring import KeyRing
from dealvault.flows import incidents
from dealvault.flows.context import AppStores
from tests.conftest import P
from tests.incidents.conftest import ANALYST, ROWS, SECURITY, Scene, release


def test_alerts_events_and_notes_in_time_order(
    stores: AppStores, keyring: KeyRing, scene: Scene
) -> None:
    sec = P(SECURITY)
    release(stores, keyring, scene.world, "Bidder A")
    inc = incidents.open_incident(stores, actor=sec, title="t", alert_ids=[scene.alert])
    incidents.add_note(stores, actor=sec, incident_id=inc.id, text="asked Bidder A")
    entries = incidents.incident_timeline(stores, actor=sec, incident_id=inc.id)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    kinds = [(e.kind, e.ref) for e in entries]
    assert kinds[0] == ("alert", scene.alert)  # at its window's start
    # the note, then the event recording it
    assert kinds[-2][0] == "note" and entries[-1].summary.startswith("incident.note (allow)")
    events = [e for e in entries if e.kind == "event"]
    assert [e.ref for e in events] == sorted(e.ref for e in events)
    denials = [e for e in events if e.actor == ANALYST and e.summary == "disclose (deny)"]
    assert len(denials) == 5
    released = [e for e in events if e.summary.startswith("disclose (allow)")]
    assert len(released) == 1 and "recipient=Bidder A" in released[0].summary
    assert "subjects=15" in released[0].summary
    assert [e.summary for e in entries if e.kind == "note"] == ["asked Bidder A"]
    assert any(e.summary.startswith("incident.open (allow)") for e in events)
    shown = incidents.show_incident(stores, actor=sec, incident_id=inc.id)
    assert shown.timeline is not None and [(e.kind, e.ref) for e in shown.timeline][:-1] == [
        (e.kind, e.ref) for e in entries
    ]  # the show adds the timeline's own event
    text = "\n".join(e.summary for e in entries)
    assert not any(v in text for row in ROWS for v in (row["手机号"], row["身份证号"], row["姓名"]))
