"""The audit wiring of a safe aggregate: which cells a release prints, the counts' and the
sums' suppression with their interval audits (``protection.py``), over the cells of
``aggregates._cells``."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from dealvault.deidentify.dominance import hidden_sums, sum_cells
from dealvault.deidentify.interval_audit import AuditTooLarge
from dealvault.deidentify.protection import Audit, SumColumn, protect_counts, protect_sums
from dealvault.deidentify.suppression import ALL, Suppression, margin_sets

if TYPE_CHECKING:
    from dealvault.deidentify.aggregates import _Spec
    from dealvault.deidentify.measures import Measure


def magnitudes(spec: _Spec) -> list[Measure]:
    """The measures that add up customers' values (sums and means): the dominance rule's."""
    return [m for m in spec.values if m.kind in ("sum", "mean") and m.column]


#: the most top-N cells the audit takes on, and the seconds it may spend with them (beyond
#: either, a top table's values are left to the line and remainder rules; the report says so)
MAX_AUDITED_TOP_CELLS = 1_000
TOP_AUDIT_SECONDS = 10.0


def printed_cells(cells: pl.DataFrame, spec: _Spec) -> tuple[list[bool], list[bool]]:
    """Per cell: whether a released table prints it when it is not hidden (a top table's
    value that is hidden just joins "(other)"), and whether it is a cell of the main cube."""
    grouped = [d.key for d in spec.dims if d.role != "top"]
    by = [d.key for d in spec.by]
    tops = [d.key for d in spec.dims if d.role == "top"]
    whole = [] if spec.totals else [pl.col(k) != ALL for k in grouped]
    main = pl.all_horizontal([pl.lit(True), *[pl.col(k) == ALL for k in tops], *whole])
    value_rows = []
    for top in tops:
        rest = [pl.col(d.key) == ALL for d in spec.dims if d.role != "by" and d.key != top]
        groups = [] if spec.totals else [pl.col(k) != ALL for k in by]
        value_rows.append(
            pl.all_horizontal([pl.lit(True), *rest, *groups])
            & (pl.col(top) != ALL)
            & pl.col("__listed")
        )
    listed_value = pl.any_horizontal([pl.lit(False), *value_rows])
    flags = cells.with_columns(main.alias("main"), listed_value.alias("value"))
    main_flags = flags.get_column("main").to_list()
    printed = [m or v for m, v in zip(main_flags, flags.get_column("value").to_list(), strict=True)]
    return printed, main_flags


def protected_counts(
    cells: pl.DataFrame,
    spec: _Spec,
    counts: list[int],
    printed: list[bool],
    main_cells: list[bool],
) -> tuple[Suppression, Audit, bool]:
    """The suppression of the counts with its audit: over every cell, top-N values included,
    when there are not too many of them and it finishes in time; else over the main table."""
    keys = spec.keys
    common: dict[str, Any] = {
        "keys": cells.select(keys),
        "counts": counts,
        "k_min": spec.k_min,
        "listed": cells.get_column("__listed").to_list(),
        "printed": printed,
        "remainder_dims": [keys.index(d.key) for d in spec.dims if d.role == "top"],
        "audit": spec.epsilon is None,
    }
    top_cells = sum(not m for m in main_cells)
    if 0 < top_cells <= MAX_AUDITED_TOP_CELLS:
        try:
            outcome, audit = protect_counts(**common, seconds=TOP_AUDIT_SECONDS)
            return outcome, audit, True
        except AuditTooLarge:
            pass
    outcome, audit = protect_counts(**common, audited=main_cells)
    return outcome, audit, top_cells == 0


def protected_sums(
    lf: pl.LazyFrame,
    cells: pl.DataFrame,
    spec: _Spec,
    counted: Suppression,
    printed: list[bool],
    main_cells: list[bool],
    audit: Audit,
) -> tuple[list[bool], Audit]:
    """Which cells' sums and means are hidden: the p% rule's cells, the line rule, and more
    until the audit finds every marked sum protected (``protection.protect_sums``)."""
    measures = magnitudes(spec)
    remainder = [spec.keys.index(d.key) for d in spec.dims if d.role == "top"]
    if not measures or cells.height == 0:
        return list(counted.suppressed), audit
    found = sum_cells(
        lf,
        cells=cells,
        keys=spec.keys,
        present=margin_sets([d.key for d in spec.dims if d.role != "top"], totals=spec.totals),
        columns=[f"__x:{m.column}" for m in measures],
        subject="__s",
    )
    marked = [any(c.protect[i] > 0 for c in found) for i in range(cells.height)]
    inside = [i for i, main in enumerate(main_cells) if main]

    def hide(forced: set[int]) -> list[bool]:
        flags = hidden_sums(
            cells=cells,
            keys=spec.keys,
            counted=counted,
            marked=marked,
            forced={inside[i] for i in forced},
            k_min=spec.k_min,
            remainder_dims=remainder,
        )
        return [flags[i] for i in inside]

    columns = [
        SumColumn(
            sums=[float(c.sums[i] or 0.0) for i in inside],
            required=[c.protect[i] for i in inside],
            nonnegative=bool(
                lf.select((pl.col(c.column).min() >= 0).fill_null(True)).collect().item()
            ),
        )
        for c in found
    ]
    flags, checked, margin, added = protect_sums(
        keys=cells.select(spec.keys)[inside] if spec.keys else [()] * len(inside),
        columns=columns,
        printed=[printed[i] for i in inside], hide=hide,
    )  # fmt: skip
    hidden = list(counted.suppressed)
    for position, cell in enumerate(inside):
        hidden[cell] = hidden[cell] or flags[position]
    return hidden, replace(audit, sums_checked=checked, min_sum_margin=margin, sums_added=added)
