"""Column statistics: fill rate exact, distinct count exact when small and close when large."""

from __future__ import annotations

import polars as pl

from dealvault.vault.colstats import ColumnStats


def test_fill_rate_and_small_distinct() -> None:
    st = ColumnStats()
    st.add(pl.Series(["a", "b", None, "", "a"]))
    st.add(pl.Series(["c", None]))
    assert (st.rows, st.non_null, st.distinct) == (7, 4, 3)
    assert abs(st.fill_rate - 4 / 7) < 1e-9


def test_large_distinct_is_estimated_within_five_percent() -> None:
    st = ColumnStats()
    for start in range(0, 200_000, 50_000):  # batches with repeats across them
        st.add(pl.Series([f"v{i % 120_000}" for i in range(start, start + 50_000)]))
    assert st.rows == 200_000
    assert abs(st.distinct - 120_000) / 120_000 < 0.05
