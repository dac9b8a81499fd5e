"""Streaming writers for synthetic exports: CSV (UTF-8 / GBK), XLSX and Parquet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, Protocol

import polars as pl
import pyarrow.parquet as pq
import xlsxwriter

from dealvault.sheets import XLSX_OPTIONS
from dealvault.synth.activity import NOTE_SCHEMA, ORDER_SCHEMA
from dealvault.synth.customers import CUSTOMER_SCHEMA
from dealvault.synth.generator import DEFAULT_AS_OF, TABLES, generate_tables
from dealvault.synth.messy import MESSY_HEADERS, MESSY_SCHEMA, messify

Format = Literal["csv", "xlsx", "parquet"]
Encoding = Literal["utf-8", "gbk"]

SCHEMAS: Final[dict[str, pl.Schema]] = {
    "customers": CUSTOMER_SCHEMA,
    "orders": ORDER_SCHEMA,
    "notes": NOTE_SCHEMA,
}
SHEET_NAMES: Final = {"customers": "客户信息", "orders": "订单明细", "notes": "客服记录"}
PARQUET_ROW_GROUP_ROWS: Final = 100_000
XLSX_MAX_ROWS: Final = 1_048_576  # per worksheet, header included
_EXCEL_EPOCH_OFFSET: Final = 25_569  # days from 1899-12-30 to 1970-01-01
_COLUMN_WIDTHS: Final = {
    "姓名": 10, "性别": 6, "出生日期": 12, "身份证号": 21, "手机号": 18, "邮箱": 30,
    "地址": 48, "银行卡号": 22, "注册日期": 12, "偏好产品": 20, "订单号": 22,
    "下单时间": 20, "产品名称": 16, "记录时间": 20, "备注": 80,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class WrittenTable:
    """One written file."""

    path: Path
    rows: int
    bytes: int


class _TableWriter(Protocol):
    def write(self, frame: pl.DataFrame) -> None: ...

    def close(self) -> None: ...


class _CsvWriter:
    """Header once, comma separated, minimal quoting, ``\\n`` line ends, encoded per batch.

    ``headers`` (messy exports) replace the column names in the header line: they may be
    empty or repeat.
    """

    def __init__(
        self,
        path: Path,
        schema: pl.Schema,
        encoding: Encoding,
        headers: Sequence[str] | None = None,
    ) -> None:
        self._fh: BinaryIO = path.open("wb")
        self._schema = schema
        self._encoding = encoding
        self._header = True
        self._headers = headers

    def write(self, frame: pl.DataFrame) -> None:
        if self._header and self._headers is not None:
            names = pl.DataFrame([pl.Series(str(i), [h]) for i, h in enumerate(self._headers)])
            self._fh.write(
                names.write_csv(None, include_header=False, line_terminator="\n").encode(
                    self._encoding
                )
            )
            self._header = False
        text = frame.write_csv(
            None,
            include_header=self._header,
            date_format="%Y-%m-%d",
            datetime_format="%Y-%m-%d %H:%M:%S",
            line_terminator="\n",
        )
        self._fh.write(text.encode(self._encoding))  # strict: fails on unencodable text
        self._header = False

    def close(self) -> None:
        if self._header:
            self.write(pl.DataFrame(schema=self._schema))
        self._fh.close()


class _ParquetWriter:
    """Fixed-size row groups (independent of batch size), zstd, types from the schema."""

    def __init__(self, path: Path, schema: pl.Schema) -> None:
        arrow_schema = _to_arrow(pl.DataFrame(schema=schema)).schema
        self._writer = pq.ParquetWriter(str(path), arrow_schema, compression="zstd")
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        self._pending.append(frame)
        self._pending_rows += frame.height
        if self._pending_rows >= PARQUET_ROW_GROUP_ROWS:
            buffered = pl.concat(self._pending, rechunk=False)
            full = buffered.height - buffered.height % PARQUET_ROW_GROUP_ROWS
            for start in range(0, full, PARQUET_ROW_GROUP_ROWS):
                self._flush(buffered.slice(start, PARQUET_ROW_GROUP_ROWS))
            rest = buffered.slice(full)
            self._pending, self._pending_rows = [rest], rest.height

    def _flush(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._writer.write_table(_to_arrow(frame.rechunk()))

    def close(self) -> None:
        if self._pending_rows:
            self._flush(pl.concat(self._pending))
        self._pending, self._pending_rows = [], 0
        self._writer.close()


def _to_arrow(frame: pl.DataFrame) -> Any:
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())


class _XlsxWriter:
    """Row-by-row writer in xlsxwriter's constant-memory mode; spills to extra sheets."""

    def __init__(
        self,
        path: Path,
        schema: pl.Schema,
        sheet: str,
        created: date,
        headers: Sequence[str] | None = None,
    ) -> None:
        self._wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, **XLSX_OPTIONS})
        # Fixed creation time so the same input gives identical bytes.
        self._wb.set_properties({"created": datetime.combine(created, time())})
        self._schema = schema
        self._headers = list(headers) if headers is not None else schema.names()
        self._sheet_name = sheet
        self._sheets = 0
        self._header_fmt = self._wb.add_format({"bold": True})
        date_fmt = self._wb.add_format({"num_format": "yyyy-mm-dd"})
        stamp_fmt = self._wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        money_fmt = self._wb.add_format({"num_format": "0.00"})
        self._formats: list[Any] = []
        for dtype in schema.dtypes():
            if dtype == pl.Date:
                self._formats.append(date_fmt)
            elif isinstance(dtype, pl.Datetime):
                self._formats.append(stamp_fmt)
            elif isinstance(dtype, pl.Decimal):
                self._formats.append(money_fmt)
            else:
                self._formats.append(None)
        self._strings = [dtype == pl.String for dtype in schema.dtypes()]
        self._new_sheet()

    def _new_sheet(self) -> None:
        self._sheets += 1
        suffix = "" if self._sheets == 1 else f"({self._sheets})"
        self._ws = self._wb.add_worksheet(self._sheet_name + suffix)
        for i, name in enumerate(self._schema.names()):
            self._ws.set_column(i, i, _COLUMN_WIDTHS.get(name, 12))
        self._ws.freeze_panes(1, 0)
        for i, name in enumerate(self._headers):
            if name:  # a messy export leaves one header cell empty
                self._ws.write_string(0, i, name, self._header_fmt)
        self._row = 1

    def write(self, frame: pl.DataFrame) -> None:
        # Excel serial numbers: days since 1899-12-30 (dates) and fractional days (times).
        cells = frame.with_columns(
            pl.col(pl.Date).cast(pl.Int32) + _EXCEL_EPOCH_OFFSET,
            pl.col(pl.Datetime).dt.epoch("ms") / 86_400_000 + _EXCEL_EPOCH_OFFSET,
            pl.col(pl.Decimal).cast(pl.Float64),
        )
        ws, formats, strings = self._ws, self._formats, self._strings
        columns = range(len(formats))
        for values in cells.iter_rows():
            if self._row >= XLSX_MAX_ROWS:
                self._new_sheet()
                ws = self._ws
            row = self._row
            for c in columns:
                value = values[c]
                if value is None:
                    continue
                if strings[c]:
                    ws.write_string(row, c, value)
                else:
                    ws.write_number(row, c, value, formats[c])
            self._row = row + 1

    def close(self) -> None:
        self._wb.close()


def _open(
    path: Path, table: str, fmt: Format, encoding: Encoding, as_of: date, messy: bool
) -> _TableWriter:
    schema = SCHEMAS[table]
    headers: Sequence[str] | None = None
    if messy and table == "customers":
        schema, headers = MESSY_SCHEMA, MESSY_HEADERS
    if fmt == "csv":
        return _CsvWriter(path, schema, encoding, headers)
    if fmt == "parquet":
        return _ParquetWriter(path, schema)
    return _XlsxWriter(path, schema, SHEET_NAMES[table], as_of, headers)


def export_tables(
    *,
    out_dir: Path,
    rows: int,
    seed: int,
    fmt: Format,
    encoding: Encoding = "utf-8",
    tables: Sequence[str] = TABLES,
    progress: Callable[[int], None] | None = None,
    orders_per_customer: float = 3.0,
    notes_per_customer: float = 0.5,
    chunk_rows: int = 50_000,
    as_of: date = DEFAULT_AS_OF,
    messy: bool = False,
) -> dict[str, WrittenTable]:
    """Write the export and report path, row count and size per table.

    Files are ``<table>.<fmt>`` in ``out_dir`` (created if missing). ``progress`` is called
    after every batch with the number of customers generated so far. ``encoding`` applies
    to CSV only. ``messy`` writes the customers as real CRM exports look (``synth.messy``:
    placeholders, two phones in a cell, Excel serial and Chinese dates, a membership tier, an
    empty and a repeated header); CSV and XLSX only.
    """
    if fmt not in ("csv", "xlsx", "parquet"):
        raise ValueError(f"unknown format: {fmt}")
    if encoding not in ("utf-8", "gbk"):
        raise ValueError(f"unknown encoding: {encoding}")
    if fmt != "csv" and encoding != "utf-8":
        raise ValueError("encoding applies to CSV only")
    if messy and fmt == "parquet":
        raise ValueError("messy exports are CSV or XLSX (a Parquet schema has no such mess)")
    wanted = tuple(dict.fromkeys(tables))
    unknown = set(wanted) - set(TABLES)
    if unknown or not wanted:
        raise ValueError(f"tables must be a non-empty subset of {TABLES}, got {list(tables)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {t: out_dir / f"{t}.{fmt}" for t in wanted}
    counts = dict.fromkeys(wanted, 0)
    writers: dict[str, _TableWriter] = {}
    try:
        for t in wanted:
            writers[t] = _open(paths[t], t, fmt, encoding, as_of, messy)
        done = 0
        for batch in generate_tables(
            rows=rows,
            seed=seed,
            orders_per_customer=orders_per_customer,
            notes_per_customer=notes_per_customer,
            chunk_rows=chunk_rows,
            tables=wanted,
            as_of=as_of,
        ):
            for t in wanted:
                frame = batch.table(t)
                if messy and t == "customers":
                    frame = messify(frame, seed=seed)
                writers[t].write(frame)
                counts[t] += frame.height
            done += batch.customers.height
            if progress is not None:
                progress(done)
    finally:
        for w in writers.values():
            w.close()
    return {t: WrittenTable(paths[t], counts[t], paths[t].stat().st_size) for t in wanted}


def write_export(
    *,
    out_dir: Path,
    rows: int,
    seed: int,
    fmt: Format,
    encoding: Encoding = "utf-8",
    tables: Sequence[str] = TABLES,
    progress: Callable[[int], None] | None = None,
    orders_per_customer: float = 3.0,
    notes_per_customer: float = 0.5,
    chunk_rows: int = 50_000,
    as_of: date = DEFAULT_AS_OF,
    messy: bool = False,
) -> dict[str, Path]:
    """Write ``customers``/``orders``/``notes`` files to ``out_dir``; return their paths."""
    written = export_tables(
        out_dir=out_dir,
        rows=rows,
        seed=seed,
        fmt=fmt,
        encoding=encoding,
        tables=tables,
        progress=progress,
        orders_per_customer=orders_per_customer,
        notes_per_customer=notes_per_customer,
        chunk_rows=chunk_rows,
        as_of=as_of,
        messy=messy,
    )
    return {t: w.path for t, w in written.items()}
