"""Safe aggregates (``aggregate`` level): grouped statistics, cell suppression, optional noise."""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from dealvault.deidentify.aggregate_audit import (
    magnitudes,
    printed_cells,
    protected_counts,
    protected_sums,
)
from dealvault.deidentify.aggregate_tops import OTHER, top_report, top_table, unless_hidden
from dealvault.deidentify.dominance import P_PERCENT
from dealvault.deidentify.grid import with_empty_cells
from dealvault.deidentify.measures import Measure, fmt_number, parse_measure
from dealvault.deidentify.noise import MECHANISM, discrete_laplace_noise
from dealvault.deidentify.protection import Audit
from dealvault.deidentify.suppression import (
    ALL,
    MISSING,
    cube,
    margin_sets,
    order_rank,
    release_order,
)
from dealvault.errors import Invalid

RESERVED_LABELS = (ALL, MISSING, OTHER)
MAX_DIMENSIONS = 5  # group columns plus distributions; the cube has 2**g cuboids


@dataclass(frozen=True)
class AggregateReport:
    """What was released and how it was protected; ``to_dict()`` is JSON-serialisable."""

    group_by: tuple[str, ...]
    measures: tuple[str, ...]
    subject: str
    k_min: int
    totals: bool
    rows_in: int | None
    cells: int
    #: how many cells are suppressed; never which were too small and which hide another
    #: (that would tell the first are below k_min)
    suppressed: int
    #: cells whose count is released but whose sums and means are hidden (dominated by one
    #: or two customers, or hiding such a cell along a line)
    sums_hidden: int
    dominance_rule: str | None
    additive: bool
    non_additive_lines: int
    epsilon: float | None
    noise_mechanism: str | None
    sensitivity: int | None
    noised_columns: tuple[str, ...]
    epsilon_composed: float | None
    top: dict[str, dict[str, int]]  # per top-N measure: groups, values listed, suppressed ...
    #: the interval audit before release (deidentify/protection.py): rules, cells checked,
    #: the narrowest feasibility interval of a hidden count, cells added
    audit: dict[str, Any]
    notes: tuple[str, ...]
    level: str = "aggregate"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("group_by", "measures", "noised_columns", "notes"):
            data[name] = list(data[name])
        return data


@dataclass(frozen=True)
class AggregateResult:
    """The main table (group columns, customers, measures, suppressed), one table per top-N
    measure keyed by its label, and the report: what is released. ``why`` (and ``top_why``)
    say for each row of the table (of each top table) why it is suppressed: ``primary`` (too
    few customers), ``complementary`` (hides another) or null. It is the seller's own record
    and is never released: it would tell which cells are below k_min."""

    table: pl.DataFrame
    top: dict[str, pl.DataFrame]
    report: AggregateReport
    why: pl.Series
    top_why: dict[str, pl.Series]


@dataclass(frozen=True)
class _Dim:
    name: str  # column name in the released table
    source: str  # column of the input frame
    role: Literal["by", "dist", "top"]
    key: str  # column name in the prepared frame and the cell table
    measure: Measure | None = None


@dataclass(frozen=True)
class _Spec:
    """One aggregation: its dimensions (group, distribution, top-N), measures and settings."""

    dims: list[_Dim]
    values: list[Measure]
    k_min: int
    totals: bool
    epsilon: float | None
    rng: np.random.Generator

    @property
    def keys(self) -> list[str]:
        return [d.key for d in self.dims]

    @property
    def by(self) -> list[_Dim]:
        return [d for d in self.dims if d.role == "by"]

    def noisy(self, counts: Sequence[int]) -> npt.NDArray[np.int64]:
        """The counts as released: with epsilon, plus discrete Laplace noise, clamped at 0."""
        true = np.array(counts, dtype=np.int64)
        if self.epsilon is None:
            return true
        noise = discrete_laplace_noise(epsilon=self.epsilon, size=len(true), rng=self.rng)
        released: npt.NDArray[np.int64] = np.maximum(true + noise, 0)
        return released


def aggregate(
    frame: pl.DataFrame,
    *,
    by: Sequence[str],
    measures: Sequence[Measure | str],
    subject: str = "subject_id",
    k_min: int = 10,
    epsilon: float | None = None,
    totals: bool = True,
    seed: int | None = None,
) -> AggregateResult:
    """Grouped statistics over ``frame`` (one row per record) that are safe to release.

    A cell's size is its number of DISTINCT ``subject`` values. Cells (margins included)
    covering 1..k_min-1 customers are suppressed, then complementary suppression runs over the
    whole cube so no suppressed cell can be recovered from a line total. With ``epsilon`` every
    released customer count gets discrete Laplace noise (sums and means are not noised).
    Suppression is decided on the true counts, so the release as a whole is not differentially
    private; the noise only blurs the released counts. An empty frame gives empty tables.
    """
    if isinstance(k_min, bool) or k_min < 1:
        raise Invalid("k_min must be at least 1")
    if epsilon is not None and not (math.isfinite(epsilon) and epsilon > 0):
        raise Invalid("epsilon must be a positive number (or omitted for no noise)")
    wanted = [parse_measure(m) if isinstance(m, str) else m for m in measures]
    dims, values = _plan(frame, by=list(by), measures=wanted, subject=subject)
    seeded = np.random.PCG64(seed if seed is not None else secrets.randbits(128))
    spec = _Spec(dims, values, k_min, totals, epsilon, np.random.Generator(seeded))
    prepared, bin_orders = _prepare(frame, dims=dims, values=values, subject=subject)
    cells = _cells(prepared.lazy(), spec)
    if cells.height:
        cells = with_empty_cells(cells, spec=spec, bin_orders=bin_orders)
    keys = spec.keys
    orders = {
        k: release_order(cells.get_column(k).unique().to_list(), bins=bin_orders.get(k))
        for k in keys
    }
    cells = cells.sort([order_rank(k, order=orders[k]) for k in keys]) if keys else cells
    true_counts = cells.get_column("customers").to_list()
    printed, main_cells = printed_cells(cells, spec)
    outcome, audit, tops_audited = protected_counts(cells, spec, true_counts, printed, main_cells)
    hidden = outcome.suppressed
    sums_hidden, audit = protected_sums(
        prepared.lazy(), cells, spec, outcome, printed, main_cells, audit
    )
    cells = cells.with_columns(
        pl.Series("__sum_hidden", sums_hidden, dtype=pl.Boolean),
        pl.Series("suppressed", hidden, dtype=pl.Boolean),
        pl.Series("__why", outcome.reasons, dtype=pl.String),
        pl.Series("__released", spec.noisy(true_counts), dtype=pl.Int64),
    )
    one_row_each = frame.height == prepared.get_column("__s").n_unique()
    noised = ["customers"] if epsilon is not None else []
    if noised and one_row_each and any(m.kind == "count" for m in values):
        cells = cells.with_columns(pl.col("__released").alias("count"))  # same noise, no extra ε
        noised.append("count")
    main = _main_table(cells, spec)
    tops = {
        d.measure.label: top_table(cells, prepared.lazy(), spec, top=d, orders=orders)
        for d in dims
        if d.role == "top" and d.measure is not None
    }
    margins = [pl.col(d.name) == ALL for d in dims if d.role != "top"]
    grand = main.filter(pl.all_horizontal(margins)) if margins else main
    released_grand = grand.height == 1 and not grand.get_column("suppressed")[0]
    rows_in = frame.height if frame.height == 0 or (epsilon is None and released_grand) else None
    # count queries per customer: one per cuboid of the cell cube, plus each top's (other) rows
    cuboids = cells.select([pl.col(k) == ALL for k in keys]).unique().height if keys else 1
    cuboids += len(tops) * len(margin_sets([d.key for d in spec.by], totals=totals))
    report = AggregateReport(
        group_by=tuple(by),
        measures=tuple(m.label for m in wanted),
        subject=subject,
        k_min=k_min,
        totals=totals,
        rows_in=rows_in,
        cells=main.height,
        suppressed=int(main.get_column("suppressed").sum()),
        sums_hidden=int((~main.get_column("suppressed") & main.get_column("__sum_hidden")).sum()),
        dominance_rule=f"p% rule, p = {P_PERCENT:g}" if magnitudes(spec) else None,
        additive=outcome.non_additive_lines == 0,
        non_additive_lines=outcome.non_additive_lines,
        epsilon=epsilon,
        noise_mechanism=MECHANISM if epsilon is not None else None,
        sensitivity=1 if epsilon is not None else None,
        noised_columns=tuple(noised),
        epsilon_composed=epsilon * cuboids if epsilon is not None else None,
        top={label: top_report(table) for label, table in tops.items()},
        audit={
            **audit.to_dict(),
            "top_values_audited": tops_audited,
        },
        notes=_notes(spec, one_row_each, outcome.non_additive_lines == 0, rows_in, audit),
    )
    return AggregateResult(
        table=main.drop("__why", "__sum_hidden"),
        top={label: t.drop("__why") for label, t in tops.items()},
        report=report,
        why=main.get_column("__why").alias("why"),
        top_why={label: t.get_column("__why").alias("why") for label, t in tops.items()},
    )


def _plan(
    frame: pl.DataFrame, *, by: list[str], measures: list[Measure], subject: str
) -> tuple[list[_Dim], list[Measure]]:
    """Check every column and name, and lay out the dimensions: group, distribution, top."""
    if subject not in frame.columns:
        raise Invalid(f"no subject column {subject!r} in the data")
    for column in [*by, *(m.column for m in measures if m.column)]:
        if column not in frame.columns:
            raise Invalid(f"no column {column!r} in the data")
        if column == subject:
            raise Invalid(f"the subject column {subject!r} cannot be grouped or measured")
    if len(set(by)) != len(by):
        raise Invalid("a group column is listed twice")
    labels = [m.label for m in measures]
    if len(set(labels)) != len(labels):
        raise Invalid("a measure is listed twice")
    dims = [_Dim(name=c, source=c, role="by", key=f"__d{i}") for i, c in enumerate(by)]
    for m in measures:
        if m.kind in ("distribution", "top"):
            column = str(m.column)
            if column in by:
                raise Invalid(f"column {column!r} is already a group column")
            if m.kind == "distribution" and any(
                d.source == column and d.role == "dist" for d in dims
            ):
                raise Invalid(f"column {column!r} has two distributions")
            role: Literal["dist", "top"] = "dist" if m.kind == "distribution" else "top"
            dims.append(_Dim(column, column, role, f"__d{len(dims)}", m))
    dims.sort(key=lambda d: ("by", "dist", "top").index(d.role))
    if sum(d.role != "top" for d in dims) > MAX_DIMENSIONS:
        raise Invalid(f"at most {MAX_DIMENSIONS} group columns and distributions together")
    values = [m for m in measures if m.kind in ("count", "sum", "mean")]
    names = [d.name for d in dims if d.role != "top"] + [m.output for m in values]
    reserved = {"customers", "suppressed", "suppression", "__why", "rank"}
    if len(set(names)) != len(names) or reserved & set(names):
        raise Invalid(f"output columns clash; do not group by or measure {sorted(reserved)}")
    return dims, values


def _number(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A Float64 reading of ``column``; amount strings like "199.00" (or " 199.00 ") allowed."""
    dtype = frame.schema[column]
    if dtype.is_numeric():
        return pl.col(column).cast(pl.Float64).fill_nan(None)
    if dtype != pl.String:
        raise Invalid(f"column {column!r} is not numeric")
    number = pl.col(column).cast(pl.Float64, strict=False)
    if frame.select((pl.col(column).is_not_null() & number.is_null()).sum()).item():
        text = pl.col(column).str.strip_chars()  # slower path: blanks around, or empty strings
        number = pl.when(text != "").then(text).otherwise(None).cast(pl.Float64, strict=False)
        bad = frame.select((text.is_not_null() & (text != "") & number.is_null()).sum()).item()
        if bad:
            raise Invalid(f"column {column!r} is not numeric: {bad} values are not numbers")
    return number.fill_nan(None)


def _prepare(
    frame: pl.DataFrame, *, dims: list[_Dim], values: list[Measure], subject: str
) -> tuple[pl.DataFrame, dict[str, dict[str, float]]]:
    """Internal columns: subject ``__s``, string labels per dimension, Float64 per measure."""
    exprs = [pl.col(subject).hash().alias("__s")]  # 64-bit codes: fast distinct counts
    checks = [pl.col(subject).null_count().alias(f"null:{subject}")]
    numbers: dict[str, pl.Expr] = {}
    for column in {str(m.column) for m in values if m.kind != "count"} | {
        d.source for d in dims if d.measure is not None and (d.measure.bins or d.measure.width)
    }:
        numbers[column] = _number(frame, column)
    for column in dict.fromkeys(str(m.column) for m in values if m.kind != "count"):
        exprs.append(numbers[column].alias(f"__x:{column}"))
    widths: dict[str, float] = {}
    bin_orders: dict[str, dict[str, float]] = {}
    for d in dims:
        measure = d.measure
        if measure is not None and measure.width is not None:
            exprs.append(((numbers[d.source] / measure.width).floor() * measure.width).alias(d.key))
            widths[d.key] = measure.width
        elif measure is not None and measure.bins is not None:
            edges = list(measure.bins)
            names = (
                [f"< {fmt_number(edges[0])}"]
                + [f"[{fmt_number(a)}, {fmt_number(b)})" for a, b in itertools.pairwise(edges)]
                + [f">= {fmt_number(edges[-1])}"]
            )
            bin_orders[d.key] = {name: float(i) for i, name in enumerate(names)}
            x = numbers[d.source]
            index = pl.lit(pl.Series(edges, dtype=pl.Float64)).search_sorted(x, side="right")
            label = index.replace_strict(list(range(len(names))), names, return_dtype=pl.String)
            exprs.append(
                pl.when(x.is_not_null()).then(label).otherwise(pl.lit(MISSING)).alias(d.key)
            )
        else:
            text = pl.col(d.source).cast(pl.String)
            checks.append(text.is_in(list(RESERVED_LABELS)).any().alias(f"reserved:{d.source}"))
            exprs.append(text.fill_null(MISSING).alias(d.key))
    try:
        found = frame.select(checks).row(0, named=True)
    except pl.exceptions.PolarsError:  # its message may quote values: never pass it on
        raise Invalid("the data could not be read for aggregation") from None
    for name, value in found.items():
        kind, _, column = name.partition(":")
        if value and kind == "null":
            raise Invalid(f"column {column!r} (the subject id) has {value} empty values")
        if value and kind == "reserved":
            raise Invalid(f"column {column!r} holds a reserved label {RESERVED_LABELS}")
    try:
        prepared = frame.select(exprs)
    except pl.exceptions.PolarsError:  # its message may quote values: never pass it on
        raise Invalid("the data could not be read for aggregation") from None
    if prepared.get_column("__s").n_unique() != frame.get_column(subject).n_unique():
        # a hash collision would merge two customers: fall back to exact (slower) dense codes
        prepared = prepared.with_columns(frame.get_column(subject).rank("dense").alias("__s"))
    for key, width in widths.items():
        lows = sorted(prepared.get_column(key).drop_nulls().unique().to_list())
        names = [f"[{fmt_number(low)}, {fmt_number(low + width)})" for low in lows]
        bin_orders[key] = dict(zip(names, lows, strict=True))
        prepared = prepared.with_columns(
            pl.col(key).replace_strict(lows, names, default=MISSING, return_dtype=pl.String)
        )
    return prepared, bin_orders


def _cells(lf: pl.LazyFrame, spec: _Spec) -> pl.DataFrame:
    """Every non-empty cell of the cube (main measures) and of each top-N cube, in one key
    space; a top cube's group totals are the main cube's cells with ``(all)`` distributions."""
    keys, by = spec.keys, [d.key for d in spec.by]
    grouped = [d.key for d in spec.dims if d.role != "top"]
    customers = pl.col("__s").n_unique().cast(pl.Int64).alias("customers")
    aggs = [customers]
    for m in spec.values:
        x = pl.col(f"__x:{m.column}")
        agg = {"count": pl.len().cast(pl.Int64), "sum": x.sum()}.get(m.kind, x.mean())
        aggs.append(agg.alias(m.output))
    frames = [cube(lf, present=margin_sets(grouped, totals=spec.totals), keys=keys, aggs=aggs)]
    tops = [d for d in spec.dims if d.role == "top" and d.measure is not None]
    if tops and not spec.totals and len(grouped) > len(by):  # group totals the tops need
        frames.append(cube(lf, present=[tuple(by)], keys=keys, aggs=aggs))
    frames = [f.with_columns(pl.lit(True).alias("__listed")) for f in frames]
    for top in tops:
        present = [(*group, top.key) for group in margin_sets(by, totals=spec.totals)]
        ranked = cube(lf, present=present, keys=keys, aggs=[customers]).sort(
            [*by, "customers", top.key], descending=[False] * len(by) + [True, False]
        )
        rank = pl.int_range(1, pl.len() + 1)
        n = top.measure.n if top.measure else 0
        eligible = (pl.col("customers") >= spec.k_min) & ((rank.over(by) if by else rank) <= n)
        frames.append(ranked.with_columns(eligible.alias("__listed")))
    cells = pl.concat(pl.collect_all(frames), how="diagonal_relaxed")
    cells = cells.unique(subset=keys or None, keep="first", maintain_order=True)
    return cells.filter(pl.col("customers") > 0)


def _main_table(cells: pl.DataFrame, spec: _Spec) -> pl.DataFrame:
    grouped = [d for d in spec.dims if d.role != "top"]
    keep = [pl.col(d.key) == ALL for d in spec.dims if d.role == "top"]
    keep += [] if spec.totals else [pl.col(d.key) != ALL for d in grouped]
    table = cells.filter(pl.all_horizontal(keep)) if keep else cells
    summed = {m.output for m in magnitudes(spec)}
    return table.select(
        *[pl.col(d.key).alias(d.name) for d in grouped],
        unless_hidden("__released"),
        *[
            unless_hidden(m.output, also="__sum_hidden" if m.output in summed else None)
            for m in spec.values
        ],
        "suppressed",
        "__why",
        "__sum_hidden",
    ).rename({"__released": "customers"})


def _notes(
    spec: _Spec, one_row_each: bool, additive: bool, rows_in: int | None, audit: Audit
) -> tuple[str, ...]:
    noised = spec.epsilon is not None
    audited = audit.counts_checked > 0
    notes = {
        "every hidden count was checked by integer programming against all released numbers: "
        "none can be narrowed to a range less than k_min wide or shown to be below k_min": audited,
        "every sum hidden by the p% rule was checked the same way: none can be estimated to "
        "within p% of its largest contribution": audit.sums_checked > 0,
        "customers = distinct subjects per cell; cells under k_min are suppressed, and more "
        "cells so that none can be recovered from totals": True,
        "some customers fall in several cells (record-level grouping): lines do not add up "
        "exactly; complementary suppression was applied as if they did": not additive,
        "noise covers customer counts only (discrete Laplace, sensitivity 1); sums and means "
        "are exact; suppression used the true counts, so the release as a whole is not "
        "differentially private; epsilon_composed = epsilon x count queries per customer, "
        "valid when each customer falls in one cell per cuboid": noised,
        "record counts are exact: a customer may have many records": noised
        and not one_row_each
        and any(m.kind == "count" for m in spec.values),
        "rows_in withheld: it would reveal a suppressed or noised grand total": rows_in is None,
        "an exact sum and mean of one column give the exact record count (sum / mean), which "
        "undoes the noise when each customer has one record": noised
        and bool(
            {m.column for m in spec.values if m.kind == "sum"}
            & {m.column for m in spec.values if m.kind == "mean"}
        ),
    }
    return tuple(note for note, wanted in notes.items() if wanted)
