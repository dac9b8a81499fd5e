"""``synth --messy``: customers written as real CRM exports look, deterministically."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dealvault.cli.main import app
from dealvault.ingest.readers import SourceSpec, open_source
from dealvault.synth import export_tables, generate_tables
from dealvault.synth.messy import MESSY_HEADERS, messify

ROWS = 3_000


def _headers(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def test_messy_csv_has_the_mess_and_is_deterministic(tmp_path: Path) -> None:
    a = export_tables(out_dir=tmp_path / "a", rows=ROWS, seed=5, fmt="csv", messy=True)
    b = export_tables(
        out_dir=tmp_path / "b", rows=ROWS, seed=5, fmt="csv", messy=True, chunk_rows=700
    )
    data = a["customers"].path.read_bytes()
    assert data == b["customers"].path.read_bytes()  # same whatever the batch size
    headers = _headers(a["customers"].path)
    assert headers == list(MESSY_HEADERS)
    assert headers.count("") == 1 and headers.count("备注") == 2
    frame = pl.read_csv(a["customers"].path, infer_schema=False, has_header=False, skip_rows=1)
    phones, emails = frame.get_column(frame.columns[5]), frame.get_column(frame.columns[6])
    two = phones.str.contains(r"\d[/，、 ;]+1\d{10}$").mean()
    assert 0.03 < float(two or 0) < 0.08  # type: ignore[arg-type]
    assert phones.is_in(["无", "暂无", "N/A", "-", "不详"]).sum() > 30
    assert emails.is_in(["无", "暂无", "N/A", "-", "不详"]).sum() > 30
    registered = frame.get_column(frame.columns[9])
    assert registered.str.contains(r"^\d{5}$").mean() > 0.2  # type: ignore[operator]
    assert registered.str.contains(r"^\d{4}年\d{1,2}月$").sum() > 50
    tiers = frame.get_column(frame.columns[12]).value_counts()
    assert tiers.height == 5
    # the orders and notes are the plain ones
    plain = export_tables(out_dir=tmp_path / "c", rows=ROWS, seed=5, fmt="csv")
    assert a["orders"].path.read_bytes() == plain["orders"].path.read_bytes()
    assert plain["customers"].path.read_bytes() != data


def test_messy_xlsx_reads_with_generated_and_unique_names(tmp_path: Path) -> None:
    out = export_tables(
        out_dir=tmp_path, rows=300, seed=2, fmt="xlsx", tables=["customers"], messy=True
    )
    with open_source(spec=SourceSpec(path=out["customers"].path)) as src:
        assert src.columns[-4:] == ["会员等级", "column_14", "备注", "备注_2"]
        assert len(src.header_notes) == 2
        rows = sum(b.data.num_rows for b in src.batches())
    assert rows == 300


def test_messify_keeps_every_customer_and_value_it_does_not_spoil() -> None:
    (batch,) = generate_tables(rows=500, seed=9, tables=["customers"])
    messy = messify(batch.customers, seed=9)
    assert messy.height == 500
    assert messy.get_column("客户编号").equals(batch.customers.get_column("客户编号"))
    assert messy.get_column("姓名").equals(batch.customers.get_column("姓名"))
    kept = messy.get_column("手机号").str.starts_with(batch.customers.get_column("手机号"))
    assert kept.mean() > 0.95  # type: ignore[operator]


def test_messy_parquet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CSV or XLSX"):
        export_tables(out_dir=tmp_path, rows=10, seed=1, fmt="parquet", messy=True)
    r = CliRunner().invoke(
        app, ["synth", "-n", "10", "-o", str(tmp_path), "-f", "parquet", "--messy"]
    )
    assert r.exit_code == 1 and "CSV or XLSX" in r.output
