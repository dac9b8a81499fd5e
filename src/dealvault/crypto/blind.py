"""Blind indexes: truncated HMAC-SHA-256 of normalised values under a per-dataset index key."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

BLIND_LEN = 16


def blind_index(key: bytes, field: str, value: str) -> bytes:
    return hmac.digest(key, field.encode() + b"\x00" + value.encode("utf-8"), "sha256")[:BLIND_LEN]


def blind_many(key: bytes, field: str, values: Iterable[str | None]) -> list[bytes | None]:
    """Blind a column of already-normalised values; nulls stay null."""
    prefix = field.encode() + b"\x00"
    digest = hmac.digest
    return [
        None if v is None else digest(key, prefix + v.encode("utf-8"), "sha256")[:BLIND_LEN]
        for v in values
    ]
