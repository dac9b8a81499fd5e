"""The dominance rule for sums: a cell's sum (and mean) of a magnitude is not released when
one or two customers make up nearly all of it, since each of them (or anyone who knows one
of them) could then estimate the other's value closely.

The rule is the p% rule of statistical disclosure control (as in τ-ARGUS): with the
customers' contributions to the cell sorted, x1 ≥ x2 ≥ …, the cell is sensitive when what
the others contribute, T − x1 − x2, is less than p% of x1: the second-largest contributor,
subtracting its own part from the released total, would learn x1 to within p%. Contributions
are the customers' own totals in the cell (a customer with several records counts once),
in absolute value. A sensitive cell's sum and mean are hidden; its customer count may still
be released. Hiding them is then made safe along every line of the table (a line whose total
is released never keeps a single hidden sum) by the same complementary suppression as the
counts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import polars as pl

from dealvault.deidentify.suppression import ALL, Suppression, suppress

#: p of the p% rule, in percent (a commonly used value)
P_PERCENT = 10.0


def dominated_cells(
    lf: pl.LazyFrame,
    *,
    column: str,
    subject: str,
    present: Sequence[tuple[str, ...]],
    keys: Sequence[str],
    p: float = P_PERCENT,
) -> pl.DataFrame:
    """The cells (``keys``, ``(all)`` in margins) of the cuboids ``present`` with their signed
    sum of ``column`` (``__sum``) and the p% rule's protection level (``__protect``: how far
    the released interval must reach beyond the sum on each side; 0 when the sum may be
    released, > 0 when one or two customers dominate it)."""
    x = pl.col(column)
    parts = []
    for group in present:
        per = lf.group_by([*group, subject]).agg(x.sum().alias("__c"))
        aggs = (
            pl.col("__c").abs().sum().alias("__t"),
            pl.col("__c").sum().alias("__sum"),
            pl.col("__c").abs().top_k(2).alias("__top"),
        )
        cell = (
            per.group_by(list(group)).agg(aggs)
            if group
            else per.select(aggs[0], aggs[1], aggs[2].implode())  # the whole table: one cell
        )
        parts.append(cell.with_columns([pl.lit(ALL).alias(k) for k in keys if k not in group]))
    if not parts:
        schema = {**dict.fromkeys(keys, pl.String), "__sum": pl.Float64, "__protect": pl.Float64}
        return pl.DataFrame(schema=schema)
    cells = pl.concat(pl.collect_all(parts), how="diagonal_relaxed")
    top1 = pl.col("__top").list.get(0, null_on_oob=True).fill_null(0.0)
    top2 = pl.col("__top").list.get(1, null_on_oob=True).fill_null(0.0)
    level = top1 * (p / 100.0) - (pl.col("__t") - top1 - top2)
    protect = pl.when((top1 > 0) & (level > 0)).then(level).otherwise(0.0)
    return cells.select(*keys, pl.col("__sum").cast(pl.Float64), protect.alias("__protect"))


@dataclass(frozen=True)
class SumCells:
    """One magnitude column over the cells of a table: signed sums and p% protection levels
    (null and 0 for cells outside the summed cube, such as top-N cells)."""

    column: str
    sums: list[float | None]
    protect: list[float]


def sum_cells(
    lf: pl.LazyFrame,
    *,
    cells: pl.DataFrame,
    keys: Sequence[str],
    present: Sequence[tuple[str, ...]],
    columns: Sequence[str],
    subject: str,
) -> list[SumCells]:
    """The sums and protection levels of ``columns`` for each row of ``cells``."""
    out = []
    for column in columns:
        found = dominated_cells(lf, column=column, subject=subject, present=present, keys=keys)
        if keys:
            found = cells.select(keys).join(found, on=keys, how="left", maintain_order="left")
        else:  # no grouping: the one cell, the whole table
            found = found.select(pl.col("__sum").first(), pl.col("__protect").first())
        out.append(
            SumCells(
                column=column,
                sums=found.get_column("__sum").to_list(),
                protect=found.get_column("__protect").fill_null(0.0).to_list(),
            )
        )
    return out


def hidden_sums(
    *,
    cells: pl.DataFrame,
    keys: Sequence[str],
    counted: Suppression,
    marked: Sequence[bool],
    forced: Collection[int] = (),
    k_min: int,
    remainder_dims: Sequence[int],
) -> list[bool]:
    """Per cell of ``cells``: whether its sums and means are hidden. A cell hidden for its
    count (``counted``) hides them too; a cell the p% rule ``marked`` (or ``forced`` by the
    audit) hides them; then complementary suppression along every line, as for the counts, so
    no hidden sum is a difference of released ones."""
    extra = set(forced)
    if cells.height == 0 or not (any(marked) or extra):
        return list(counted.suppressed)
    lines = suppress(
        keys=cells.select(keys),
        counts=[1 if (was or dom) else k_min for was, dom in
                zip(counted.suppressed, marked, strict=True)],
        k_min=k_min,
        listed=cells.get_column("__listed").to_list(),
        remainder_dims=remainder_dims,
        forced=extra,
    )  # fmt: skip
    return [a or b for a, b in zip(lines.suppressed, counted.suppressed, strict=True)]
