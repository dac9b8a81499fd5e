"""Blind rows held back during an import and written in sorted runs: duplicates are still
found whether their first occurrence is held or already written, and every customer ends up
findable by each of its numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from dealvault.crypto.keyring import KeyRing
from dealvault.flows.context import AppStores
from dealvault.flows.importing import ImportRequest, ImportSummary, import_source
from dealvault.ingest.source import SourceSpec
from dealvault.vault import blind_buffer
from dealvault.vault.models import BlindIndex, CustomerRecord
from tests.conftest import P, World
from tests.vault.helpers import customer_row, lookup, write_csv


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # batches of 3 customers (9 blind rows): a run is written after every third batch, so a
    # duplicate meets its first occurrence either still held or already written
    monkeypatch.setattr(blind_buffer, "FLUSH_ROWS", 20)


def _import(
    stores: AppStores, keyring: KeyRing, world: World, path: Path, **kw: object
) -> ImportSummary:
    spec = SourceSpec(path=path, batch_rows=3)
    req = ImportRequest(actor=P(world.steward), deal=world.deal, dataset="crm", spec=spec, **kw)  # type: ignore[arg-type]
    return import_source(stores, keyring, request=req, rejects_dir=path.parent / "rejects")


def test_duplicates_across_runs_are_merged(
    small_runs: None, stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    rows = [customer_row(i) for i in range(1, 13)]
    # customer 2 again, far later (its rows are written by then), with a preference it lacked
    rows.append(customer_row(2, 偏好产品="柔顺剂"))
    # customer 12 again right away (its rows are still held), by phone only
    rows.append(customer_row(12, 身份证号=""))
    rows[1]["偏好产品"] = ""
    summary = _import(stores, keyring, world, write_csv(tmp_path / "c.csv", rows))
    assert (summary.rows_imported, summary.rows_merged) == (12, 2)
    v = lookup(stores, keyring, world, "13900000002", categories=["preference"])
    assert len(v) == 1 and v[0].data["preference"] == {"favourite_product": "柔顺剂"}
    with stores.records_session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerRecord)) == 12
        blind = s.scalar(select(func.count()).select_from(BlindIndex)) or 0
    # every customer has its ID number, phone and customer number indexed, once each
    assert blind == 12 * 3
    for i in (1, 5, 12):
        assert len(lookup(stores, keyring, world, f"139000000{i:02d}")) == 1


def test_a_failed_import_leaves_no_blind_rows(
    small_runs: None, stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    rows = [customer_row(i) for i in range(1, 10)]
    rows[7]["手机号"] = "not a phone"
    with pytest.raises(Exception, match="strict import"):
        _import(stores, keyring, world, write_csv(tmp_path / "c.csv", rows), strict=True)
    with stores.records_session() as s:
        assert s.scalar(select(func.count()).select_from(BlindIndex)) == 0
        assert s.scalar(select(func.count()).select_from(CustomerRecord)) == 0


def test_many_customers_go_through_bulk_copy(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    # 150 customers in one batch: on PostgreSQL the records (450 blind rows too) go through
    # COPY in its binary format (bytea as it is), on SQLite through executemany
    rows = [customer_row(i) for i in range(1, 151)]
    spec = SourceSpec(path=write_csv(tmp_path / "c.csv", rows))
    req = ImportRequest(actor=P(world.steward), deal=world.deal, dataset="crm", spec=spec)
    summary = import_source(stores, keyring, request=req, rejects_dir=tmp_path / "rejects")
    assert summary.rows_imported == 150
    with stores.records_session() as s:
        assert s.scalar(select(func.count()).select_from(BlindIndex)) == 450
    v = lookup(stores, keyring, world, "13900000123", categories=["identity", "contact"])
    assert len(v) == 1 and v[0].data["identity"]["name"] == rows[122]["姓名"]
    assert v[0].data["contact"]["email"] == "user123@example.com"
