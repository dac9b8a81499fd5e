"""Empty cells of a safe aggregate: every combination of the released labels is a cell, so a
cell left out tells nothing (an empty cell is suppressed like any cell under k_min)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from dealvault.deidentify.suppression import ALL, margin_sets
from dealvault.errors import Invalid

if TYPE_CHECKING:
    from dealvault.deidentify.aggregates import _Spec

#: the most cells a table may have with its empty ones (each is a cell of the audit too)
MAX_CELLS = 200_000


def with_empty_cells(
    cells: pl.DataFrame, *, spec: _Spec, bin_orders: dict[str, dict[str, float]]
) -> pl.DataFrame:
    """``cells`` plus a row with 0 customers for every combination of labels of the main
    cube's cuboids that no customer falls in. The labels of a dimension are those found in the
    data, and every bin of a distribution with given edges (a bin left out would say nobody is
    in it). Top-N cells are not filled: a top table lists values, not a grid."""
    grouped = [d.key for d in spec.dims if d.role != "top"]
    if not grouped:
        return cells
    labels: dict[str, list[str]] = {}
    for key in grouped:
        found = cells.get_column(key).unique().to_list()
        known = list(bin_orders.get(key, {})) if key in _fixed_bins(spec) else []
        labels[key] = sorted({str(v) for v in [*found, *known] if v != ALL})
    cuboids = margin_sets(grouped, totals=spec.totals)
    size = sum(math.prod(len(labels[k]) for k in group) for group in cuboids)
    if size > MAX_CELLS:
        raise Invalid(
            f"this table would have {size:,} cells (every combination of its groups); "
            f"at most {MAX_CELLS:,}: group by fewer or coarser columns"
        )
    parts = []
    for group in cuboids:
        grid = pl.DataFrame({"__one": [1]})
        for key in group:
            grid = grid.join(pl.DataFrame({key: labels[key]}), how="cross")
        parts.append(
            grid.drop("__one").with_columns(
                [pl.lit(ALL).alias(k) for k in spec.keys if k not in group]
            )
        )
    full = pl.concat(parts, how="diagonal_relaxed").select(spec.keys)
    empty = full.join(cells.select(spec.keys), on=spec.keys, how="anti", nulls_equal=True)
    if empty.height == 0:
        return cells
    empty = empty.with_columns(
        pl.lit(0, dtype=pl.Int64).alias("customers"), pl.lit(True).alias("__listed")
    )
    return pl.concat([cells, empty], how="diagonal_relaxed")


def _fixed_bins(spec: _Spec) -> set[str]:
    """Keys of distributions binned at given edges (their bins are known before the data)."""
    return {d.key for d in spec.dims if d.measure is not None and d.measure.bins is not None}
