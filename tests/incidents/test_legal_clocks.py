"""Legal clocks: due times from awareness (the shipped file), their boundaries (72 h minus and
plus a minute, the warning share), met by a sent notice, the awareness time and regimes set
with a reason (audited), and the monitor's clock alert raised once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.db.base import utcnow
from dealvault.errors import Forbidden, Invalid
from dealvault.flows import incidents, legal_clocks
from dealvault.flows.context import AppStores
from dealvault.flows.monitoring import run_monitor
from dealvault.incidents import clocks as legal
from dealvault.monitor.models import Alert
from tests.conftest import OP, P
from tests.incidents.conftest import ANALYST, COUNSEL, SECURITY, Scene

AWARE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _state(now: datetime, *, sent: dict[str, tuple[int, datetime]] | None = None) -> str:
    out = legal.evaluate(legal.shipped_clocks(), regimes=["gdpr"], aware_at=AWARE,
                         sent=sent or {}, now=now)  # fmt: skip
    return next(c.state for c in out if c.id == "gdpr-authority")


def test_the_shipped_file_names_sources_and_targets() -> None:
    f = legal.shipped_clocks()
    by_id = {c.id: c for c in f.clocks}
    assert f.warning_fraction == 0.75
    assert (by_id["gdpr-authority"].hours, by_id["gdpr-authority"].statutory) == (72, True)
    assert by_id["gdpr-authority"].source == "GDPR art. 33(1)"
    assert "72 hours" in by_id["gdpr-authority"].says
    assert "without undue delay" in by_id["gdpr-subjects"].says
    assert not by_id["gdpr-subjects"].statutory
    assert "立即" in by_id["pipl-authority"].says and not by_id["pipl-authority"].statutory


def test_gdpr_72_hours_at_its_boundaries() -> None:
    due = AWARE + timedelta(hours=72)
    assert _state(due - timedelta(minutes=1)) == "warning"
    assert _state(due) == "warning"  # "not later than 72 hours": on time at 72 h exactly
    assert _state(due + timedelta(minutes=1)) == "overdue"
    warn = AWARE + timedelta(hours=54)  # 75 % of 72 h
    assert _state(warn - timedelta(minutes=1)) == "running"
    assert _state(warn) == "warning"
    sent = {"gdpr-authority": (4, due - timedelta(minutes=1))}
    assert _state(due + timedelta(days=3), sent=sent) == "met"
    late = {"gdpr-authority": (4, due + timedelta(minutes=1))}
    assert _state(due + timedelta(days=3), sent=late) == "met_late"
    out = legal.evaluate(legal.shipped_clocks(), regimes=["gdpr"], aware_at=AWARE, sent={},
                         now=due + timedelta(minutes=1))  # fmt: skip
    assert out[0].seconds_left == -60 and out[0].due_at == due


def test_a_bad_clocks_file_is_refused_by_name() -> None:
    good = "[clocks]\nformat = 1\n"
    with pytest.raises(Invalid, match="version must be"):
        legal.parse_clocks(good + 'version = "13912345678 asked"\n', where="c.toml")
    with pytest.raises(Invalid, match="unknown key 'colour'"):
        legal.parse_clocks(good + "colour = 1\n", where="c.toml")
    clock = ('[[clock]]\nid = "x"\nregime = "hipaa"\nnotice = "gdpr-authority"\nsource = "s"\n'
             'says = "s"\nhours = 1\nstatutory = true\n')  # fmt: skip
    with pytest.raises(Invalid, match="clock 1: unknown regime"):
        legal.parse_clocks(good + clock, where="c.toml")
    with pytest.raises(Invalid, match="hours must be"):
        legal.parse_clocks(good + clock.replace("hipaa", "gdpr").replace("= 1\n", "= 0\n"),
                           where="c.toml")  # fmt: skip


def test_awareness_and_regimes_are_set_with_a_reason_and_audited(
    stores: AppStores, scene: Scene
) -> None:
    sec = P(SECURITY)
    inc = incidents.open_incident(stores, actor=sec, title="t", alert_ids=[scene.alert])
    shown = legal_clocks.show_clocks(stores, actor=sec, incident_id=inc.id)
    assert [c.id for c in shown] == ["pipl-authority", "pipl-customers"]  # PIPL by default
    assert shown[0].aware_at == inc.opened_at
    aware = utcnow() - timedelta(hours=10)
    with pytest.raises(Invalid, match="needs a reason"):
        legal_clocks.set_awareness(stores, actor=sec, incident_id=inc.id, aware_at=aware,
                                   reason=" ")  # fmt: skip
    with pytest.raises(Invalid, match="not in the future"):
        legal_clocks.set_awareness(stores, actor=sec, incident_id=inc.id,
                                   aware_at=utcnow() + timedelta(hours=1), reason="r")  # fmt: skip
    reason = f"the analyst {ANALYST} called the hotline"
    out = legal_clocks.set_awareness(stores, actor=sec, incident_id=inc.id, aware_at=aware,
                                     reason=reason)  # fmt: skip
    assert out[0].aware_at == aware
    out = legal_clocks.set_regimes(stores, actor=sec, incident_id=inc.id, regimes=["GDPR", "pipl"])
    assert [c.id for c in out] == ["gdpr-authority", "gdpr-subjects", "pipl-authority",
                                   "pipl-customers"]  # fmt: skip
    with pytest.raises(Invalid, match="regimes"):
        legal_clocks.set_regimes(stores, actor=sec, incident_id=inc.id, regimes=["ccpa"])
    with pytest.raises(Forbidden):
        legal_clocks.set_regimes(stores, actor=P(ANALYST), incident_id=inc.id, regimes=["gdpr"])
    with stores.records_session() as s:
        bodies = [json.loads(b) for b in s.scalars(select(AuditEvent.body).where(
            AuditEvent.action.in_(("incident.aware", "incident.regimes", "incident.clocks")))
            .order_by(AuditEvent.seq))]  # fmt: skip
    assert [(b["action"], b["decision"]) for b in bodies] == [
        ("incident.clocks", "allow"), ("incident.aware", "allow"), ("incident.regimes", "allow"),
        ("incident.regimes", "deny"),
    ]  # fmt: skip
    assert bodies[1]["counts"] == {"chars": len(reason)}
    assert "hotline" not in json.dumps(bodies)


def test_the_monitor_raises_a_clock_alert_once(stores: AppStores, scene: Scene) -> None:
    sec = P(SECURITY)
    inc = incidents.open_incident(stores, actor=sec, title="t", alert_ids=[scene.alert])
    run_monitor(stores, actor=OP)
    with stores.records_session() as s:
        assert s.scalars(select(Alert).where(Alert.kind == "legal_clock")).all() == []
    legal_clocks.set_awareness(stores, actor=sec, incident_id=inc.id,
                               aware_at=utcnow() - timedelta(hours=20), reason="r")  # fmt: skip
    first = run_monitor(stores, actor=OP)  # 20 h of the 24 h PIPL targets: warnings
    assert len(first.alerts_new) == 2
    assert run_monitor(stores, actor=OP).alerts_new == []  # de-duplicated
    legal_clocks.set_awareness(stores, actor=sec, incident_id=inc.id,
                               aware_at=utcnow() - timedelta(hours=25), reason="r")  # fmt: skip
    third = run_monitor(stores, actor=OP)  # run out: one critical alert per clock, once
    assert len(third.alerts_new) == 2
    assert run_monitor(stores, actor=OP).alerts_new == []
    with stores.records_session() as s:
        rows = s.scalars(select(Alert).where(Alert.kind == "legal_clock").order_by(Alert.id)).all()
        got = [(a.rule, a.severity, a.subject, a.deal, a.count) for a in rows]
    assert got == [
        ("legal-clock-warning", "warning", f"incident #{inc.id} pipl-authority", inc.deal, 1),
        ("legal-clock-warning", "warning", f"incident #{inc.id} pipl-customers", inc.deal, 1),
        ("legal-clock-overdue", "critical", f"incident #{inc.id} pipl-authority", inc.deal, 1),
        ("legal-clock-overdue", "critical", f"incident #{inc.id} pipl-customers", inc.deal, 1),
    ]


def test_the_deals_working_targets_are_set_per_incident(
    stores: AppStores, scene: Scene, tmp_path: Path
) -> None:
    sec = P(SECURITY)
    inc = incidents.open_incident(stores, actor=sec, title="t", alert_ids=[scene.alert])
    shipped = (
        resources.files("dealvault.incidents").joinpath("legal_clocks.toml").read_text("utf-8")
    )
    mine = tmp_path / "clocks.toml"
    mine.write_text(shipped.replace("hours = 24", "hours = 4"), encoding="utf-8")
    legal_clocks.set_awareness(stores, actor=sec, incident_id=inc.id,
                               aware_at=utcnow() - timedelta(hours=5), reason="r")  # fmt: skip
    assert {c.state for c in legal_clocks.show_clocks(stores, actor=sec, incident_id=inc.id)} == {
        "running"
    }
    out = legal_clocks.set_clocks(stores, actor=sec, incident_id=inc.id, path=mine)
    assert {(c.hours, c.state) for c in out} == {(4.0, "overdue")}
    assert len(run_monitor(stores, actor=OP).alerts_new) == 2  # the monitor uses them too
    bad = tmp_path / "bad.toml"
    bad.write_text(shipped.replace("hours = 24", "hours = -1"), encoding="utf-8")
    with pytest.raises(Invalid, match=r"bad\.toml: clock 3: hours must be"):
        legal_clocks.set_clocks(stores, actor=sec, incident_id=inc.id, path=bad)
    with pytest.raises(Forbidden):
        legal_clocks.set_clocks(stores, actor=P(COUNSEL), incident_id=inc.id, path=mine)
