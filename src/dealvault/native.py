"""The batch kernels of the hot paths: the C extension when it is built, else Python.

``dealvault._native`` (C in ``src/dealvault/_kernels/``, against OpenSSL's libcrypto and zlib)
does per batch what the Python functions below do per item; both give the same bytes (the
tests compare them). ``DEALVAULT_NATIVE=0`` in the environment makes the process use the
Python path, e.g. to measure the two against each other. :data:`NATIVE` says which is used.
The twins of the packed-read kernels are in :mod:`dealvault.native_pack`.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Sequence
from hashlib import blake2b, sha256
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:  # imported where used: the CLI's warm server preloads no threaded library
    import polars as pl

OpenResult = tuple[list[int], list[str], list[list[bytes | None]], int, list[tuple[int, int, int]]]


def _load() -> Any:
    if os.environ.get("DEALVAULT_NATIVE", "1") == "0":
        return None
    try:
        from dealvault import _native  # type: ignore[attr-defined]
    except ImportError:  # built without a compiler or libcrypto: the Python path
        return None
    return _native


_C: Any = _load()
#: True when the C kernels are in use
NATIVE: bool = _C is not None


def seal_rows_py(
    keys: bytes,
    head: bytes,
    prefix: bytes,
    start: int,
    posts: tuple[bytes, ...],
    columns: list[list[bytes | None]],
    nonces: bytes,
) -> list[list[bytes | None]]:
    """Envelope column j of customer i under key i (see ``_native.seal_rows``)."""
    n, ncat, nl = len(keys) // 32, len(posts), 12
    outs: list[list[bytes | None]] = [[None] * n for _ in range(ncat)]
    for i in range(n):
        encrypt = AESGCM(keys[32 * i : 32 * i + 32]).encrypt
        aad = head + prefix + b"%d" % (start + i)
        for j in range(ncat):
            pt = columns[j][i]
            if pt is not None:
                at = nl * (ncat * i + j)
                nonce = nonces[at : at + nl]
                outs[j][i] = head + nonce + encrypt(nonce, pt, aad + posts[j])
    return outs


def seal_rows(
    keys: bytes,
    head: bytes,
    prefix: bytes,
    start: int,
    posts: tuple[bytes, ...],
    columns: list[list[bytes | None]],
    nonces: bytes,
) -> list[list[bytes | None]]:
    if _C is not None:
        out: list[list[bytes | None]] = _C.seal_rows(
            keys, head, prefix, start, posts, columns, nonces
        )
        return out
    return seal_rows_py(keys, head, prefix, start, posts, columns, nonces)


def _head_len(blob: bytes) -> int:
    """Header length of a well-formed version-1 AES-GCM envelope, else -1."""
    if len(blob) < 5 or blob[:4] != b"DV\x01\x01":
        return -1
    head = 5 + blob[4] + 4
    return head if len(blob) >= head + 12 + 16 else -1


def open_rows_py(
    rows: list[Sequence[Any]], keys: list[bytes | None], prefix: bytes, suffixes: tuple[bytes, ...]
) -> OpenResult:
    """Open rows ``(record_id, subject_id, *envelopes, …)`` (see ``_native.open_rows``)."""
    ids: list[int] = []
    subjects: list[str] = []
    payloads: list[list[bytes | None]] = [[] for _ in suffixes]
    failures: list[tuple[int, int, int]] = []
    skipped = 0
    for i, (row, key) in enumerate(zip(rows, keys, strict=True)):
        if key is None:
            skipped += 1
            continue
        decrypt = AESGCM(key).decrypt
        r = len(ids)
        ids.append(row[0])
        subjects.append(row[1])
        ctx = prefix + b"%d" % row[0]
        for j, suffix in enumerate(suffixes):
            blob = row[2 + j]
            if blob is None:
                payloads[j].append(None)
                continue
            head = _head_len(blob)
            try:
                if head < 0:
                    raise ValueError("malformed")
                body = head + 12
                payloads[j].append(
                    decrypt(blob[head:body], blob[body:], blob[:head] + ctx + suffix)
                )
            except (InvalidTag, ValueError):
                payloads[j].append(None)
                failures.append((r, j, i))
    return ids, subjects, payloads, skipped, failures


def open_rows(
    rows: list[Sequence[Any]], keys: list[bytes | None], prefix: bytes, suffixes: tuple[bytes, ...]
) -> OpenResult:
    if _C is not None:
        out: OpenResult = _C.open_rows(rows, keys, prefix, suffixes)
        return out
    return open_rows_py(rows, keys, prefix, suffixes)


def blind_many_py(key: bytes, person: bytes, values: list[str | None]) -> list[bytes | None]:
    return [
        None if v is None else blake2b(v.encode(), key=key, person=person, digest_size=16).digest()
        for v in values
    ]


def blind_many(key: bytes, person: bytes, values: list[str | None]) -> list[bytes | None]:
    """Keyed BLAKE2b-128 (personalised) of each value's UTF-8 bytes; None stays None."""
    if _C is not None:
        out: list[bytes | None] = _C.blind_many(key, person, values)
        return out
    return blind_many_py(key, person, values)


def blind_series(key: bytes, person: bytes, values: pl.Series) -> pl.Series:
    """:func:`blind_many` of a Polars string column, as a binary column (nulls kept). The C
    kernel reads the column's Arrow buffers; no Python object is made per value."""
    import polars as pl
    import pyarrow as pa

    if _C is None or values.len() == 0:
        return pl.Series(values.name, blind_many_py(key, person, values.to_list()), pl.Binary)
    arr = values.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _validity, offsets, data = arr.buffers()
    wide = pa.types.is_large_string(arr.type)
    digests = _C.blind_column(
        key, person, offsets, data if data is not None else b"", len(arr), arr.offset, wide
    )
    fixed = pa.Array.from_buffers(pa.binary(16), len(arr), [None, pa.py_buffer(digests)])
    series = pl.from_arrow(fixed)
    assert isinstance(series, pl.Series)
    series = series.cast(pl.Binary).alias(values.name)
    if values.null_count():  # the kernel hashed the (empty) null slots: mask them
        series = series.set(values.is_null(), None)
    return series


def leaf_hashes_py(items: list[bytes], prefix: bytes = b"\x00") -> list[bytes]:
    return [sha256(prefix + b).digest() for b in items]


def leaf_hashes(items: list[bytes], prefix: bytes = b"\x00") -> list[bytes]:
    """SHA-256(prefix || item) of each item: RFC 9162 leaf hashes with the default prefix."""
    if _C is not None:
        out: list[bytes] = _C.leaf_hashes(items, prefix)
        return out
    return leaf_hashes_py(items, prefix)


def merkle_root_py(leaves: Sequence[bytes] | bytes) -> bytes:
    if isinstance(leaves, bytes):
        if len(leaves) % 32:
            raise ValueError("merkle_root: leaves must be 32 bytes each")
        leaves = [leaves[i : i + 32] for i in range(0, len(leaves), 32)]
    level = list(leaves)
    if not level:
        raise ValueError("merkle_root: no leaves")
    while len(level) > 1:
        nxt = [
            sha256(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_root(leaves: list[bytes] | bytes) -> bytes:
    """The RFC 9162 tree hash of a non-empty list of leaf hashes (or of bytes holding them
    one after another)."""
    if _C is not None:
        out: bytes = _C.merkle_root(leaves)
        return out
    return merkle_root_py(leaves)


def _subject_digest(p: bytes) -> bytes:
    return sha256(zlib.decompress(p) if p[:1] == b"x" else p).hexdigest().encode()


def subject_digests_py(packs: list[bytes | None]) -> list[bytes | None]:
    return [p and _subject_digest(p) for p in packs]


def subject_digests(packs: list[bytes | None]) -> list[bytes | None]:
    """Hex SHA-256 of each stored subject list (inflated when compressed); None stays None.
    Raises ``zlib.error`` when one does not inflate."""
    if _C is not None:
        try:
            out: list[bytes | None] = _C.subject_digests(packs)
        except ValueError as exc:
            raise zlib.error(str(exc)) from None
        return out
    return subject_digests_py(packs)


# ---- audit verification ------------------------------------------------------------------

TAIL = re.compile(
    rb'"seq":(0|[1-9][0-9]*),(?:"session":"[^"\\]{0,80}",)?'
    rb'"subjects":(?:null|\{"count":[0-9]+,"digest":"sha256:([0-9a-f]{64})"\}),'
    rb'"v":[0-9]+\}'
)
"""The end of a canonical event body: JCS sorts keys, so ``seq``, ``session`` (the server session
or API token of the request, when there is one), ``subjects`` and ``v`` come last and hold
no free text."""
#: how far from its end a body's tail (:data:`TAIL`) starts at most
TAIL_BYTES = 320

Tail = tuple[int, bytes | None]
"""The ``seq`` an event body names and its subject digest (hex; None when it says null)."""


def body_tails_py(bodies: list[bytes]) -> list[Tail | None]:
    out: list[Tail | None] = []
    for b in bodies:
        m = TAIL.search(b, len(b) - TAIL_BYTES)
        out.append(None if m is None else (int(m[1]), m[2]))
    return out


def body_tails(bodies: list[bytes]) -> list[Tail | None]:
    """What :data:`TAIL` finds at the end of each body (searching from ``TAIL_BYTES`` before
    it), or None where it finds nothing."""
    if _C is not None:
        out: list[Tail | None] = _C.body_tails(bodies)
        return out
    return body_tails_py(bodies)


_ESCAPED = re.compile(rb'[\x00-\x1f"\\]')
#: longest column value (UTF-8 bytes) the fast column check takes
_PLAIN_MAX = 400


def _plain(value: object) -> bytes | None:
    """JSON of a column value that needs no escape (or null), as json.dumps writes it."""
    if value is None:
        return b"null"
    if type(value) is not str:
        return None
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if len(raw) > _PLAIN_MAX or _ESCAPED.search(raw):
        return None
    return b'"' + raw + b'"'


def _columns_agree(row: Sequence[Any]) -> bool:
    """columns.py's fast check of SQLite's (at, actor, action, deal, decision) against the
    body, for values without escapes (anything else goes to the exact check)."""
    body, at = row[1], row[3]
    action, actor, deal, decision = _plain(row[5]), _plain(row[4]), _plain(row[6]), _plain(row[7])
    if action is None or actor is None or deal is None or decision is None or type(at) is not str:
        return False
    a = at.encode("utf-8", "surrogatepass")
    if len(a) != 32 or not a.isascii() or a[10:11] != b" " or a[26:] != b"+00:00":
        return False
    head = b'{"action":' + action + b',"actor":' + actor + b',"at":"'
    head += a[:10] + b"T" + a[11:23] + b"Z"
    mid = b'},"deal":' + deal + b',"decision":' + decision + b',"objects":'
    return body.startswith(head) and mid in body


def _event_ok(want: int, row: Sequence[Any]) -> bool:
    seq, body, packed = row[0], row[1], row[2]
    if type(seq) is not int or seq != want or not isinstance(body, bytes):
        return False
    m = TAIL.search(body, len(body) - TAIL_BYTES)
    if m is None or int(m[1]) != want:
        return False
    if packed is None:
        if m[2] is not None:
            return False
    else:
        if not isinstance(packed, bytes) or not packed or m[2] is None:
            return False
        try:
            if _subject_digest(packed) != m[2]:
                return False
        except zlib.error:
            return False
    return _columns_agree(row)


def audit_chunk_py(start: int, rows: list[Sequence[Any]]) -> bytes | None:
    for i, row in enumerate(rows):
        if len(row) != 8:
            raise TypeError("audit_chunk: rows must be tuples of 8 columns")
        if not _event_ok(start + i, row):
            return None
    return b"".join(sha256(b"\x00" + row[1]).digest() for row in rows)


def audit_chunk(start: int, rows: list[Sequence[Any]]) -> bytes | None:
    """The leaf hashes (concatenated) of rows ``(seq, body, packed, at, actor, action, deal,
    decision)`` as SQLite stores them, when every row passes every per-event check of the
    verifier (seq ``start + i``; the body's tail names that seq; the subject list has the
    digest the body names; the searchable columns agree with the body); None when one does
    not, and the verifier checks the rows one by one. The SQLite aggregate
    ``dv_audit_leaves(start, seq, body, packed, at, actor, action, deal, decision)`` does the
    same inside SQLite (see :func:`sqlite_register`)."""
    if _C is not None:
        out: bytes | None = _C.audit_chunk(start, rows)
        return out
    return audit_chunk_py(start, rows)


def sqlite_register() -> bool:
    """Give the SQLite connections this process opens from now on the aggregates
    ``dv_audit_leaves`` and ``dv_pack_rows``. False on the Python path, or when the C
    module's SQLite is not the library Python's sqlite3 uses (then no connection gets them:
    verification and the package build read rows)."""
    if _C is None:
        return False
    import sqlite3

    version: str = _C.sqlite_register()
    _C.pack_register()
    return version == sqlite3.sqlite_version


# -- package build -------------------------------------------------------------------------
#: per field: int64 offsets, UTF-8 data, validity bitmap, null count (an Arrow large_string)
DecodedColumns = list[tuple[bytes, bytes, bytes, int]]


class _NotSimple(Exception):
    """A payload that is not a JSON object of text values under known keys."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out or not (v is None or isinstance(v, str)):
            raise _NotSimple
        out[k] = v
    return out


def decode_objects_py(
    payloads: list[bytes | None], fields: tuple[str, ...]
) -> DecodedColumns | None:
    """Per field, the column of its values in ``payloads`` (see ``_native.decode_objects``)."""
    n = len(payloads)
    data: list[list[bytes]] = [[] for _ in fields]
    offsets: list[list[int]] = [[0] for _ in fields]
    valid = [bytearray((n + 7) // 8) for _ in fields]
    sizes = [0] * len(fields)
    index = {f: j for j, f in enumerate(fields)}
    for r, payload in enumerate(payloads):
        if payload is not None:
            try:
                if payload.lstrip(b" \t\n\r")[:1] != b"{":
                    raise _NotSimple
                doc = json.loads(payload.decode("utf-8"), object_pairs_hook=_pairs)
                for key, value in doc.items():
                    j = index[key]  # KeyError: a key outside the fields
                    if value is not None:
                        raw = value.encode("utf-8")  # an unpaired surrogate fails here
                        data[j].append(raw)
                        sizes[j] += len(raw)
                        valid[j][r >> 3] |= 1 << (r & 7)
            except (_NotSimple, KeyError, ValueError):  # UnicodeError is a ValueError
                return None
        for j in range(len(fields)):
            offsets[j].append(sizes[j])
    return [
        (
            b"".join(o.to_bytes(8, "little", signed=True) for o in offsets[j]),
            b"".join(data[j]),
            bytes(valid[j]),
            n - sum(bin(b).count("1") for b in valid[j]),
        )
        for j in range(len(fields))
    ]


def decode_objects(payloads: list[bytes | None], fields: tuple[str, ...]) -> DecodedColumns | None:
    """JSON objects of text values (keys among ``fields``) to one Arrow large_string column
    per field, as buffers; None when a payload is anything else (the caller's general decoder
    then names the fault). The C kernel when built, else the (slow) Python twin."""
    if _C is not None:
        out: DecodedColumns | None = _C.decode_objects(payloads, fields)
        return out
    return decode_objects_py(payloads, fields)


#: a text column for :func:`record_hashes`: JSON member name with quotes and colon, then an
#: Arrow large_string array's validity (None: no nulls), offsets and data buffers, its offset
RecordColumn = tuple[bytes, Any, Any, Any, int]


def record_hashes_py(n: int, columns: list[RecordColumn]) -> list[bytes]:
    """Each record's RFC 9162 leaf hash over its RFC 8785 JSON (see ``_native``)."""
    out = []
    for i in range(n):
        members = []
        for key, valid, offsets, data, offset in columns:
            at = offset + i
            if valid is not None and not (memoryview(valid)[at >> 3] >> (at & 7)) & 1:
                members.append(key + b"null")
                continue
            lo, hi = (
                int.from_bytes(memoryview(offsets)[8 * k : 8 * k + 8], "little")
                for k in (at, at + 1)
            )
            text = bytes(memoryview(data)[lo:hi]).decode("utf-8")
            members.append(key + json.dumps(text, ensure_ascii=False).encode())
        out.append(sha256(b"\x00{" + b",".join(members) + b"}").digest())
    return out


def record_hashes(n: int, columns: list[RecordColumn]) -> list[bytes]:
    """SHA-256(0x00 || RFC 8785 JSON) of each of ``n`` records of text columns given in
    RFC 8785 key order (nulls written ``null``)."""
    if _C is not None:
        out: list[bytes] = _C.record_hashes(n, columns)
        return out
    return record_hashes_py(n, columns)
