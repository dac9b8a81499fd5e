"""The server's monitor: each serving process evaluates the rules every few seconds as the
operator who started it; one who may not run the monitor stops it at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealvault.api.app import create_app
from dealvault.api.monitor_ticker import MonitorTicker
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.flows.alert_delivery import Delivery
from dealvault.flows.context import AppStores
from dealvault.monitor.models import Alert
from tests.conftest import OP, P, World
from tests.monitor.conftest import Clock, append, denial
from tests.monitor.helpers import T0


def _alerts(stores: AppStores) -> int:
    with stores.records_session() as s:
        return int(s.scalar(select(func.count()).select_from(Alert)) or 0)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_tick_runs_the_monitor_and_a_refusal_stops_it(
    stores: AppStores, clock: Clock, world: World
) -> None:
    append(stores, clock, T0, [denial(world.bidder_person, world.deal) for _ in range(5)])
    ticker = MonitorTicker(stores, actor=OP, delivery=Delivery(), interval=60)
    out = ticker.tick()
    assert out is not None and len(out.alerts_new) == 1
    refused = MonitorTicker(stores, actor=P(world.steward), delivery=Delivery(), interval=60)
    assert refused.tick() is None and refused._stop.is_set()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_server_runs_its_monitor_while_it_serves(
    stores: AppStores, keyring: KeyRing, clock: Clock, world: World, tmp_path: Path
) -> None:
    append(stores, clock, T0, [denial(world.bidder_person, world.deal) for _ in range(5)])
    settings = Settings(home=tmp_path, monitor_interval_seconds=1)
    app = create_app(settings, keyring=keyring, stores=stores, monitor_actor=OP)
    with TestClient(app, base_url="https://testserver"):
        end = time.monotonic() + 20
        while _alerts(stores) == 0 and time.monotonic() < end:
            time.sleep(0.1)
    assert _alerts(stores) == 1
