"""The rules file: the shipped default, every validation error naming its rule and key, and
stored versions (the newest in force; the change audited)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.errors import Conflict, Forbidden, Invalid
from dealvault.flows import monitor_rules
from dealvault.flows.context import AppStores
from dealvault.monitor.rules import KINDS, default_rules, parse_rules
from tests.conftest import OP, P, World

BASE = default_rules().text


def test_the_shipped_rules_cover_every_kind() -> None:
    rules = default_rules()
    assert rules.version == 0 and rules.utc_offset == "+08:00"
    assert {r.kind for r in rules.rules} == set(KINDS)
    canary = rules.get("canary-hit")
    assert canary is not None and canary.severity == "critical" and canary.freeze
    volume = rules.get("volume")
    assert volume is not None and dict(volume.params) == {
        "baseline_days": 30, "min_days": 5, "z": 3.5, "min_records": 1000
    }  # fmt: skip


def _edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[monitor", "not valid TOML"),
        (_edit("format = 1", "format = 2"), "monitor.format: unsupported format 2"),
        (_edit('utc_offset = "+08:00"', 'utc_offset = "8"'), "monitor.utc_offset"),
        (_edit('kind = "volume"', 'kind = "magic"'), "rule volume.kind: unknown kind 'magic'"),
        (_edit('severity = "warning"', 'severity = "loud"'), "unknown severity 'loud'"),
        (
            _edit(
                'id = "volume"\nkind = "volume"\nseverity = "warning"\nfreeze = false',
                'id = "volume"\nkind = "volume"\nseverity = "warning"\nfreeze = true',
            ),
            "rule volume.freeze: only a critical rule may freeze its deal",
        ),
        (_edit("z = 3.5,", "z = 3.5, colour = 1,"), "unknown parameter 'colour'"),
        (_edit("min_records = 1000", "min_records = 0"), "min_records: must be between 1 and"),
        (_edit("min_records = 1000", "min_records = 1.5"), "min_records: must be a whole number"),
        (_edit('"sat", "sun"', '"sat", "someday"'), "unknown day 'someday'"),
        (_edit('start = "02:00"', 'start = "2am"'), "params.start: must be a time HH:MM"),
        (_edit('id = "denials"', 'id = "volume"'), "rule volume: the id is used twice"),
        (_edit('id = "denials"', 'id = "Denials!"'), "lower-case letters"),
        (
            _edit("freeze = false\nparams = { min_known", "params = { min_known"),
            "missing key 'freeze'",
        ),
    ],
)
def test_a_bad_file_names_the_rule_and_key(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_rules(text)


def test_a_parameter_left_out_takes_its_default() -> None:
    text = _edit("params = { count = 5, minutes = 10 }", "params = { count = 7 }")
    denials = parse_rules(text).get("denials")
    assert denials is not None and dict(denials.params) == {"count": 7, "minutes": 60}


def test_versions_are_stored_audited_and_the_newest_is_in_force(
    stores: AppStores, world: World
) -> None:
    shown = monitor_rules.show(stores, actor=OP)
    assert (shown.version, shown.source) == (0, "shipped default")
    quieter = _edit("params = { count = 5, minutes = 10 }", "params = { count = 8, minutes = 10 }")
    out = monitor_rules.set_rules(stores, actor=OP, text=quieter, comment="fewer false alarms")
    assert (out.version, out.source) == (1, "stored")
    assert next(r for r in out.rules if r.id == "denials").params["count"] == 8
    with pytest.raises(Conflict, match="already in force"):
        monitor_rules.set_rules(stores, actor=OP, text=quieter, comment="again")
    with pytest.raises(Forbidden):
        monitor_rules.set_rules(stores, actor=P(world.steward), text=BASE, comment="mine")
    history = monitor_rules.history(stores, actor=OP)
    assert [(h.version, h.in_force, h.comment) for h in history] == [
        (1, True, "fewer false alarms")
    ]
    assert monitor_rules.show(stores, actor=OP).sha256 == out.sha256
    with stores.records_session() as s:
        bodies = s.scalars(
            select(AuditEvent.body).where(AuditEvent.action == "monitor.rules_set")
        ).all()
    events = [json.loads(b) for b in bodies]
    assert [e["decision"] for e in events] == ["allow", "deny"]
    assert events[0]["objects"] == {
        "version": 1,
        "sha256": out.sha256,
        "previous_version": 0,
        "previous_sha256": shown.sha256,
    }
    assert events[0]["purpose"] == "fewer false alarms"
