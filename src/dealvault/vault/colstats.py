"""Per-column statistics gathered while importing: fill rate and an estimated distinct count."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

SKETCH_K = 2048


class ColumnStats:
    """Counts rows and non-empty cells, and keeps a KMV sketch (the K smallest 64-bit hashes)
    for the number of distinct values: bounded memory whatever the file size."""

    def __init__(self) -> None:
        self.rows = 0
        self.non_null = 0
        self._mins: npt.NDArray[np.uint64] = np.empty(0, dtype=np.uint64)

    def add(self, values: pl.Series) -> None:
        self.rows += len(values)
        present = values.drop_nulls()
        if present.dtype == pl.String:
            present = present.filter(present.str.len_chars() > 0)
        self.non_null += len(present)
        if len(present) == 0:
            return
        hashes = present.hash(seed=0x5EED)
        if len(self._mins) == SKETCH_K:  # full: only hashes below the current K-th can enter
            hashes = hashes.filter(hashes < int(self._mins[-1]))
        if len(hashes) == 0:
            return
        merged = np.union1d(self._mins, hashes.unique().to_numpy().astype(np.uint64))
        self._mins = merged[:SKETCH_K]

    @property
    def distinct(self) -> int:
        """Exact below K distinct values, the KMV estimate above."""
        if len(self._mins) < SKETCH_K:
            return len(self._mins)
        kth = float(self._mins[-1]) / float(2**64)
        return round((SKETCH_K - 1) / kth) if kth > 0 else SKETCH_K

    @property
    def fill_rate(self) -> float:
        return self.non_null / self.rows if self.rows else 0.0


def stats_for(frame: pl.DataFrame, stats: dict[str, ColumnStats]) -> None:
    """Feed one batch (source columns, before normalisation) into the accumulators."""
    for name in frame.columns:
        if name.startswith("__"):
            continue
        stats.setdefault(name, ColumnStats()).add(frame.get_column(name))
