"""Alerts for the people who act on them: a deal's stewards and security officers, the store's
operators; listed, shown and acknowledged through the one decision point, and every monitor
action refused to a role without it (the refusal recorded)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import select

from dealvault.access import service as access
from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Conflict, Forbidden, Invalid
from dealvault.flows import admin, alerts, monitor_rules
from dealvault.flows.canary_hits import report_hit
from dealvault.flows.context import AppStores
from dealvault.flows.monitoring import freeze_for_alert, run_monitor
from dealvault.monitor.models import Alert
from dealvault.monitor.rules import default_rules
from tests.conftest import OP, P, World
from tests.monitor.conftest import SECURITY

ANALYST = "analyst@bidder-a.example"


def test_each_sees_the_alerts_of_their_deals_or_of_the_store(
    stores: AppStores, raised: World
) -> None:
    deal_alerts = alerts.list_alerts(stores, actor=P(SECURITY), deal=raised.deal)
    assert [(a.rule, a.deal) for a in deal_alerts] == [("denials", raised.deal)]
    assert [a.rule for a in alerts.list_alerts(stores, actor=P(raised.steward))] == ["denials"]
    assert [(a.rule, a.deal) for a in alerts.list_alerts(stores, actor=OP)] == [
        ("key-change-window", None)
    ]
    assert alerts.list_alerts(stores, actor=P(SECURITY), severity="critical") == []
    with pytest.raises(Invalid, match="unknown status"):
        alerts.list_alerts(stores, actor=P(SECURITY), status="closed")
    shown = alerts.show_alert(stores, actor=P(raised.steward), alert_id=deal_alerts[0].id)
    assert shown.subject == ANALYST and shown.count == 1


def test_acknowledging_an_alert(stores: AppStores, raised: World) -> None:
    (a,) = alerts.list_alerts(stores, actor=P(SECURITY), deal=raised.deal)
    with pytest.raises(Invalid, match="a note is required"):
        alerts.acknowledge(stores, actor=P(SECURITY), alert_id=a.id, note=" ")
    done = alerts.acknowledge(stores, actor=P(SECURITY), alert_id=a.id, note="called Bidder A")
    assert (done.status, done.acked_by, done.ack_note) == (
        "acknowledged", SECURITY, "called Bidder A"
    )  # fmt: skip
    with pytest.raises(Conflict, match="already acknowledged"):
        alerts.acknowledge(stores, actor=P(raised.steward), alert_id=a.id, note="again")
    assert alerts.list_alerts(stores, actor=P(SECURITY), status="open") == []
    with stores.records_session() as s:
        (ack,) = [
            json.loads(b)
            for b in s.scalars(select(AuditEvent.body).where(AuditEvent.action == "alert.ack"))
            if json.loads(b)["decision"] == "allow"
        ]
    assert ack["objects"] == {"alert": a.id, "rule": "denials", "severity": "warning"}
    assert ack["purpose"] == "called Bidder A" and ack["actor"] == SECURITY


def test_a_frozen_deal_keeps_its_alerts_readable(stores: AppStores, raised: World) -> None:
    admin.set_frozen(stores, actor=P(SECURITY), code=raised.deal, frozen=True, reason="leak?")
    (a,) = alerts.list_alerts(stores, actor=P(raised.steward), deal=raised.deal)
    alerts.acknowledge(stores, actor=P(raised.steward), alert_id=a.id, note="deal frozen")


def _refusals(stores: AppStores, keyring: KeyRing, w: World) -> dict[str, Callable[[], object]]:
    deal_alert = alerts.list_alerts(stores, actor=P(SECURITY), deal=w.deal)[0].id
    store_alert = alerts.list_alerts(stores, actor=OP)[0].id
    analyst, steward = P(ANALYST), P(w.steward)
    return {
        "alert.read (list)": lambda: alerts.list_alerts(stores, actor=analyst, deal=w.deal),
        "alert.read (show)": lambda: alerts.show_alert(stores, actor=analyst, alert_id=deal_alert),
        "alert.read (every deal)": lambda: alerts.list_alerts(stores, actor=analyst),
        "alert.ack": lambda: alerts.acknowledge(
            stores, actor=analyst, alert_id=deal_alert, note="mine"
        ),
        "alert.read (operator)": lambda: alerts.show_alert(stores, actor=OP, alert_id=deal_alert),
        "store_alert.read": lambda: alerts.show_alert(stores, actor=steward, alert_id=store_alert),
        "store_alert.ack": lambda: alerts.acknowledge(
            stores, actor=steward, alert_id=store_alert, note="mine"
        ),
        "monitor.run": lambda: run_monitor(stores, actor=steward),
        "monitor.read": lambda: monitor_rules.show(stores, actor=steward),
        "monitor.read (status)": lambda: monitor_rules.status(stores, actor=P(SECURITY)),
        "monitor.configure": lambda: monitor_rules.set_rules(
            stores, actor=P(SECURITY), text=default_rules().text, comment="mine"
        ),
        "canary.hit": lambda: report_hit(
            stores, keyring, actor=steward, channel="phone", value="17000990101"
        ),
    }


def test_every_monitor_action_is_refused_to_a_role_without_it(
    stores: AppStores, keyring: KeyRing, raised: World
) -> None:
    for name, call in _refusals(stores, keyring, raised).items():
        with pytest.raises(Forbidden):
            call()
        with stores.records_session() as s:
            last = s.scalars(select(AuditEvent.body).order_by(AuditEvent.seq.desc()).limit(1))
            event = json.loads(last.one())
        assert event["decision"] == "deny", name
        assert event["action"] in (
            "alert.list", "alert.show", "alert.ack", "monitor.run", "monitor.rules_show",
            "monitor.status", "monitor.rules_set", "canary.hit",
        ), name  # fmt: skip


def test_an_automatic_freeze_is_refused_to_a_role_without_it(
    stores: AppStores, raised: World
) -> None:
    """``monitor.freeze`` for someone who is not an operator or the canary gateway: the deal
    stays open and the refusal is recorded with the alert it concerns."""
    with stores.unit_of_work() as uow:
        alert = uow.records.scalars(select(Alert).where(Alert.deal == raised.deal)).one()
        assert not freeze_for_alert(stores, uow, actor=P(raised.steward), alert=alert)
    with stores.records_session() as s:
        assert not access.get_deal(s, code=raised.deal).frozen
        (event,) = [
            json.loads(b)
            for b in s.scalars(select(AuditEvent.body).where(AuditEvent.action == "deal.freeze"))
        ]
    assert event["decision"] == "deny" and event["objects"]["by"] == "monitor"
    assert "monitor.freeze needs one of the roles: operator, canary_gateway" in event["reasons"][0]
