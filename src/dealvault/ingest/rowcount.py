"""How many rows a source holds, known before it is read, so progress bars count rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from dealvault.ingest.source import SourceSpec

_CHUNK = 16 << 20


def _lines(path: Path) -> int:
    """Newline-terminated lines (a last line without a newline counts too). ASCII-compatible
    encodings (UTF-8, GBK, GB18030) never use byte 0x0A inside a character."""
    count, last = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):  # bytes.count runs in C: ~1 GB/s
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (1 if last and last != b"\n" else 0)


def expected_rows(spec: SourceSpec) -> int | None:
    """The data rows of ``spec``: exact for Parquet and JSONL; for CSV the lines after the
    header (an upper bound when quoted values span lines); None when unknown (XLSX, SQL)."""
    path = spec.path
    if path is None or not path.is_file():
        return None
    fmt = spec.fmt or path.suffix.lower().lstrip(".")
    try:
        if fmt == "parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        if fmt == "jsonl":
            return _lines(path)
        if fmt in ("csv", "txt", "tsv"):
            return max(0, _lines(path) - 1)
    except (OSError, ValueError):
        return None
    return None
