"""What the CLI reports counts the right things: rows imported of rows in the file, customers
rotated of the dataset's customers, and an opted-out customer said to be opted out."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dealvault.crypto.keyring import KeyRing
from dealvault.flows import customers, keys
from dealvault.flows.context import AppStores
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.ingest.readers import SourceSpec
from dealvault.ingest.rowcount import expected_rows
from tests.conftest import P, World
from tests.vault.helpers import customer_row, write_csv


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _import(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    path: Path,
    dataset: str,
    progress: object = None,
) -> None:
    req = ImportRequest(
        actor=P(world.steward),
        deal=world.deal,
        dataset=dataset,
        spec=SourceSpec(path=path, batch_rows=100),
    )
    import_source(
        stores, keyring, request=req, rejects_dir=path.parent / "rejects", progress=progress
    )  # type: ignore[arg-type]


def test_expected_rows_per_format(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "c.csv", [customer_row(i) for i in range(1, 8)])
    assert expected_rows(SourceSpec(path=csv_path)) == 7
    quoted = tmp_path / "q.csv"
    quoted.write_text('a,b\n1,"two\nlines"\n3,x\n', encoding="utf-8")
    assert expected_rows(SourceSpec(path=quoted)) == 3  # an upper bound: 2 records, 3 lines
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text('{"a": 1}\n{"a": 2}', encoding="utf-8")  # no final newline
    assert expected_rows(SourceSpec(path=jsonl)) == 2
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"a": list(range(11))}), parquet)
    assert expected_rows(SourceSpec(path=parquet)) == 11
    assert expected_rows(SourceSpec(url="sqlite://", query="select 1")) is None


def test_the_import_bar_counts_rows_not_bytes_read_ahead(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", [customer_row(i) for i in range(1, 451)])
    seen: list[tuple[int, int | None]] = []
    _import(stores, keyring, world, path, "crm", progress=lambda r, t: seen.append((r, t)))
    assert len(seen) >= 4  # batches of 100
    assert all(total == 450 for _, total in seen)
    rows = [r for r, _ in seen]
    assert rows == sorted(rows) and rows[-1] == 450 and rows[0] <= 100


def test_rotation_totals_count_this_datasets_customers_and_keep_opted_out_readable(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    other = write_csv(tmp_path / "o.csv", [customer_row(i) for i in range(1000, 1300)])
    _import(stores, keyring, world, other, "other")  # record ids of another dataset first
    mine = write_csv(tmp_path / "m.csv", [customer_row(i) for i in range(1, 121)])
    _import(stores, keyring, world, mine, "crm")
    steward = P(world.steward)
    found = customers.lookup(
        stores,
        keyring,
        actor=steward,
        deal=world.deal,
        dataset="crm",
        by="phone",
        value="13900000007",
        categories=None,
        purpose="t",
    )
    subject = found[0].subject_id
    customers.set_status(
        stores,
        actor=steward,
        deal=world.deal,
        dataset="crm",
        subject_id=subject,
        status="opted_out",
        reason="letter",
    )
    seen: list[tuple[int, int]] = []
    keys.rotate_data_key(
        stores,
        keyring,
        actor=steward,
        deal=world.deal,
        dataset="crm",
        batch_size=50,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[-1] == (120, 120) and all(t == 120 for _, t in seen)
    view = customers.lookup(
        stores,
        keyring,
        actor=steward,
        deal=world.deal,
        dataset="crm",
        by="subject_id",
        value=subject,
        categories=None,
        purpose="t",
    )
    assert [v.status for v in view] == ["opted_out"]  # said as such, never "shredded"
    customers.set_status(
        stores,
        actor=steward,
        deal=world.deal,
        dataset="crm",
        subject_id=subject,
        status="active",
        reason="withdrawn",
    )
    back = customers.lookup(
        stores,
        keyring,
        actor=steward,
        deal=world.deal,
        dataset="crm",
        by="subject_id",
        value=subject,
        categories=None,
        purpose="t",
    )
    assert back[0].status == "active" and back[0].data  # rotated with the rest: still readable
    assert json.dumps(back[0].data)
