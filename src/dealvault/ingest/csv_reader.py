"""Streaming CSV reader: detected encoding and delimiter, every column a string, bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from dealvault.errors import InputError
from dealvault.ingest.column_names import clean_headers
from dealvault.ingest.csv_detect import (
    DELIMITERS,
    SAMPLE_BYTES,
    Encoding,
    detect_delimiter,
    detect_encoding,
    locate_problem,
    read_header,
    resolve_encoding,
    safe_cut,
)
from dealvault.ingest.source import (
    SourceBase,
    SourceBatch,
    as_string_batch,
    file_sha256,
    number_batches,
    rebatch,
)
from dealvault.ingest.transcode import DecodeFailure, TranscodingReader

BLOCK_SIZE = 1 << 22


class CsvSource(SourceBase):
    """A CSV file read by pyarrow's streaming reader; non-UTF-8 input is transcoded on the fly."""

    fmt = "csv"

    def __init__(
        self,
        *,
        path: Path,
        encoding: str | None = None,
        delimiter: str | None = None,
        batch_rows: int = 50_000,
        use_threads: bool = True,
    ) -> None:
        self.path = path
        self.name = path.name
        self.batch_rows = batch_rows
        self.use_threads = use_threads
        self.size_bytes = path.stat().st_size
        with path.open("rb") as f:
            sample = f.read(SAMPLE_BYTES)
        complete = len(sample) >= self.size_bytes
        enc = (
            resolve_encoding(name=encoding, file=self.name)
            if encoding
            else detect_encoding(sample=sample, complete=complete, file=self.name)
        )
        if encoding and enc.codec == "utf-8" and sample.startswith(b"\xef\xbb\xbf"):
            enc = Encoding(label="utf-8-sig", codec="utf-8", bom=3)
        body = sample[enc.bom :]
        if not body.strip():
            raise InputError("file is empty", file=self.name)
        if b"\x00" in body:
            raise InputError("file contains NUL bytes; it is not CSV text", file=self.name)
        head = body if complete else body[: safe_cut(body)]
        text = head.decode(enc.codec, errors="replace")
        if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
            raise InputError("delimiter must be one character other than quote or newline")
        self._delim = delimiter or detect_delimiter(text=text)
        self.delimiter = self._delim
        self._enc = enc
        self.encoding = enc.label
        raw_headers = read_header(
            text=text, delimiter=self._delim, complete=complete, file=self.name
        )
        self._raw_headers = [
            h.replace("\ufeff", "") if i == 0 else h for i, h in enumerate(raw_headers)
        ]
        self.columns, self.header_notes = clean_headers(headers=raw_headers)
        self._transcoder: TranscodingReader | None = None
        self._handles: list[Any] = []

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the raw file, computed on first use (one extra sequential read)."""
        return file_sha256(path=self.path)

    def close(self) -> None:
        for h in self._handles:
            h.close()
        self._handles.clear()

    def _open_reader(self) -> tuple[pacsv.CSVStreamingReader, Any]:
        enc = self._enc
        stream: Any
        if enc.codec == "utf-8":
            native = pa.OSFile(str(self.path))
            native.seek(enc.bom)
            self._handles.append(native)
            stream, col_type, tell = native, pa.string(), native.tell
        else:
            raw = self.path.open("rb")
            self._handles.append(raw)
            raw.seek(enc.bom)
            self._transcoder = tr = TranscodingReader(raw, codec=enc.codec, start=enc.bom)
            stream, col_type = tr, pa.binary()

            def tell() -> int:
                return tr.consumed

        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(use_threads=self.use_threads, block_size=BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(
                delimiter=self._delim, newlines_in_values=True, ignore_empty_lines=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(self._raw_headers, col_type),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        if reader.schema.names != self._raw_headers:
            raise InputError("header could not be parsed consistently", file=self.name)
        return reader, tell

    def _raw_batches(self) -> Iterator[tuple[pa.RecordBatch, int | None]]:
        try:
            reader, tell = self._open_reader()
        except (pa.ArrowInvalid, DecodeFailure) as e:
            raise self._locate(e) from None
        binary = self._enc.codec != "utf-8"
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, DecodeFailure) as e:
                raise self._locate(e) from None
            except OSError as e:  # a Python exception from the transcoder, wrapped by Arrow
                if self._transcoder is not None and self._transcoder.failure is not None:
                    raise self._locate(e) from None
                raise
            if binary:
                batch = _binary_to_string(batch)
            yield as_string_batch(batch=batch, names=self.columns), tell()
        if self._transcoder is not None and self._transcoder.upgraded:
            self.encoding = "gb18030"

    def _locate(self, err: BaseException) -> InputError:
        """Turn a fast-path failure into an error naming row and line (never the value)."""
        problem = locate_problem(
            path=self.path, encoding=self._enc, delimiter=self._delim, width=len(self.columns)
        )
        if problem is not None:
            if problem.row == 0:
                return InputError(f"{problem.reason} in the header", file=self.name)
            return InputError(
                f"{problem.reason} (line {problem.line})", file=self.name, row=problem.row
            )
        failure = self._transcoder.failure if self._transcoder is not None else None
        if failure is not None or isinstance(err, DecodeFailure):
            line = failure.line if failure is not None else None
            return InputError(
                f"bytes that are not valid {self._enc.label} text (line {line})", file=self.name
            )
        return InputError(
            "malformed CSV: could not be parsed (a quoted value may be unterminated"
            f" or longer than {BLOCK_SIZE >> 20} MiB)",
            file=self.name,
        )

    def batches(self) -> Iterator[SourceBatch]:
        """Stream batches of ``batch_rows`` rows."""
        pending_bytes: list[int | None] = [None]

        def plain() -> Iterator[pa.RecordBatch]:
            for b, consumed in self._raw_batches():
                pending_bytes[0] = consumed
                yield b

        def with_bytes() -> Iterator[tuple[pa.RecordBatch, int | None]]:
            for b in rebatch(batches=plain(), rows=self.batch_rows):
                yield b, pending_bytes[0]

        try:
            yield from number_batches(batches=with_bytes())
        finally:
            self.close()


def _binary_to_string(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Reinterpret binary columns (already valid UTF-8, from the transcoder) as strings."""
    cols = [
        pa.Array.from_buffers(
            pa.string(), len(c), c.buffers(), null_count=c.null_count, offset=c.offset
        )
        for c in batch.columns
    ]
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


__all__ = ["DELIMITERS", "CsvSource"]
