"""Shared helpers of the kernel tests: the C module when it is built, and invented records."""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pytest

from dealvault.crypto import envelope as env

try:
    from dealvault import _native as _built  # type: ignore[attr-defined]
except ImportError:  # built without a compiler or libcrypto
    _built = None

#: ``dealvault._native`` when it imports, else None (even under ``DEALVAULT_NATIVE=0``: the
#: tests compare the two paths directly)
C: ModuleType | None = _built

DATASET = 7
SCHEMA = 1
CATS = ("identity", "contact", "sensitive", "preferences")
PREFIX = b"rec|%d|" % DATASET
POSTS = tuple(b"|%s|%d" % (c.encode(), SCHEMA) for c in CATS)
HEAD = env.Header(env.ALG_AES_256_GCM, "ck", 1).encode()


def need_c() -> ModuleType:
    """The C module, or skip the test with the reason."""
    if C is None:
        pytest.skip("dealvault._native is not built (no C compiler, libcrypto or zlib headers)")
    return C


def payload(i: int, j: int) -> bytes | None:
    """An invented JSON payload of customer ``i`` in category ``j`` (some are missing)."""
    if (i + j) % 5 == 4:
        return None
    return b'{"f%d":"value %d of customer %d \xe6\xb5\x8b"}' % (j, j, i)


def batch(
    n: int, *, start: int = 1, ncat: int = 4
) -> tuple[bytes, list[list[bytes | None]], bytes]:
    """Keys, payload columns and nonces of ``n`` invented customers."""
    keys = os.urandom(32 * n)
    columns = [[payload(start + i, j) for i in range(n)] for j in range(ncat)]
    return keys, columns, os.urandom(12 * n * ncat)


def key_list(keys: bytes) -> list[bytes | None]:
    return [keys[k : k + 32] for k in range(0, len(keys), 32)]


def rows_of(start: int, sealed: list[list[bytes | None]], n: int) -> list[Sequence[Any]]:
    """Rows ``(record_id, subject_id, *envelopes)`` as the store gives them."""
    return [(start + i, f"s{start + i:08x}", *(col[i] for col in sealed)) for i in range(n)]
