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
        mark = watermark_text(meta)
        if mark:
            data = wb.get_worksheet_by_name(DATA_SHEET)
            assert data is not None
            _watermark(data, mark, rows=frame.height + 1, columns=frame.width)
            _watermark(about, mark, rows=len(meta) + 1, columns=2)
    finally:
        wb.close()


#: Rows between two copies of the watermark on a sheet, and the most copies a sheet gets.
WATERMARK_EVERY: Final = 20
WATERMARK_MOST: Final = 250


def watermark_text(meta: Mapping[str, Any]) -> str:
    """Whom a file was made for, as its visible watermark shows it: the person who took it
    (name, else e-mail), the recipient organisation and the time of the release."""
    who = meta.get("generated_by_name") or meta.get("generated_by")
    parts = [str(v) for v in (who, meta.get("recipient"), meta.get("generated_at")) if v]
    return " · ".join(parts)


def _watermark(sheet: Any, mark: str, *, rows: int, columns: int) -> None:
    """A visible watermark on ``sheet``, in the two places a spreadsheet shows one:

    - the header and footer of every printed page (and of the page layout view), with
      "CONFIDENTIAL" and the page number;
    - floating text boxes repeated every :data:`WATERMARK_EVERY` rows over the data (in
      the normal view), without fill or border, so the cells under them stay readable and
      clickable; they are drawings, not cells, so no value changes and a reader of the
      cells (``read_disclosure``) sees the data exactly as written.

    Excel has no other watermark: a background image is not printed and needs an image
    library, and a watermark row would shift the data. The text is plain: an ``&`` becomes
    the full-width ampersand, so no header control code is ever formed from a name.
    """
    plain = mark.replace("&", "\uff06")
    head = f"CONFIDENTIAL · {plain}"[:200]
    sheet.set_header(f'&C&"-,Bold"{head}')
    sheet.set_footer(f"&L{head[:180]}&R&P / &N")
    width = max(420, min(9, max(columns, 1)) * 64)
    box = {
        "width": width,
        "height": 26,
        "font": {"size": 13, "bold": True, "color": "#A6ADB4"},
        "fill": {"none": True},
        "line": {"none": True},
        "align": {"vertical": "middle", "horizontal": "center"},
        "object_position": 3,
        "description": "watermark",
    }
    copies = min(WATERMARK_MOST, max(1, -(-rows // WATERMARK_EVERY)))
    for i in range(copies):
        sheet.insert_textbox(i * WATERMARK_EVERY + 1, 0, plain, box)


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
