"""Streaming Parquet reader: row-group batches with every column cast to text."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dealvault.errors import InputError
from dealvault.ingest.column_names import clean_headers
from dealvault.ingest.source import (
    SourceBase,
    SourceBatch,
    file_sha256,
    number_batches,
)


def to_text(*, arr: pa.Array, file: str, column: str) -> pa.Array:
    """Cast a scalar column to strings (ISO dates/times, numbers as text); reject nested types."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return arr.cast(pa.string())
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_timestamp(t):
        fmt = "%Y-%m-%dT%H:%M:%S%z" if t.tz is not None else "%Y-%m-%dT%H:%M:%S"
        if t.unit != "s":
            arr = arr.cast(pa.timestamp("s", tz=t.tz), safe=False)
        return pc.strftime(arr, format=fmt)
    if pa.types.is_date(t):
        return arr.cast(pa.date32()).cast(pa.string())
    if (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
        or pa.types.is_time(t)
    ):
        return arr.cast(pa.string())
    raise InputError(f"unsupported column type {t}", file=file, column=column)


class ParquetSource(SourceBase):
    """A Parquet file read batch by batch with ``ParquetFile.iter_batches``."""

    fmt = "parquet"

    def __init__(self, *, path: Path, batch_rows: int = 50_000) -> None:
        self.path = path
        self.name = path.name
        self.batch_rows = batch_rows
        self.size_bytes = path.stat().st_size
        if self.size_bytes == 0:
            raise InputError("file is empty", file=self.name)
        try:
            self._pf = pq.ParquetFile(str(path))
        except Exception:
            raise InputError("not a readable Parquet file", file=self.name) from None
        schema = self._pf.schema_arrow
        self.columns, self.header_notes = clean_headers(headers=schema.names)
        for field in schema:
            t = field.type
            if (
                pa.types.is_nested(t)
                or pa.types.is_binary(t)
                or pa.types.is_large_binary(t)
                or pa.types.is_fixed_size_binary(t)
            ):
                raise InputError(f"unsupported column type {t}", file=self.name, column=field.name)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the raw file bytes."""
        return file_sha256(path=self.path)

    def close(self) -> None:
        self._pf.close()

    def batches(self) -> Iterator[SourceBatch]:
        """Batches of ``batch_rows`` rows, every column a string column."""
        total = max(self._pf.metadata.num_rows, 1)

        def gen() -> Iterator[tuple[pa.RecordBatch, int | None]]:
            done = 0
            try:
                for b in self._pf.iter_batches(batch_size=self.batch_rows):
                    cols = [
                        to_text(arr=c, file=self.name, column=n)
                        for c, n in zip(b.columns, self.columns, strict=True)
                    ]
                    done += b.num_rows
                    yield (
                        pa.RecordBatch.from_arrays(cols, names=self.columns),
                        self.size_bytes * done // total,
                    )
            except (pa.ArrowException, OSError):
                raise InputError(
                    f"corrupt Parquet data after row {done}", file=self.name, row=done + 1
                ) from None

        yield from number_batches(batches=gen())
