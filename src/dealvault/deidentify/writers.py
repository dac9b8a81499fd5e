"""Write a disclosure to CSV, XLSX or Parquet with its level, recipient, time and parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Final, Literal

import polars as pl
import pyarrow.parquet as pq
import xlsxwriter

from dealvault.errors import Invalid
from dealvault.files import atomic_private, open_private
from dealvault.sheets import XLSX_OPTIONS, neutralise, neutralise_text, restore

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: Final = ("csv", "xlsx", "parquet")
#: First line of a CSV disclosure; the rest of the line is the metadata as JSON.
CSV_MARKER: Final = "# dealvault-disclosure: "
#: Parquet file metadata key holding the metadata as JSON.
PARQUET_KEY: Final = b"dealvault.disclosure"
#: Sheet of an XLSX disclosure that holds the metadata, one key per row.
ABOUT_SHEET: Final = "about"
DATA_SHEET: Final = "data"


def format_for(path: Path, fmt: str | None) -> Format:
    """The output format: given, or from the file suffix."""
    chosen = (fmt or path.suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        raise Invalid(
            f"cannot tell the output format of {path.name}; use --format csv|xlsx|parquet"
        )
    return chosen  # type: ignore[return-value]


def write_disclosure(
    frame: pl.DataFrame, *, path: Path, fmt: Format, meta: Mapping[str, Any]
) -> None:
    """Write ``frame`` and its metadata, mode 0600; the file appears whole or not at all.

    CSV and XLSX text cells that a spreadsheet would run as a formula get a leading quote
    (``sheets.neutralise``; :func:`read_disclosure` takes it off again), at every level.
    """
    text = json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str)
    with atomic_private(path) as part:
        if fmt == "csv":
            with open_private(part, "w", encoding="utf-8", newline="") as fh:
                fh.write(CSV_MARKER + text + "\n")
                neutralise(frame).write_csv(fh)
        elif fmt == "parquet":
            table = frame.to_arrow()
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), PARQUET_KEY: text.encode()}
            )
            with open_private(part, "wb") as fh:
                pq.write_table(table, fh, compression="zstd")
        else:
            with open_private(part, "wb") as fh:
                _write_xlsx(neutralise(frame), out=fh, meta=meta, text=text)


def _write_xlsx(frame: pl.DataFrame, *, out: IO[bytes], meta: Mapping[str, Any], text: str) -> None:
    wb = xlsxwriter.Workbook(out, {"constant_memory": False, **XLSX_OPTIONS})
    try:
        wb.set_properties(
            {
                "title": f"dealvault disclosure ({meta.get('level', '?')})",
                "subject": f"recipient: {meta.get('recipient', '?')}",
                "comments": text,
            }
        )
        for key in ("level", "recipient", "generated_at", "deal", "dataset"):
            if meta.get(key) is not None:
                wb.set_custom_property(f"dealvault.{key}", str(meta[key]))
        frame.write_excel(workbook=wb, worksheet=DATA_SHEET, autofit=frame.height <= 10_000)
        about = wb.add_worksheet(ABOUT_SHEET)
        about.write_row(0, 0, ["key", "value"])
        for row, (key, value) in enumerate(sorted(meta.items()), start=1):
            about.write_string(row, 0, neutralise_text(key))
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            about.write_string(row, 1, neutralise_text(shown))
    finally:
        wb.close()


def read_disclosure_meta(path: Path) -> dict[str, Any]:
    """The metadata written with a disclosure file (CSV, XLSX or Parquet)."""
    fmt = format_for(path, None)
    if fmt == "csv":
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
        if not first.startswith(CSV_MARKER):
            raise Invalid(f"{path.name}: no dealvault disclosure header on line 1")
        loaded: dict[str, Any] = json.loads(first[len(CSV_MARKER) :])
        return loaded
    if fmt == "parquet":
        meta = pq.read_schema(path).metadata or {}
        if PARQUET_KEY not in meta:
            raise Invalid(f"{path.name}: no dealvault disclosure metadata")
        parsed: dict[str, Any] = json.loads(meta[PARQUET_KEY])
        return parsed
    about = restore(pl.read_excel(path, sheet_name=ABOUT_SHEET, infer_schema_length=0))
    out: dict[str, Any] = {}
    for key, value in about.iter_rows():
        try:
            out[str(key)] = json.loads(value)
        except (TypeError, ValueError):
            out[str(key)] = value
    return out


def read_disclosure(path: Path) -> pl.DataFrame:
    """The data part of a disclosure file, as written (quotes against formulas taken off)."""
    fmt = format_for(path, None)
    if fmt == "csv":
        return restore(pl.read_csv(path, comment_prefix="#", infer_schema=False))
    if fmt == "parquet":
        return pl.read_parquet(path)
    return restore(pl.read_excel(path, sheet_name=DATA_SHEET, infer_schema_length=0))
