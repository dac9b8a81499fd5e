"""JSON Lines reader: one object of scalars per line, streamed in chunks of lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from dealvault.errors import InputError
from dealvault.ingest.column_names import clean_headers
from dealvault.ingest.source import (
    SourceBase,
    SourceBatch,
    file_sha256,
    number_batches,
)

Record = dict[str, str | None]


_WS: Final = re.compile(r"[ \t\n\r]*")
_SCALARS: Final = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)


def _skip(text: str, i: int) -> int:
    """Index of the first non-whitespace character at or after ``i``."""
    m = _WS.match(text, i)
    return i if m is None else m.end()


def nested_field(raw: bytes) -> str | None:
    """The first top-level key of a JSON object line whose value is an object or an array,
    found without recursion (for lines nested too deeply for ``json.loads``); None when the
    line is not such an object. Only keys are read; no value is kept."""
    try:
        text = raw.decode("utf-8")
        i = _skip(text, 0)
        if not text.startswith("{", i):
            return None
        i += 1
        while True:
            i = _skip(text, i)
            if not text.startswith('"', i):
                return None
            key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
            i = _skip(text, i)
            if not text.startswith(":", i):
                return None
            i = _skip(text, i + 1)
            if text[i : i + 1] in ("{", "["):
                return str(key)
            _, i = _SCALARS.raw_decode(text, i)
            i = _skip(text, i)
            if not text.startswith(",", i):
                return None
            i += 1
    except ValueError:
        return None


def _short(key: str | None) -> str | None:
    """A key as messages name it (an absurdly long key is cut)."""
    return key if key is None or len(key) <= 80 else key[:80] + "…"


class JsonlSource(SourceBase):
    """A ``.jsonl`` file; columns are the keys seen in the first ``batch_rows`` records."""

    fmt = "jsonl"
    encoding: str | None = "utf-8"

    def __init__(self, *, path: Path, batch_rows: int = 50_000) -> None:
        self.path = path
        self.name = path.name
        self.batch_rows = batch_rows
        self.size_bytes = path.stat().st_size
        if self.size_bytes == 0:
            raise InputError("file is empty", file=self.name)
        self._f = path.open("rb")
        self._line = 0
        self._row = 0
        self._first = self._read(batch_rows)
        if not self._first:
            self.close()
            raise InputError("file is empty", file=self.name)
        keys: dict[str, None] = {}
        for rec in self._first:
            keys.update(dict.fromkeys(rec))
        self._keys = list(keys)
        self.columns, self.header_notes = clean_headers(headers=self._keys)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the raw file bytes."""
        return file_sha256(path=self.path)

    def close(self) -> None:
        self._f.close()

    def _value(self, v: Any, key: str) -> str | None:
        if v is None:
            return None
        if isinstance(v, str):
            return v or None
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict | list):
            raise InputError(
                f"nested value (object or array) (line {self._line})",
                file=self.name,
                row=self._row,
                column=key,
            )
        return str(v)

    def _read(self, n: int) -> list[Record]:
        out: list[Record] = []
        for raw in self._f:
            self._line += 1
            if not raw.strip():
                continue
            self._row += 1
            try:
                obj = json.loads(raw, parse_float=str, parse_int=str, parse_constant=str)
            except ValueError:
                raise InputError(
                    f"invalid JSON or not UTF-8 text (line {self._line})",
                    file=self.name,
                    row=self._row,
                ) from None
            except RecursionError:  # nesting deeper than the parser's stack
                raise InputError(
                    f"nested value (object or array) too deep to read (line {self._line})",
                    file=self.name,
                    row=self._row,
                    column=_short(nested_field(raw)),
                ) from None
            if not isinstance(obj, dict):
                raise InputError(
                    f"line is not a JSON object (line {self._line})", file=self.name, row=self._row
                )
            out.append({str(k): self._value(v, str(k)) for k, v in obj.items()})
            if len(out) >= n:
                break
        return out

    def _to_batch(self, recs: list[Record], first_row: int) -> pa.RecordBatch:
        known = set(self._keys)
        for i, rec in enumerate(recs):
            for k in rec:
                if k not in known:
                    raise InputError(
                        f"key not present in the first {self.batch_rows} records",
                        file=self.name,
                        row=first_row + i,
                        column=k,
                    )
        arrays = [pa.array([r.get(k) for r in recs], pa.string()) for k in self._keys]
        return pa.RecordBatch.from_arrays(arrays, names=self.columns)

    def batches(self) -> Iterator[SourceBatch]:
        """Batches of ``batch_rows`` records."""

        def gen() -> Iterator[tuple[pa.RecordBatch, int | None]]:
            recs, first = self._first, 1
            self._first = []
            while recs:
                batch = self._to_batch(recs, first)
                first += len(recs)
                yield batch, self._f.tell()
                recs = self._read(self.batch_rows)

        try:
            yield from number_batches(batches=gen())
        finally:
            self.close()
