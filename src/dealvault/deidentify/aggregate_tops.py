"""The top-N tables of a safe aggregate: the listed values per group (ranked), the (other)
remainder and the group total, each suppressed as the main table's cells are."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from dealvault.deidentify.suppression import (
    ALL,
    COMPLEMENTARY,
    PRIMARY,
    margin_sets,
    order_rank,
)

if TYPE_CHECKING:
    from dealvault.deidentify.aggregates import _Dim, _Spec

OTHER = "(other)"


def unless_hidden(column: str, *, also: str | None = None) -> pl.Expr:
    hidden = pl.col("suppressed") | pl.col(also) if also else pl.col("suppressed")
    return pl.when(hidden).then(None).otherwise(pl.col(column)).alias(column)


def top_table(
    cells: pl.DataFrame, lf: pl.LazyFrame, spec: _Spec, *, top: _Dim, orders: dict[str, list[str]]
) -> pl.DataFrame:
    """Listed top values per group (ranked), the (other) remainder and the group total."""
    by = [d.key for d in spec.by]
    keep = [pl.col(d.key) == ALL for d in spec.dims if d.role != "by" and d is not top]
    keep += [] if spec.totals else [pl.col(k) != ALL for k in by]
    mine = cells.filter(pl.all_horizontal(keep)) if keep else cells
    group_totals = mine.filter(pl.col(top.key) == ALL)
    listed = mine.filter((pl.col(top.key) != ALL) & pl.col("__listed") & ~pl.col("suppressed"))
    other = pl.col("__s").n_unique().cast(pl.Int64).alias("__other")
    others = []
    for group in margin_sets(by, totals=spec.totals):
        # (other) = distinct customers of the group with a value that is not listed for it
        pattern = [pl.col(k) != ALL if k in group else pl.col(k) == ALL for k in by]
        pairs = (listed.filter(pl.all_horizontal(pattern)) if pattern else listed).lazy()
        rest = lf.join(pairs.select(*group, top.key), on=[*group, top.key], how="anti")
        part = rest.group_by(list(group)).agg(other) if group else rest.select(other)
        others.append(part.with_columns([pl.lit(ALL).alias(k) for k in by if k not in group]))
    totals_hidden = group_totals.select(*by, pl.col("suppressed").alias("__total_hidden"))
    rows = pl.concat(pl.collect_all(others), how="diagonal_relaxed").filter(pl.col("__other") > 0)
    rows = rows.join(totals_hidden, on=by) if by else rows.join(totals_hidden, how="cross")
    rows = (
        rows.sort([order_rank(k, order=orders[k]) for k in by]) if by else rows
    )  # seeded noise order
    small, total_hidden = pl.col("__other") < spec.k_min, pl.col("__total_hidden")
    rows = rows.with_columns(
        pl.lit(OTHER).alias(top.key),
        pl.Series("__released", spec.noisy(rows.get_column("__other").to_list()), pl.Int64),
        (small | total_hidden).alias("suppressed"),
        pl.when(small)
        .then(pl.lit(PRIMARY))
        .when(total_hidden)
        .then(pl.lit(COMPLEMENTARY))
        .otherwise(None)
        .alias("__why"),
    )
    columns = [*by, top.key, "__released", "suppressed", "__why"]
    rank = pl.int_range(1, pl.len() + 1)
    listed = listed.sort([*by, "__released", top.key], descending=[False] * len(by) + [True, False])
    no_rank = pl.lit(None, pl.Int64).alias("rank")
    table = pl.concat(
        [
            listed.select(columns).with_columns(
                (rank.over(by) if by else rank).cast(pl.Int64).alias("rank"), __kind=pl.lit(0)
            ),
            rows.select(columns).with_columns(no_rank, __kind=pl.lit(1)),
            group_totals.select(columns).with_columns(no_rank, __kind=pl.lit(2)),
        ],
        how="vertical_relaxed",
    )
    table = table.sort(
        [*[order_rank(k, order=orders[k]) for k in by], "__kind", "rank"], maintain_order=True
    )
    return table.select(
        *[pl.col(d.key).alias(d.name) for d in spec.by],
        pl.col(top.key).alias(top.name),
        "rank",
        unless_hidden("__released").alias("customers"),
        "suppressed",
        "__why",
    )


def top_report(table: pl.DataFrame) -> dict[str, int]:
    values = table.get_column(table.columns[table.columns.index("rank") - 1])
    return {
        "groups": int((values == ALL).sum()),
        "values_listed": int(table.get_column("rank").is_not_null().sum()),
        "other_released": int(((values == OTHER) & ~table.get_column("suppressed")).sum()),
        "suppressed": int(table.get_column("suppressed").sum()),
    }
