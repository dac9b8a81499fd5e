"""SQL reader: a query streamed through SQLAlchemy in batches; never shows the URL's password."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine

from dealvault.errors import InputError
from dealvault.ingest.column_names import clean_headers
from dealvault.ingest.source import SourceBase, SourceBatch, number_batches

NAME = "sql query"


def safe_url(*, url: str) -> sa.URL:
    """Parse a SQLAlchemy URL; the error never repeats the URL (it may hold a password)."""
    try:
        return sa.make_url(url)
    except Exception:
        raise InputError("invalid database URL", file=NAME) from None


def _text(v: Any, column: str, row: int) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v or None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float | Decimal | UUID):
        return str(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    kind = type(v).__name__
    raise InputError(f"unsupported column type {kind}", file=NAME, row=row, column=column)


class SqlSource(SourceBase):
    """Rows of ``query`` run against ``url`` with server-side streaming where supported."""

    fmt = "sql"
    size_bytes: int | None = None

    def __init__(self, *, url: str, query: str, batch_rows: int = 50_000) -> None:
        self.name = NAME
        self.batch_rows = batch_rows
        u = safe_url(url=url)
        bare = u.set(password=None).render_as_string(hide_password=False)
        self.content_hash = "sha256:" + hashlib.sha256(f"{bare}\n{query}".encode()).hexdigest()
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        try:
            self._engine = sa.create_engine(u)
            self._conn = self._engine.connect()
            self._result: CursorResult[Any] = self._conn.execution_options(
                stream_results=True, yield_per=batch_rows
            ).exec_driver_sql(query)
            keys = list(self._result.keys())
        except InputError:
            raise
        except Exception as e:
            self.close()
            raise InputError(self._failure(e), file=NAME) from None
        if not keys:
            self.close()
            raise InputError("query returns no columns", file=NAME)
        self.columns, self.header_notes = clean_headers(headers=[str(k) for k in keys])

    @staticmethod
    def _failure(e: Exception) -> str:
        orig = getattr(e, "orig", None)
        kind = type(orig).__name__ if orig is not None else type(e).__name__
        return f"query could not be run ({kind})"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _to_batch(self, rows: Sequence[Sequence[Any]], first_row: int) -> pa.RecordBatch:
        arrays = []
        for j, col in enumerate(self.columns):
            arrays.append(
                pa.array([_text(r[j], col, first_row + i) for i, r in enumerate(rows)], pa.string())
            )
        return pa.RecordBatch.from_arrays(arrays, names=self.columns)

    def batches(self) -> Iterator[SourceBatch]:
        """Batches of ``batch_rows`` rows."""

        def gen() -> Iterator[tuple[pa.RecordBatch, int | None]]:
            first = 1
            while True:
                try:
                    rows = self._result.fetchmany(self.batch_rows)
                except Exception as e:
                    raise InputError(self._failure(e), file=NAME, row=first) from None
                if not rows:
                    return
                yield self._to_batch(rows, first), None
                first += len(rows)

        try:
            yield from number_batches(batches=gen())
        finally:
            self.close()
