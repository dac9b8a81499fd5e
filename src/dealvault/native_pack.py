"""The Python twins of the packed-read kernels (``_kernels/pack_rows.c``): a batch of
customer rows as one blob built inside SQLite, and the rows back in a worker process.

Apart from :mod:`dealvault.native` only for the length of that module; the same rule holds:
both paths give the same bytes (the tests compare them), ``DEALVAULT_NATIVE=0`` selects
Python. The SQLite aggregate ``dv_pack_rows`` is registered by
:func:`dealvault.native.sqlite_register`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from dealvault.native import _C, OpenResult, open_rows_py

#: magic, columns, rows, bytes of the row section, offset and length of the last subject_id
PACK_HEAD = struct.Struct("<4sIQQQQ")
_TAGS = {type(None): 0, int: 1, str: 2, bytes: 3}


def pack_rows_py(rows: Sequence[Sequence[Any]]) -> bytes | None:
    """What the SQLite aggregate ``dv_pack_rows(id, subject_id, ...)`` returns over ``rows``
    (the format is in ``_kernels/pack_rows.c``): None unless ids are integers and subject
    ids texts in strictly increasing order, and every value an integer, text, blob or NULL."""
    body, ids, last, at = bytearray(), bytearray(), b"", 0
    for i, row in enumerate(rows):
        if len(row) != len(rows[0]) or len(row) < 2 or (type(row[0]), type(row[1])) != (int, str):
            return None
        try:
            for k, v in enumerate(row):
                tag = _TAGS[type(v)]
                body.append(tag)
                if tag == 1:
                    body += v.to_bytes(8, "little", signed=True)
                elif tag > 1:
                    raw = v.encode() if tag == 2 else v
                    body += len(raw).to_bytes(4, "little") + raw
                    if k == 1:
                        if i and raw <= last:
                            return None
                        last, at = raw, len(body) - len(raw)
            ids += row[0].to_bytes(8, "little", signed=True)
        except (KeyError, OverflowError, UnicodeEncodeError):
            return None
    cols = len(rows[0]) if rows else 0
    spot = (PACK_HEAD.size + at, len(last)) if rows else (0, 0)
    return PACK_HEAD.pack(b"DVP1", cols, len(rows), len(body), *spot) + body + ids


def pack_summary(pack: bytes) -> tuple[int, int, str]:
    """Rows of a pack, where its record ids (int64, little-endian) start, and the last row's
    subject id. ValueError when the header does not fit the pack."""
    if len(pack) < PACK_HEAD.size:
        raise ValueError("not a well-formed pack")
    magic, _cols, n, body, at, size = PACK_HEAD.unpack_from(pack)
    ids = PACK_HEAD.size + body
    if magic != b"DVP1" or ids + 8 * n != len(pack) or at + size > ids:
        raise ValueError("not a well-formed pack")
    return n, ids, pack[at : at + size].decode()


Unpacked = tuple[list[tuple[Any, ...]], list[bytes | None]]


def _value(pack: bytes, pos: int, end: int) -> tuple[Any, int]:
    """The value at ``pos`` and where the next starts; ValueError past ``end``."""
    tag = pack[pos] if pos < end else -1
    if tag == 0:
        return None, pos + 1
    if tag == 1 and pos + 9 <= end:
        return int.from_bytes(pack[pos + 1 : pos + 9], "little", signed=True), pos + 9
    if tag in (2, 3) and pos + 5 <= end:
        stop = pos + 5 + int.from_bytes(pack[pos + 1 : pos + 5], "little")
        if stop <= end:
            raw = pack[pos + 5 : stop]
            return (raw.decode() if tag == 2 else raw), stop
    raise ValueError("unpack_rows: not a well-formed pack")


def unpack_rows_py(pack: bytes, keys: bytes) -> Unpacked:
    """The rows of a pack and the keys of a packed key list (see ``_native.unpack_rows``)."""
    n, end, _ = pack_summary(pack)
    cols = PACK_HEAD.unpack_from(pack)[1]
    if len(keys) != 33 * n or (n and cols < 2):
        raise ValueError("unpack_rows: not a well-formed pack")
    rows: list[tuple[Any, ...]] = []
    pos = PACK_HEAD.size
    for _ in range(n):
        row: list[Any] = []
        for _ in range(cols):
            value, pos = _value(pack, pos, end)
            row.append(value)
        rows.append(tuple(row))
    if pos != end:
        raise ValueError("unpack_rows: not a well-formed pack")
    flags = keys[32 * n :]
    return rows, [keys[32 * i : 32 * i + 32] if flags[i] else None for i in range(n)]


def unpack_rows(pack: bytes, keys: bytes) -> Unpacked:
    """Rows ``(record_id, subject_id, *values)`` of a pack made by ``dv_pack_rows`` (as
    Python's sqlite3 would give them), and the keys of ``keys``: 32 bytes per row, then one
    byte per row, 0 where the row has no key (None)."""
    if _C is not None:
        out: Unpacked = _C.unpack_rows(pack, keys)
        return out
    return unpack_rows_py(pack, keys)


def open_pack_py(
    pack: bytes, keys: bytes, prefix: bytes, suffixes: tuple[bytes, ...]
) -> OpenResult:
    """``native.open_rows_py`` over the rows of a pack (see ``_native.open_pack``)."""
    rows, key_list = unpack_rows_py(pack, keys)
    if rows and len(rows[0]) < 2 + len(suffixes):
        raise ValueError("open_pack: rows are too short")
    return open_rows_py(list(rows), key_list, prefix, suffixes)


def open_pack(pack: bytes, keys: bytes, prefix: bytes, suffixes: tuple[bytes, ...]) -> OpenResult:
    """``native.open_rows`` over the rows of a pack and its packed keys (failures name the
    row of the pack), without a Python object per envelope in C."""
    if _C is not None:
        out: OpenResult = _C.open_pack(pack, keys, prefix, suffixes)
        return out
    return open_pack_py(pack, keys, prefix, suffixes)
