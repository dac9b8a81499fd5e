"""Monitor fixtures: a clock the audit log stamps events with, and events appended at chosen
times (the log's own append path, so the monitor reads them as it would any other)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from dealvault.audit.service import EventIn, record_many
from dealvault.flows import admin
from dealvault.flows.context import AppStores
from dealvault.flows.monitoring import run_monitor
from tests.conftest import OP, SELLER, World
from tests.monitor.helpers import ANA, T0

SECURITY = "security@seller.example"


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The time the audit log gives the events appended from here on."""
    c = Clock()
    monkeypatch.setattr("dealvault.audit.service.utcnow", c)
    return c


def append(stores: AppStores, clock: Clock, at: datetime, events: Sequence[EventIn]) -> list[int]:
    """Append ``events`` stamped ``at``; their seqs."""
    clock.now = at
    with stores.unit_of_work() as uow:
        return record_many(uow.records, stores.audit, events)


def denial(
    actor: str, deal: str | None, reason: str = "no policy permits it", **kw: Any
) -> EventIn:
    return EventIn(
        action="disclose", actor=actor, deal=deal, decision="deny", reasons=(reason,), **kw
    )


def read(actor: str, deal: str, rows: int, **kw: Any) -> EventIn:
    """An allowed masked disclosure of ``rows`` records."""
    return EventIn(
        action="disclose",
        actor=actor,
        deal=deal,
        decision="allow",
        objects={"dataset": "crm", "level": "masked", "recipient": "Bidder A"},
        counts={"rows": rows, "customers": rows},
        **kw,
    )


@pytest.fixture
def raised(stores: AppStores, clock: Clock, world: World) -> World:
    """A security officer in the deal; a deal alert (denials) and a store alert (a key
    rotation outside the change window)."""
    admin.create_person(stores, actor=OP, email=SECURITY, name="Security", organization=SELLER)
    admin.add_member(stores, actor=OP, deal=world.deal, email=SECURITY, role="security_officer")
    append(stores, clock, T0, [denial(ANA, world.deal) for _ in range(5)])
    append(
        stores,
        clock,
        T0 + timedelta(minutes=1),
        [EventIn(action="keys.rotate_master", actor=OP.email, decision="allow")],
    )
    assert len(run_monitor(stores, actor=OP).alerts_new) == 2
    return world
