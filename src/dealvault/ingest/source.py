"""Common types of the ingest readers: source spec, streamed batches, header checks, re-batching."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self

import pyarrow as pa

Format = Literal["csv", "xlsx", "parquet", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet", "jsonl")
DEFAULT_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class SourceSpec:
    """What to read: a file (``path``) or a SQL query (``url`` + ``query``), and how; or a
    source opened already (``opened``: e.g. the records of a received transfer package)."""

    path: Path | None = None
    url: str | None = None
    query: str | None = None
    fmt: Format | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    batch_rows: int = DEFAULT_BATCH_ROWS
    opened: Source | None = None


@dataclass(frozen=True)
class SourceBatch:
    """Up to ``batch_rows`` rows; every column a string column named after its header."""

    data: pa.RecordBatch
    first_row: int
    bytes_read: int | None


class Source(Protocol):
    """An open input; iterate ``batches()`` once, then ``close()`` (or use ``with``).

    ``name`` is for messages (file name, or "sql query"); ``content_hash`` is
    ``sha256:<hex>`` of the raw file (SQL: of the password-less URL and the query).
    ``columns`` are the cleaned names (``ingest.column_names``); ``header_notes`` say what
    was renamed.
    """

    @property
    def name(self) -> str: ...
    @property
    def fmt(self) -> str: ...
    @property
    def columns(self) -> list[str]: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def size_bytes(self) -> int | None: ...
    @property
    def encoding(self) -> str | None: ...
    @property
    def delimiter(self) -> str | None: ...
    @property
    def header_notes(self) -> list[str]: ...

    def batches(self) -> Iterator[SourceBatch]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class SourceBase:
    """Shared attributes and context-manager plumbing of the concrete readers."""

    name: str
    fmt: str
    columns: list[str]
    size_bytes: int | None
    encoding: str | None = None
    delimiter: str | None = None
    #: what was done to the headers (``ingest.column_names``), for the mapping preview
    header_notes: list[str]

    def batches(self) -> Iterator[SourceBatch]:
        raise NotImplementedError

    def close(self) -> None:
        """Release file handles or connections; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def file_sha256(*, path: Path) -> str:
    """``sha256:<hex>`` of a file's raw bytes, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def as_string_batch(*, batch: pa.RecordBatch, names: Sequence[str]) -> pa.RecordBatch:
    """Rename columns to ``names`` (types must already be string-like)."""
    return pa.RecordBatch.from_arrays(list(batch.columns), names=list(names))


def rebatch(*, batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Yield batches of exactly ``rows`` rows (the last may be shorter); empty input yields none."""
    if rows < 1:
        raise ValueError("batch_rows must be >= 1")
    pending: list[pa.RecordBatch] = []
    count = 0
    for b in batches:
        if b.num_rows == 0:
            continue
        pending.append(b)
        count += b.num_rows
        while count >= rows:
            merged = pending[0] if len(pending) == 1 else pa.concat_batches(pending)
            yield merged.slice(0, rows)
            rest = merged.slice(rows)
            pending = [rest] if rest.num_rows else []
            count = rest.num_rows
    if count:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


def number_batches(
    *, batches: Iterable[tuple[pa.RecordBatch, int | None]], first_row: int = 1
) -> Iterator[SourceBatch]:
    """Attach 1-based first-row numbers to (batch, bytes_read) pairs."""
    row = first_row
    for b, consumed in batches:
        yield SourceBatch(data=b, first_row=row, bytes_read=consumed)
        row += b.num_rows
