"""Same seed gives the same data, whatever the chunk size; different seeds differ."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import polars as pl
import pytest

from dealvault.synth import BLOCK_ROWS, generate_customers, generate_tables, write_export


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(frames, rechunk=True)


def test_chunk_size_does_not_change_customers() -> None:
    rows = BLOCK_ROWS + 2_345
    small = list(generate_customers(rows=rows, seed=5, chunk_rows=777))
    big = list(generate_customers(rows=rows, seed=5, chunk_rows=50_000))
    assert all(f.height == 777 for f in small[:-1])
    assert len(big) == 1
    assert _concat(small).equals(_concat(big))


def test_chunk_size_does_not_change_tables() -> None:
    rows = BLOCK_ROWS + 1_001
    a = list(generate_tables(rows=rows, seed=9, chunk_rows=1_234))
    b = list(generate_tables(rows=rows, seed=9, chunk_rows=BLOCK_ROWS * 3))
    for table in ("customers", "orders", "notes"):
        assert _concat([x.table(table) for x in a]).equals(_concat([x.table(table) for x in b]))
    # Each batch carries exactly the orders and notes of its customers.
    for batch in a:
        ids = set(batch.customers["客户编号"])
        assert set(batch.orders["客户编号"]) <= ids
        assert set(batch.notes["客户编号"]) <= ids


def test_smaller_export_is_a_prefix() -> None:
    (small,) = generate_tables(rows=1_500, seed=3)
    (big,) = generate_tables(rows=BLOCK_ROWS + 500, seed=3, chunk_rows=BLOCK_ROWS + 500)
    assert big.customers.head(1_500).equals(small.customers)
    assert big.orders.head(small.orders.height).equals(small.orders)
    assert big.notes.head(small.notes.height).equals(small.notes)


def test_customers_do_not_depend_on_other_tables() -> None:
    (only,) = generate_tables(rows=500, seed=4, tables=("customers",))
    (all_tables,) = generate_tables(rows=500, seed=4)
    assert only.customers.equals(all_tables.customers)


def test_different_seeds_differ() -> None:
    (a,) = generate_customers(rows=200, seed=1)
    (b,) = generate_customers(rows=200, seed=2)
    assert not a.equals(b)


def _digest(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


@pytest.mark.parametrize(
    ("fmt", "encoding"),
    [("csv", "utf-8"), ("csv", "gbk"), ("parquet", "utf-8"), ("xlsx", "utf-8")],
)
def test_same_seed_same_bytes(
    tmp_path: Path, fmt: Literal["csv", "xlsx", "parquet"], encoding: Literal["utf-8", "gbk"]
) -> None:
    rows = 1_200 if fmt == "xlsx" else 3_000
    write_export(out_dir=tmp_path / "a", rows=rows, seed=11, fmt=fmt, encoding=encoding)
    write_export(
        out_dir=tmp_path / "b", rows=rows, seed=11, fmt=fmt, encoding=encoding, chunk_rows=500
    )
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="rows"):
        next(generate_customers(rows=-1, seed=1))
    with pytest.raises(ValueError, match="seed"):
        next(generate_customers(rows=1, seed=-1))
    with pytest.raises(ValueError, match="chunk_rows"):
        next(generate_customers(rows=1, seed=1, chunk_rows=0))
    with pytest.raises(ValueError, match="unknown tables"):
        generate_tables(rows=1, seed=1, tables=("clients",))
