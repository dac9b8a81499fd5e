"""CSV (UTF-8 / GBK), XLSX and Parquet files are readable and match the generated data."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import polars as pl
import pytest

from dealvault.synth import (
    CUSTOMER_COLUMNS,
    ORDER_COLUMNS,
    export_tables,
    generate_tables,
    write_export,
    writers,
)

ROWS = 1_500
SEED = 21


def _expected() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    (batch,) = generate_tables(rows=ROWS, seed=SEED)
    return batch.customers, batch.orders, batch.notes


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S"),
        pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        pl.all().exclude(pl.Datetime, pl.Date).cast(pl.String),
    )


def _read_csv(data: bytes) -> pl.DataFrame:
    return pl.read_csv(io.BytesIO(data), infer_schema=False)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_csv_round_trip(tmp_path: Path, encoding: Literal["utf-8", "gbk"]) -> None:
    paths = write_export(out_dir=tmp_path, rows=ROWS, seed=SEED, fmt="csv", encoding=encoding)
    assert sorted(p.name for p in paths.values()) == ["customers.csv", "notes.csv", "orders.csv"]
    customers, orders, notes = _expected()
    for path, frame in zip(paths.values(), (customers, orders, notes), strict=True):
        raw = path.read_bytes()
        decoded = raw.decode(encoding)  # strict
        assert decoded.startswith(",".join(frame.columns) + "\n")
        back = _read_csv(decoded.encode("utf-8"))
        assert back.equals(_as_text(frame))
    if encoding == "gbk":
        raw = paths["customers"].read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")


def test_parquet_round_trip(tmp_path: Path) -> None:
    paths = write_export(out_dir=tmp_path, rows=ROWS, seed=SEED, fmt="parquet")
    customers, orders, notes = _expected()
    assert pl.read_parquet(paths["customers"]).equals(customers)
    assert pl.read_parquet(paths["orders"]).equals(orders)
    assert pl.read_parquet(paths["notes"]).equals(notes)


def test_xlsx_readable(tmp_path: Path) -> None:
    paths = write_export(out_dir=tmp_path, rows=300, seed=SEED, fmt="xlsx")
    (batch,) = generate_tables(rows=300, seed=SEED)
    customers = pl.read_excel(paths["customers"], infer_schema_length=0)
    assert customers.columns == list(CUSTOMER_COLUMNS)
    assert customers.height == 300
    assert customers["身份证号"].to_list() == batch.customers["身份证号"].to_list()
    assert customers["银行卡号"].to_list() == batch.customers["银行卡号"].to_list()
    orders = pl.read_excel(paths["orders"])
    assert orders.columns == list(ORDER_COLUMNS)
    assert orders.height == batch.orders.height
    assert orders["下单时间"].dtype == pl.Datetime
    expected_amounts = batch.orders["金额"].cast(pl.Float64).to_list()
    assert orders["金额"].to_list() == pytest.approx(expected_amounts)
    notes = pl.read_excel(paths["notes"])
    assert notes["备注"].to_list() == batch.notes["备注"].to_list()


def test_xlsx_spills_to_more_sheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 101)
    paths = write_export(out_dir=tmp_path, rows=250, seed=1, fmt="xlsx", tables=("customers",))
    sheets = pl.read_excel(paths["customers"], sheet_id=0)
    assert list(sheets) == ["客户信息", "客户信息(2)", "客户信息(3)"]
    assert [s.height for s in sheets.values()] == [100, 100, 50]


def test_summary_progress_and_tables(tmp_path: Path) -> None:
    seen: list[int] = []
    written = export_tables(
        out_dir=tmp_path / "x",
        rows=2_500,
        seed=1,
        fmt="csv",
        tables=("orders", "customers"),
        chunk_rows=1_000,
        progress=seen.append,
    )
    assert seen == [1_000, 2_000, 2_500]
    assert list(written) == ["orders", "customers"]
    assert written["customers"].rows == 2_500
    assert written["customers"].bytes == written["customers"].path.stat().st_size
    assert not (tmp_path / "x" / "notes.csv").exists()


def test_zero_rows_writes_headers(tmp_path: Path) -> None:
    paths = write_export(out_dir=tmp_path, rows=0, seed=1, fmt="csv")
    assert paths["customers"].read_text("utf-8") == ",".join(CUSTOMER_COLUMNS) + "\n"
    paths = write_export(out_dir=tmp_path / "p", rows=0, seed=1, fmt="parquet")
    assert pl.read_parquet(paths["orders"]).columns == list(ORDER_COLUMNS)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CSV only"):
        write_export(out_dir=tmp_path, rows=1, seed=1, fmt="xlsx", encoding="gbk")
    with pytest.raises(ValueError, match="tables"):
        write_export(out_dir=tmp_path, rows=1, seed=1, fmt="csv", tables=("clients",))
