"""Blind indexes: keyed BLAKE2b-128 of normalised values under a per-dataset index key."""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

from dealvault import native

BLIND_LEN = 16


def blind_index(key: bytes, field: str, value: str) -> bytes:
    """BLAKE2b in its keyed (MAC) mode, RFC 7693; the field name separates the domains."""
    return blake2b(
        value.encode("utf-8"), key=key, person=field.encode()[:16], digest_size=BLIND_LEN
    ).digest()


def blind_many(key: bytes, field: str, values: Iterable[str | None]) -> list[bytes | None]:
    """Blind a column of already-normalised values in one batch call; nulls stay null."""
    return native.blind_many(key, field.encode()[:16], list(values))
