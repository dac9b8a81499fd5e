"""Audit fixtures: a busy log (imports, reads, a denial, a stage change, routine events)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealvault.audit.service import EventIn, record
from dealvault.audit.store import register_log_key
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Forbidden
from dealvault.flows import admin, customers
from dealvault.flows.context import AppStores
from tests.conftest import P, World
from tests.vault.helpers import customer_row, do_import, lookup, write_csv


def register(stores: AppStores) -> None:
    with stores.unit_of_work() as uow:
        register_log_key(uow.records, stores.audit)


def routine(stores: AppStores, n: int) -> None:
    """``n`` routine events (no checkpoint of their own), e.g. inventory reads."""
    with stores.unit_of_work() as uow:
        for i in range(n):
            record(
                uow.records,
                stores.audit,
                EventIn(action="inventory", actor="steward@seller.example", objects={"i": i}),
            )


@pytest.fixture
def busy(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> World:
    """A log with organisations, a deal, an import, a read, a denial and a stage change."""
    register(stores)
    rows = [customer_row(i) for i in range(1, 6)]
    do_import(
        stores,
        keyring,
        write_csv(tmp_path / "c.csv", rows),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    lookup(stores, keyring, world, "13900000002")
    with pytest.raises(Forbidden):
        customers.lookup(
            stores,
            keyring,
            actor=P(world.bidder_person),
            deal=world.deal,
            dataset="crm",
            by="phone",
            value="13900000002",
            categories=None,
            purpose="curiosity",
        )
    admin.advance_deal(
        stores, code=world.deal, to=None, winner=None, actor=P(world.steward), reason="teaser sent"
    )
    return world
