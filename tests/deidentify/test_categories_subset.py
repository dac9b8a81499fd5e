"""Disclosures that leave out the transaction category: no order data, and no crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.errors import Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import DisclosureRequest, disclose
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.ingest.fields import TableRole
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.writers import write_export
from tests.conftest import P, World


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def loaded(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> World:
    paths = write_export(out_dir=tmp_path / "export", rows=600, seed=5, fmt="csv")
    for table in ("customers", "orders"):
        req = ImportRequest(
            actor=P(world.steward),
            deal=world.deal,
            dataset="crm",
            spec=SourceSpec(path=paths[table]),
        )
        import_source(stores, keyring, request=req, rejects_dir=tmp_path / "rejects")
    return world


def _req(world: World, level: Level, **kw: object) -> DisclosureRequest:
    return DisclosureRequest(
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        purpose="test",
        level=level,
        categories=("identity", "contact"),
        recipient="Bidder A",
        seed=1,
        **kw,  # type: ignore[arg-type]
    )


def test_anonymized_without_transaction_has_no_order_columns(
    stores: AppStores, keyring: KeyRing, loaded: World
) -> None:
    out = disclose(stores, keyring, request=_req(loaded, Level.ANONYMIZED, k=5))
    assert out.frame.height > 0
    assert not {"order_count", "total_amount", "first_order"} & set(out.frame.columns)


def test_aggregate_without_transaction_counts_by_province(
    stores: AppStores, keyring: KeyRing, loaded: World
) -> None:
    req = _req(loaded, Level.AGGREGATE, group_by=("province",), measures=("count",), k_min=5)
    out = disclose(stores, keyring, request=req)
    assert out.frame.height > 0 and "province" in out.frame.columns


def test_orders_table_needs_the_transaction_category(
    stores: AppStores, keyring: KeyRing, loaded: World
) -> None:
    req = _req(
        loaded, Level.AGGREGATE, group_by=("product",), measures=("count",), table=TableRole.ORDERS
    )
    with pytest.raises(Invalid, match="add --category transaction"):
        disclose(stores, keyring, request=req)


def test_record_level_copies_say_how_many_canary_records_they_carry(
    stores: AppStores, keyring: KeyRing, loaded: World
) -> None:
    req = DisclosureRequest(
        actor=P(loaded.steward),
        deal=loaded.deal,
        dataset="crm",
        purpose="test",
        level=Level.PSEUDONYMIZED,
        recipient="Bidder A",
        seed=1,
    )
    out = disclose(stores, keyring, request=req)
    assert out.meta["canary_rows"] > 0
    assert out.meta["rows"] == 600 + out.meta["canary_rows"] == out.frame.height
