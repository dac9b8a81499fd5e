"""XLSX reader via fastexcel (calamine): one sheet, every cell as text, dates as ISO text.

XLSX cannot be streamed: the whole sheet is loaded into memory, then sliced into batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import fastexcel
import pyarrow as pa
import pyarrow.compute as pc

from dealvault.errors import InputError
from dealvault.ingest.column_names import clean_headers
from dealvault.ingest.source import (
    SourceBase,
    SourceBatch,
    file_sha256,
    number_batches,
)

_DATE_ONLY = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"
_DATE_TIME = r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$"


class ExcelSource(SourceBase):
    """One worksheet of an XLSX workbook (the first unless ``sheet`` names one)."""

    fmt = "xlsx"

    def __init__(self, *, path: Path, sheet: str | None = None, batch_rows: int = 50_000) -> None:
        self.path = path
        self.name = path.name
        self.batch_rows = batch_rows
        self.size_bytes = path.stat().st_size
        if self.size_bytes == 0:
            raise InputError("file is empty", file=self.name)
        try:
            reader = fastexcel.read_excel(str(path))
        except Exception:
            raise InputError("not a readable XLSX workbook", file=self.name) from None
        if not reader.sheet_names:
            raise InputError("workbook has no sheets", file=self.name)
        if sheet is not None and sheet not in reader.sheet_names:
            raise InputError(f"no sheet named {sheet!r}", file=self.name)
        self.sheet = sheet if sheet is not None else reader.sheet_names[0]
        self._reader = reader
        try:
            head = reader.load_sheet(self.sheet, header_row=None, n_rows=1, dtypes="string")
            first = head.to_arrow().to_pylist()
        except Exception:
            raise InputError("sheet could not be read", file=self.name) from None
        if not first or all(v is None for v in first[0].values()):
            raise InputError(f"sheet {self.sheet!r} is empty", file=self.name)
        self.columns, self.header_notes = clean_headers(
            headers=[("" if v is None else str(v)) for v in first[0].values()]
        )

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the raw workbook bytes."""
        return file_sha256(path=self.path)

    def _load(self) -> pa.RecordBatch:
        try:
            sheet = self._reader.load_sheet(self.sheet, header_row=0, dtypes="string")
            batch = sheet.to_arrow()
        except Exception:
            raise InputError(f"sheet {self.sheet!r} could not be read", file=self.name) from None
        if batch.num_columns != len(self.columns):
            raise InputError("sheet columns do not match its header row", file=self.name)
        cols: list[pa.Array] = []
        for col in batch.columns:
            arr = col.cast(pa.string())
            arr = pc.replace_substring_regex(arr, pattern=_DATE_ONLY, replacement=r"\1")
            arr = pc.replace_substring_regex(arr, pattern=_DATE_TIME, replacement=r"\1T\2")
            cols.append(arr)
        return pa.RecordBatch.from_arrays(cols, names=self.columns)

    def batches(self) -> Iterator[SourceBatch]:
        """The sheet, sliced into batches of ``batch_rows`` rows."""
        data = self._load()
        size = self.size_bytes

        def slices() -> Iterator[tuple[pa.RecordBatch, int | None]]:
            n = data.num_rows
            for start in range(0, n, self.batch_rows):
                part = data.slice(start, self.batch_rows)
                done = start + part.num_rows
                yield part, (size * done // n if n else size)

        yield from number_batches(batches=slices())
