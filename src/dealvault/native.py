"""The batch kernels of the hot paths: the C extension when it is built, else Python.

``dealvault._native`` (``src/dealvault/_native.c``, against OpenSSL's libcrypto and zlib)
does per batch what the Python functions below do per item; both give the same bytes (the
tests compare them). ``DEALVAULT_NATIVE=0`` in the environment makes the process use the
Python path, e.g. to measure the two against each other. :data:`NATIVE` says which is used.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from hashlib import blake2b, sha256
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


def leaf_hashes_py(items: list[bytes], prefix: bytes = b"\x00") -> list[bytes]:
    return [sha256(prefix + b).digest() for b in items]


def leaf_hashes(items: list[bytes], prefix: bytes = b"\x00") -> list[bytes]:
    """SHA-256(prefix || item) of each item: RFC 9162 leaf hashes with the default prefix."""
    if _C is not None:
        out: list[bytes] = _C.leaf_hashes(items, prefix)
        return out
    return leaf_hashes_py(items, prefix)


def merkle_root_py(leaves: Sequence[bytes]) -> bytes:
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


def merkle_root(leaves: list[bytes]) -> bytes:
    """The RFC 9162 tree hash of a non-empty list of leaf hashes."""
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
