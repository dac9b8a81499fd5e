"""Open customer envelopes in bulk: one batch call, then columns decoded at once.

Every customer has its own key, so AES-GCM is one operation per envelope; the batch kernel
(:func:`dealvault.native.open_rows`) does them all in one call. An envelope that fails there
(tampered, moved, cut, another header) is opened again on the careful path
(:func:`dealvault.crypto.envelope.open_with`), which names what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dealvault import native, native_pack
from dealvault.crypto import envelope as env
from dealvault.errors import IntegrityError

#: Header length of envelopes under a customer key (magic, format, algorithm, key id ``ck``,
#: key version), and where their ciphertext starts (after the nonce).
_CK_HEAD = len(env.Header(env.ALG_AES_256_GCM, "ck", 1).encode())
_CK_BODY = _CK_HEAD + env.NONCE_LEN


@dataclass(frozen=True, slots=True)
class RecordLayout:
    """What is needed to open a dataset's customer envelopes (plain values: it is pickled)."""

    dataset_id: int
    schema_version: int
    categories: tuple[str, ...]
    #: expected fields per category (same order); ``None``: infer them from the payloads
    fields: tuple[tuple[str, ...], ...] | None = None


@dataclass(slots=True)
class OpenedRows:
    """Decrypted customers: ids, subject ids and one JSON payload list per category."""

    ids: list[int]
    subjects: list[str]
    payloads: list[list[bytes | None]]
    #: rows given without a key (shredded meanwhile): left out
    skipped: int = 0


def _contexts(layout: RecordLayout) -> tuple[bytes, tuple[bytes, ...]]:
    """The parts of each envelope's associated data: ``prefix || record_id || suffixes[j]``."""
    prefix = b"rec|%d|" % layout.dataset_id
    suffixes = tuple(b"|%s|%d" % (c.encode(), layout.schema_version) for c in layout.categories)
    return prefix, suffixes


def _opened(
    result: native.OpenResult,
    rows: Callable[[], tuple[Sequence[Sequence[Any]], Sequence[bytes | None]]],
    prefix: bytes,
    suffixes: tuple[bytes, ...],
) -> OpenedRows:
    """A batch kernel's result, each envelope it could not open opened again on the careful
    path, which names the fault; ``rows`` gives the rows and keys (asked only then)."""
    ids, subjects, payloads, skipped, failures = result
    if failures:
        row_list, keys = rows()
        for r, j, i in failures:
            key = keys[i]
            assert key is not None  # a row without a key is skipped, never opened
            ctx = prefix + b"%d" % row_list[i][0] + suffixes[j]
            payloads[j][r] = env.open_with(AESGCM(key), row_list[i][2 + j], ctx)
    return OpenedRows(ids=ids, subjects=subjects, payloads=payloads, skipped=skipped)


def open_rows(
    layout: RecordLayout, rows: Sequence[Sequence[Any]], keys: Sequence[bytes | None]
) -> OpenedRows:
    """Open rows ``(record_id, subject_id, *envelopes)`` (envelopes in ``layout.categories``
    order, trailing columns ignored) with the customer keys aligned to ``rows``.

    One call of the batch kernel (:func:`dealvault.native.open_rows`) opens them all; an
    envelope it could not open is opened again on the careful path, which names the fault."""
    prefix, suffixes = _contexts(layout)
    row_list = rows if isinstance(rows, list) else list(rows)
    result = native.open_rows(row_list, list(keys), prefix, suffixes)
    return _opened(result, lambda: (row_list, keys), prefix, suffixes)


def open_pack(layout: RecordLayout, pack: bytes, keys: bytes) -> OpenedRows:
    """:func:`open_rows` of a pack of rows and its packed keys (:mod:`dealvault.native_pack`):
    the envelopes are opened where they lie in the pack; the rows are unpacked only when one
    fails, for the careful path."""
    prefix, suffixes = _contexts(layout)
    result = native_pack.open_pack(pack, keys, prefix, suffixes)
    return _opened(result, lambda: native_pack.unpack_rows(pack, keys), prefix, suffixes)


def open_children(
    dataset_id: int, rows: Sequence[Sequence[Any]], keys: dict[int, bytes]
) -> tuple[list[int], list[str], list[bytes]]:
    """Open child rows ``(child_id, record_id, subject_id, _, category, envelope)`` with
    their customers' keys: (record ids, subject ids, payloads) of the rows that could be
    opened (a customer shredded meanwhile has no key: left out). One AEAD object per
    customer; the careful path names what is wrong with an envelope that fails."""
    ids: list[int] = []
    subjects: list[str] = []
    payloads: list[bytes] = []
    head_len, body_at = _CK_HEAD, _CK_BODY
    last_record, decrypt, aead = -1, None, None
    for child_id, record_id, subject, _version, category, blob in rows:
        if blob is None:
            continue
        if record_id != last_record:
            key = keys.get(record_id)
            aead = None if key is None else AESGCM(key)
            decrypt = None if aead is None else aead.decrypt
            last_record = record_id
        if aead is None or decrypt is None:
            continue
        ctx = b"child|%d|%d|%d|%s" % (dataset_id, child_id, record_id, category.encode())
        try:
            payload = decrypt(blob[head_len:body_at], blob[body_at:], blob[:head_len] + ctx)
        except (InvalidTag, ValueError):  # another header, cut or tampered: the careful path
            payload = env.open_with(aead, blob, ctx)
        ids.append(record_id)
        subjects.append(subject)
        payloads.append(payload)
    return ids, subjects, payloads


def decode_payloads(
    payloads: Sequence[bytes | None], fields: Sequence[str] | None = None
) -> pl.DataFrame:
    """JSON payloads (one object of text values per row) to columns, vectorised.

    With ``fields`` the batch kernel (:func:`dealvault.native.decode_objects`) decodes them
    when it is built and every payload is an object of text or null values under those keys;
    otherwise Polars does, without schema inference (about three times faster). A key
    outside ``fields`` is an IntegrityError, never a silently dropped value: encoding the
    decoded rows again gives a shorter text where keys were dropped, and only then is the
    batch decoded again with inference to name the column (an encoder that writes JSON
    differently costs that second pass, not a false error).
    """
    if fields is not None and native.NATIVE:
        if all(p is None for p in payloads):
            return pl.DataFrame()
        columns = native.decode_objects(list(payloads), tuple(fields))
        if columns is not None:  # else something unusual: the general decoder below
            return _frame(len(payloads), fields, columns)
    series = pl.Series("p", payloads, dtype=pl.Binary).cast(pl.String)
    if series.is_null().all():
        return pl.DataFrame()
    if fields is None:
        return series.str.json_decode(infer_schema_length=None).struct.unnest()
    decoded = series.str.json_decode(dtype=pl.Struct({f: pl.String for f in fields}))
    maybe_dropped = (
        pl.DataFrame({"given": series, "kept": decoded})
        .select(
            (
                pl.col("given").str.len_bytes()
                > pl.col("kept").struct.json_encode().str.len_bytes()
            ).any()
        )
        .item()
    )
    if maybe_dropped:
        inferred = series.str.json_decode(infer_schema_length=None).struct.fields
        unknown = sorted(set(inferred) - set(fields))
        if unknown:
            raise IntegrityError(
                f"stored values hold a column the dataset does not list ({unknown[0]!r})"
            )
    return decoded.struct.unnest()


def _frame(n: int, fields: Sequence[str], columns: native.DecodedColumns) -> pl.DataFrame:
    """The kernel's Arrow buffers as a frame of text columns."""
    arrays = [
        pa.Array.from_buffers(
            pa.large_string(),
            n,
            [pa.py_buffer(valid), pa.py_buffer(offsets), pa.py_buffer(data)],
            null_count=nulls,
        )
        for offsets, data, valid, nulls in columns
    ]
    frame = pl.from_arrow(pa.Table.from_arrays(arrays, names=list(fields)))
    assert isinstance(frame, pl.DataFrame)
    return frame


def open_frame(
    layout: RecordLayout, rows: Sequence[Sequence[Any]], keys: Sequence[bytes | None]
) -> tuple[pl.DataFrame, int]:
    """:func:`open_rows` then decode: a frame ``record_id, subject_id, fields…`` (text) and
    the number of rows left out for want of a key."""
    return frame_of(layout, open_rows(layout, rows, keys))


def frame_of(layout: RecordLayout, opened: OpenedRows) -> tuple[pl.DataFrame, int]:
    """Opened rows decoded: a frame ``record_id, subject_id, fields…`` (text) and the number
    of rows left out for want of a key."""
    parts = [
        pl.DataFrame(
            {
                "record_id": pl.Series(opened.ids, dtype=pl.Int64),
                "subject_id": pl.Series(opened.subjects, dtype=pl.String),
            }
        )
    ]
    for i, payloads in enumerate(opened.payloads):
        fields = None if layout.fields is None else layout.fields[i]
        try:
            parts.append(decode_payloads(payloads, fields))
        except IntegrityError as exc:
            raise IntegrityError(f"{layout.categories[i]}: {exc}") from None
    return pl.concat(parts, how="horizontal"), opened.skipped
