"""Open any supported source (CSV, XLSX, Parquet, JSONL, SQL) after checking its magic bytes."""

from __future__ import annotations

from pathlib import Path

from dealvault.errors import InputError
from dealvault.files import file_problem
from dealvault.ingest.csv_reader import CsvSource
from dealvault.ingest.excel_reader import ExcelSource
from dealvault.ingest.jsonl_reader import JsonlSource
from dealvault.ingest.parquet_reader import ParquetSource
from dealvault.ingest.source import (
    FORMATS,
    Format,
    Source,
    SourceBatch,
    SourceSpec,
)
from dealvault.ingest.sql_reader import SqlSource

EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
ZIP = b"PK\x03\x04"
OLE2 = b"\xd0\xcf\x11\xe0"
PAR1 = b"PAR1"
_LABELS = {
    "csv": "CSV text",
    "xlsx": "an XLSX workbook",
    "parquet": "Parquet",
    "jsonl": "JSON Lines",
}


def sniff(*, head: bytes, tail: bytes) -> Format:
    """Guess a format from the first and last bytes of a file."""
    if head.startswith((ZIP, OLE2)):
        return "xlsx"
    if head.startswith(PAR1) and tail.endswith(PAR1):
        return "parquet"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def _check_content(*, fmt: Format, head: bytes, tail: bytes, file: str) -> None:
    actual = sniff(head=head, tail=tail)
    ok = {
        "xlsx": head.startswith((ZIP, OLE2)),
        "parquet": head.startswith(PAR1) and tail.endswith(PAR1),
        "csv": actual in ("csv", "jsonl"),
        "jsonl": actual == "jsonl",
    }[fmt]
    if not ok:
        looks = "" if actual == fmt else f"; it looks like {_LABELS[actual]}"
        raise InputError(f"file is not {_LABELS[fmt]}{looks}", file=file)


def detect_format(*, path: Path, fmt: Format | None = None) -> Format:
    """The format to read ``path`` as: given or from the extension, checked against content."""
    name = path.name
    problem = file_problem(path)
    if problem is not None:
        raise InputError(problem, file=name)
    size = path.stat().st_size
    if size == 0:
        raise InputError("file is empty", file=name)
    try:
        with path.open("rb") as f:
            head = f.read(64)
            f.seek(max(size - 4, 0))
            tail = f.read(4)
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})", file=name) from None
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", file=name)
    chosen = fmt or EXTENSIONS.get(path.suffix.lower()) or sniff(head=head, tail=tail)
    _check_content(fmt=chosen, head=head, tail=tail, file=name)
    return chosen


def open_source(*, spec: SourceSpec) -> Source:
    """Open the file or query ``spec`` describes; raise ``InputError`` for bad input."""
    if spec.batch_rows < 1:
        raise InputError("batch_rows must be at least 1")
    if spec.opened is not None:
        return spec.opened
    if spec.url is not None or spec.query is not None:
        if spec.path is not None:
            raise InputError("give either a file or a database URL and query, not both")
        if not spec.url or not spec.query:
            raise InputError("a SQL source needs both a database URL and a query")
        return SqlSource(url=spec.url, query=spec.query, batch_rows=spec.batch_rows)
    if spec.path is None:
        raise InputError("no input given")
    fmt = detect_format(path=spec.path, fmt=spec.fmt)
    if fmt == "csv":
        return CsvSource(
            path=spec.path,
            encoding=spec.encoding,
            delimiter=spec.delimiter,
            batch_rows=spec.batch_rows,
        )
    if fmt == "xlsx":
        return ExcelSource(path=spec.path, sheet=spec.sheet, batch_rows=spec.batch_rows)
    if fmt == "parquet":
        return ParquetSource(path=spec.path, batch_rows=spec.batch_rows)
    return JsonlSource(path=spec.path, batch_rows=spec.batch_rows)


__all__ = ["Source", "SourceBatch", "SourceSpec", "detect_format", "open_source", "sniff"]
