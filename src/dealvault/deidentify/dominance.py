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

from collections.abc import Sequence

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
    """The cells (``keys``, ``(all)`` in margins) of the cuboids ``present`` whose sum of
    ``column`` the p% rule forbids releasing, as a frame of ``keys`` and ``__dominated``."""
    x = pl.col(column).abs()
    parts = []
    for group in present:
        per = lf.group_by([*group, subject]).agg(x.sum().alias("__c"))
        total, top = pl.col("__c").sum().alias("__t"), pl.col("__c").top_k(2).alias("__top")
        cell = (
            per.group_by(list(group)).agg(total, top)
            if group
            else per.select(total, top.implode())  # the whole table: one cell
        )
        parts.append(cell.with_columns([pl.lit(ALL).alias(k) for k in keys if k not in group]))
    if not parts:
        return pl.DataFrame(schema={**dict.fromkeys(keys, pl.String), "__dominated": pl.Boolean})
    cells = pl.concat(pl.collect_all(parts), how="diagonal_relaxed")
    top1 = pl.col("__top").list.get(0, null_on_oob=True).fill_null(0.0)
    top2 = pl.col("__top").list.get(1, null_on_oob=True).fill_null(0.0)
    rest = pl.col("__t") - top1 - top2
    return cells.select(*keys, ((top1 > 0) & (rest < top1 * (p / 100.0))).alias("__dominated"))


def hidden_sums(
    lf: pl.LazyFrame,
    *,
    cells: pl.DataFrame,
    keys: Sequence[str],
    present: Sequence[tuple[str, ...]],
    columns: Sequence[str],
    counted: Suppression,
    k_min: int,
    remainder_dims: Sequence[int],
    subject: str,
) -> list[bool]:
    """Per cell of ``cells``: whether its sums and means (of ``columns``) are hidden. A cell
    hidden for its count (``counted``) hides them too; a cell some customer dominates hides
    them; then complementary suppression along every line, as for the counts, so no hidden
    sum is a difference of released ones."""
    if not columns or cells.height == 0:
        return list(counted.suppressed)
    dominated = [False] * cells.height
    for column in columns:
        found = dominated_cells(lf, column=column, subject=subject, present=present, keys=keys)
        if keys:
            found = cells.select(keys).join(found, on=keys, how="left", maintain_order="left")
        else:  # no grouping: the one cell, the whole table
            found = found.select(pl.col("__dominated").first())
        marks = found.get_column("__dominated").fill_null(False).to_list()
        dominated = [a or bool(b) for a, b in zip(dominated, marks, strict=True)]
    if not any(dominated):
        return list(counted.suppressed)
    # the same line rule as the counts, over cells marked "too small" where a sum is hidden
    lines = suppress(
        keys=cells.select(keys),
        counts=[1 if (was or dom) else k_min for was, dom in
                zip(counted.suppressed, dominated, strict=True)],
        k_min=k_min,
        listed=cells.get_column("__listed").to_list(),
        remainder_dims=remainder_dims,
    )  # fmt: skip
    return [a or b for a, b in zip(lines.suppressed, counted.suppressed, strict=True)]
