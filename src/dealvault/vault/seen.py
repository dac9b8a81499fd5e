"""A fixed-size Bloom filter over blind indexes, so the import asks the database only on hits."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

_PROBES = 3


class SeenFilter:
    """Bounded-memory set-membership test for 16-byte blind indexes (HMAC outputs).

    Blind indexes are uniformly random, so their bytes serve directly as the filter's
    hash positions. A hit may be false (then the database answers); a miss is certain.
    ``bits`` is rounded to a power of two; the default 2**28 bits takes 32 MiB.
    """

    def __init__(self, bits: int = 1 << 28) -> None:
        self.bits = 1 << max(10, (bits - 1).bit_length())
        self._mask = np.uint64(self.bits - 1)
        self._words = np.zeros(self.bits // 64, dtype=np.uint64)
        self.added = 0

    def _positions(self, values: list[bytes]) -> npt.NDArray[np.uint64]:
        raw = np.frombuffer(b"".join(v[:16] for v in values), dtype=np.uint32)
        return raw.reshape(len(values), 4)[:, :_PROBES].astype(np.uint64) & self._mask

    def add(self, values: Iterable[bytes | None]) -> None:
        present = [v for v in values if v is not None]
        if not present:
            return
        pos = self._positions(present).ravel()
        np.bitwise_or.at(self._words, pos >> np.uint64(6), np.uint64(1) << (pos & np.uint64(63)))
        self.added += len(present)

    def might_contain(self, values: list[bytes | None]) -> npt.NDArray[np.bool_]:
        """One flag per value; ``None`` is never contained."""
        out = np.zeros(len(values), dtype=bool)
        idx = [i for i, v in enumerate(values) if v is not None]
        if not idx:
            return out
        pos = self._positions([values[i] for i in idx])  # type: ignore[misc]
        bits = (self._words[pos >> np.uint64(6)] >> (pos & np.uint64(63))) & np.uint64(1)
        out[idx] = bits.all(axis=1)
        return out
