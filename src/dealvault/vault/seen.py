"""A fixed-size Bloom filter over blind indexes, so the import asks the database only on hits."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

_PROBES = 3


class SeenFilter:
    """Bounded-memory set-membership test for 16-byte blind indexes (keyed hashes).

    A blocked Bloom filter: blind indexes are uniformly random, so their bytes serve
    directly as positions. The first 32 bits of a value choose one 64-bit word, the next
    18 bits three bits in it; a value costs one memory access, not three. A hit may be false
    (then the database answers); a miss is certain. ``bits`` is rounded to a power of two;
    the default 2**28 bits takes 32 MiB (about 3% false hits at 30M values).
    """

    def __init__(self, bits: int = 1 << 28) -> None:
        self.bits = 1 << max(10, (bits - 1).bit_length())
        self._word_mask = np.uint32(self.bits // 64 - 1)
        self._words = np.zeros(self.bits // 64, dtype=np.uint64)
        self.added = 0

    def _positions(
        self, values: list[bytes]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]]:
        raw = np.frombuffer(b"".join(v[:16] for v in values), dtype=np.uint32)
        return self._probe(raw.reshape(len(values), 4))

    def _probe(
        self, words: npt.NDArray[np.uint32]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]]:
        """(word index, mask of its three bits) per value."""
        index = words[:, 0] & self._word_mask
        second = words[:, 1].astype(np.uint64)
        one = np.uint64(1)
        mask = np.zeros(len(words), dtype=np.uint64)
        for k in range(_PROBES):
            mask |= one << ((second >> np.uint64(6 * k)) & np.uint64(63))
        return index, mask

    def add(self, values: Iterable[bytes | None] | pl.Series) -> None:
        """Add blind values: a list, or a binary column (read from its buffers)."""
        if isinstance(values, pl.Series):
            packed = _packed(values)
            if packed is None:
                self.add(values.to_list())
                return
            (index, mask), count = self._probe(packed), len(packed)
        else:
            present = [v for v in values if v is not None]
            if not present:
                return
            (index, mask), count = self._positions(present), len(present)
        np.bitwise_or.at(self._words, index, mask)
        self.added += count

    def might_contain(self, values: list[bytes | None]) -> npt.NDArray[np.bool_]:
        """One flag per value; ``None`` is never contained."""
        out = np.zeros(len(values), dtype=bool)
        idx = [i for i, v in enumerate(values) if v is not None]
        if not idx:
            return out
        index, mask = self._positions([values[i] for i in idx])  # type: ignore[misc]
        out[idx] = (self._words[index] & mask) == mask
        return out


def _packed(column: pl.Series) -> npt.NDArray[np.uint32] | None:
    """The non-null 16-byte values of a binary column as rows of four 32-bit words, straight
    from its Arrow buffers; None if some value is not 16 bytes long."""
    present = column.drop_nulls()
    if present.len() == 0:
        return np.zeros((0, 4), dtype=np.uint32)
    arr = present.cast(pl.Binary).to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _validity, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    if data_buf is None or not np.array_equal(np.diff(offsets), np.full(len(arr), 16)):
        return None
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.view(np.uint32).reshape(len(arr), 4)
