"""Runs of the monitor over a real log: each event evaluated once, alerts de-duplicated (one
per rule, subject and day, with a count), history evaluated again without counting twice,
baselines kept between runs, critical alerts freezing their deal, the log's own integrity."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, text

from dealvault.access import service as access
from dealvault.audit import merkle
from dealvault.audit.checkpoint import Checkpoint, sign_checkpoint
from dealvault.audit.models import AuditCheckpoint, AuditEvent
from dealvault.audit.service import DbNodeStore, EventIn, make_checkpoint
from dealvault.db.base import utcnow
from dealvault.flows import auditing, monitor_rules
from dealvault.flows.context import AppStores
from dealvault.flows.monitoring import run_monitor
from dealvault.monitor.alerts import AlertOut, alert_view
from dealvault.monitor.models import Alert, MonitorState
from dealvault.monitor.rules import default_rules
from tests.audit import tamper
from tests.audit.conftest import register
from tests.conftest import OP, World
from tests.monitor.conftest import Clock, append, denial, read
from tests.monitor.helpers import T0

ANALYST = "analyst@bidder-a.example"


def _alerts(stores: AppStores) -> list[AlertOut]:
    with stores.records_session() as s:
        return [alert_view(a) for a in s.scalars(select(Alert).order_by(Alert.id))]


def _events(stores: AppStores, action: str) -> list[dict[str, object]]:
    with stores.records_session() as s:
        rows = s.scalars(
            select(AuditEvent.body).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
        return [json.loads(b) for b in rows]


def test_each_event_once_one_alert_per_subject_and_day(
    stores: AppStores, clock: Clock, world: World
) -> None:
    append(stores, clock, T0, [denial(ANALYST, world.deal) for _ in range(5)])
    first = run_monitor(stores, actor=OP)
    assert first.events > 5 and len(first.alerts_new) == 1
    (alert,) = _alerts(stores)
    assert (alert.rule, alert.deal, alert.subject, alert.count) == (
        "denials", world.deal, ANALYST, 1
    )  # fmt: skip
    assert "refusals: 5 within 10 minutes by analyst@bidder-a.example" in alert.explanation
    # two more the same (local) day: the same alert counts them
    append(stores, clock, T0 + timedelta(minutes=1), [denial(ANALYST, world.deal)] * 2)
    second = run_monitor(stores, actor=OP)
    assert second.alerts_new == [] and second.alerts_grown == [alert.id]
    (alert,) = _alerts(stores)
    assert alert.count == 3 and "refusals: 7 within 10 minutes" in alert.explanation
    assert run_monitor(stores, actor=OP).alerts_grown == []  # nothing new
    # over history again: the same events are not counted twice
    again = run_monitor(stores, actor=OP, from_seq=0)
    assert again.from_seq == 0 and again.alerts_new == again.alerts_grown == []
    assert [a.count for a in _alerts(stores)] == [3]
    # the next day: a new alert
    append(stores, clock, T0 + timedelta(days=1), [denial(ANALYST, world.deal)] * 5)
    assert len(run_monitor(stores, actor=OP).alerts_new) == 1
    with stores.records_session() as s:
        state = s.get(MonitorState, "events")
        last = s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        assert state is not None and last is not None
        assert state.last_seq == last - 1  # its own run event came after
    runs = _events(stores, "monitor.run")
    assert [r["counts"]["alerts_new"] for r in runs] == [1, 0, 1]  # runs that raised or grew


def test_baselines_are_kept_between_runs_and_rebuilt_from_history(
    stores: AppStores, clock: Clock, world: World
) -> None:
    """Ten ordinary days, then a day far above them: the same alert whether the monitor ran
    every day or once over the whole history."""
    for day in range(10):
        append(stores, clock, T0 + timedelta(days=day), [read(ANALYST, world.deal, 100 + day)])
        run_monitor(stores, actor=OP)
    assert _alerts(stores) == []
    append(stores, clock, T0 + timedelta(days=10), [read(ANALYST, world.deal, 5000)])
    run_monitor(stores, actor=OP)
    (alert,) = _alerts(stores)
    assert (alert.rule, alert.subject, alert.severity) == ("volume", ANALYST, "warning")
    details = alert.details
    assert details["own_n"] == 10 and details["own_median"] == 104.5 and details["running"] == 5000
    with stores.unit_of_work() as uow:  # forget the alert and learn everything again
        uow.records.execute(text("DELETE FROM alerts"))
    run_monitor(stores, actor=OP, from_seq=0)
    (again,) = _alerts(stores)
    assert again.details == details and again.count == 1


def test_a_new_device_alerts_once_and_again_over_history(
    stores: AppStores, clock: Clock, world: World
) -> None:
    """The first device is no alert; a second one is, once (however often it is used and
    however often the monitor runs); run over history, the same alert and no other."""
    register(stores)  # a log key: the log is verified at the end
    append(stores, clock, T0, [read(ANALYST, world.deal, 5, device="dev:1111")])
    run_monitor(stores, actor=OP)
    assert _alerts(stores) == []
    append(stores, clock, T0 + timedelta(days=1), [
        read(ANALYST, world.deal, 5, device="dev:1111"),
        read(ANALYST, world.deal, 5, device="dev:2222"),
        read(ANALYST, world.deal, 5, device="dev:2222"),
    ])  # fmt: skip
    assert len(run_monitor(stores, actor=OP).alerts_new) == 1
    append(stores, clock, T0 + timedelta(days=2), [read(ANALYST, world.deal, 5, device="dev:2222")])
    assert run_monitor(stores, actor=OP).alerts_new == []
    (alert,) = _alerts(stores)
    assert (alert.rule, alert.kind, alert.severity, alert.subject, alert.count) == (
        "new-device", "new_device", "info", ANALYST, 1
    )  # fmt: skip
    assert alert.details == {"device": "dev:2222", "known": 1}
    assert "acted from the device dev:2222, which they never used before" in alert.explanation
    with stores.records_session() as s:
        kept = s.execute(text("SELECT device FROM monitor_devices ORDER BY first_seq")).scalars()
        assert list(kept) == ["dev:1111", "dev:2222"]
    again = run_monitor(stores, actor=OP, from_seq=0)
    assert again.alerts_new == again.alerts_grown == []
    with stores.unit_of_work() as uow:  # forget the alert and learn everything again
        uow.records.execute(text("DELETE FROM alerts"))
    run_monitor(stores, actor=OP, from_seq=0)
    (rebuilt,) = _alerts(stores)
    assert (rebuilt.details, rebuilt.count, rebuilt.window_start) == (
        alert.details, 1, alert.window_start
    )  # fmt: skip
    assert auditing.verify(stores, actor=OP).ok  # bodies with a device verify as any other


def test_a_critical_alert_freezes_its_deal_once(
    stores: AppStores, clock: Clock, world: World
) -> None:
    text_ = default_rules().text.replace(
        'id = "denials"\nkind = "denials"\nseverity = "warning"\nfreeze = false',
        'id = "denials"\nkind = "denials"\nseverity = "critical"\nfreeze = true',
    )
    monitor_rules.set_rules(stores, actor=OP, text=text_, comment="denials freeze")
    append(stores, clock, T0, [denial(ANALYST, world.deal) for _ in range(5)])
    out = run_monitor(stores, actor=OP)
    assert out.frozen == [world.deal]
    with stores.records_session() as s:
        assert access.get_deal(s, code=world.deal).frozen
        cps = s.scalars(select(AuditCheckpoint.reason)).all()
    (alert,) = _alerts(stores)
    assert alert.froze and alert.severity == "critical"
    assert f"The deal {world.deal} was frozen automatically" in alert.explanation
    (freeze,) = _events(stores, "deal.freeze")
    assert freeze["decision"] == "allow" and freeze["actor"] == OP.email
    assert freeze["objects"] == {
        "stage": "preparation", "alert": alert.id, "rule": "denials", "by": "monitor"
    }  # fmt: skip
    assert freeze["reasons"] == [
        "operator may monitor.freeze [action.monitor.freeze]",
        "rule denials freezes its deal on a critical alert",
    ]
    assert any(r.startswith("deal.freeze (event") for r in cps)  # anchored at once
    # the next day's alert finds the deal frozen already: no second freeze
    append(stores, clock, T0 + timedelta(days=1), [denial(ANALYST, world.deal)] * 5)
    second = run_monitor(stores, actor=OP)
    assert len(second.alerts_new) == 1 and second.frozen == []
    assert len(_events(stores, "deal.freeze")) == 1
    assert [a.froze for a in _alerts(stores)] == [True, False]


def test_a_warning_never_freezes(stores: AppStores, clock: Clock, world: World) -> None:
    append(stores, clock, T0, [denial(ANALYST, world.deal) for _ in range(5)])
    assert run_monitor(stores, actor=OP).frozen == []
    with stores.records_session() as s:
        assert not access.get_deal(s, code=world.deal).frozen


def test_the_logs_integrity_is_checked_as_it_is_read(
    stores: AppStores, clock: Clock, world: World
) -> None:
    register(stores)
    run_monitor(stores, actor=OP)
    seqs = append(
        stores, clock, T0, [EventIn(action="inventory", actor=world.steward) for _ in range(3)]
    )
    tamper.drop_triggers(stores)
    body = tamper.body(stores, seqs[1]).replace(b"inventory", b"inventorz")
    tamper.set_body(stores, seqs[1], body)
    run_monitor(stores, actor=OP)
    (altered,) = _alerts(stores)
    assert (altered.rule, altered.deal, altered.subject, altered.severity) == (
        "audit-integrity", None, "audit log", "critical"
    )  # fmt: skip
    assert altered.explanation == f"event {seqs[1]} differs from its leaf (altered)"
    # 'audit verify' failing raises it too (the same alert, counted again)
    assert not auditing.verify(stores, actor=OP).ok
    (verified,) = _alerts(stores)
    assert verified.id == altered.id and verified.count == 2
    assert verified.explanation.startswith(f"'audit verify' by {OP.email} failed: event")
    # a checkpoint, validly signed, of an older tree than the one before it
    with stores.unit_of_work() as uow:
        good = make_checkpoint(uow.records, stores.audit, reason="test")
        size = good.size - 2
        root = merkle.root_at(DbNodeStore(uow.records), size)
        signer = stores.audit.signer
        assert signer is not None
        note = sign_checkpoint(Checkpoint(origin=signer.name, size=size, root=root), signer=signer)
        uow.records.add(
            AuditCheckpoint(size=size, root=root, note=note.decode(), reason="forged", at=utcnow())
        )
    run_monitor(stores, actor=OP)
    chain = [a for a in _alerts(stores) if a.rule == "checkpoint-chain"]
    assert len(chain) == 1 and "it does not extend it" in chain[0].explanation
    assert f"is smaller than checkpoint #{good.id}" in chain[0].explanation
