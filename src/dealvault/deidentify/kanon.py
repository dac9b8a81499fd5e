"""k-anonymous record-level release: encode quasi-identifiers, Mondrian, generalise, report."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, TypedDict, Unpack

import numpy as np
import polars as pl

from dealvault.deidentify import metrics
from dealvault.deidentify.encode import (
    Encoded,
    QuasiIdentifier,
    dense_codes,
    encode,
    outliers,
)
from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.deidentify.metrics import RiskFigures
from dealvault.deidentify.mondrian import (
    Bools,
    Diversity,
    Floats,
    Ints,
    Partitions,
    mondrian,
)
from dealvault.deidentify.released import Kept, check_non_identifying, release_kept, risk_over
from dealvault.errors import Invalid

__all__ = [
    "AnonymizeReport",
    "Options",
    "QuasiIdentifier",
    "RiskFigures",
    "anonymize",
    "anonymize_traced",
]

#: Output label of a cell generalised to its whole domain.
STAR = "*"


@dataclass(frozen=True)
class AnonymizeReport:
    """What :func:`anonymize` did, measured on the output equivalence classes."""

    k_requested: int
    k_achieved: int
    l_requested: int | None
    l_kind: str | None
    l_achieved: float | None
    rows_in: int
    rows_out: int
    suppressed: int
    suppression_budget: float
    partitions: int
    classes: int
    class_size_min: int
    class_size_max: int
    class_size_mean: float
    class_size_histogram: dict[str, int]
    ncp: float
    ncp_per_column: dict[str, float]
    discernibility: int
    average_class_size_metric: float
    risk_before: RiskFigures
    risk_after: RiskFigures
    risk_after_quasi_identifiers: RiskFigures
    risk_columns: list[str]
    non_identifying: dict[str, str]
    canaries: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form."""
        return asdict(self)


class Options(TypedDict, total=False):
    """The optional arguments of :func:`anonymize` (see there)."""

    sensitive: str | None
    l: int | None  # noqa: E741 - the letter of l-diversity
    l_kind: Literal["distinct", "entropy"]
    suppression: float
    keep: Sequence[str]
    non_identifying: Mapping[str, str]
    canaries: pl.Series | None
    seed: int | None


def anonymize(
    frame: pl.DataFrame,
    *,
    quasi_identifiers: Sequence[QuasiIdentifier],
    k: int,
    **options: Unpack[Options],
) -> tuple[pl.DataFrame, AnonymizeReport]:
    """Generalise ``quasi_identifiers`` so every combination is shared by at least ``k`` rows.

    Steps: encode each quasi-identifier as integer codes; suppress outliers within the budget;
    partition with strict Mondrian (:func:`dealvault.deidentify.mondrian.mondrian`), with
    l-diversity on ``sensitive`` when ``l`` is given; replace each value by its partition's
    range (numeric and date: ``[lo, hi]``, or the value when lo == hi; categorical: the lowest
    common ancestor in the hierarchy, or ``*``); shuffle the rows. Partitions that generalise to
    the same labels form one output class; every figure in the report is measured on the
    output classes, as an attacker (or pycanon) would group them.

    Output: one row per row not suppressed, in random order (``seed`` only for tests):
    the quasi-identifiers as text, then ``sensitive`` unchanged and the ``keep`` columns
    (``COLUMN``, ``COLUMN:range=WIDTH`` or ``COLUMN:year|quarter|month|week``; see
    :func:`dealvault.deidentify.released.release_kept` for what is refused).

    Risk: ``risk_after`` counts every released column — the generalised quasi-identifiers,
    the sensitive column and every kept column — except those in ``non_identifying``
    (column -> the reason, reported with the figures); ``risk_after_quasi_identifiers`` is
    the same over the quasi-identifiers alone (what k bounds), ``risk_before`` over the
    counted columns as they were.

    Canaries (``canaries``: True for each canary row): they are released like any row and
    never suppressed, but do not count anywhere: every class holds ``k`` rows that are not
    canaries (l-diversity too is met without them), and every figure of the report except
    ``rows_out`` and ``canaries`` is measured on the other rows only.

    Suppression (``suppression`` = largest share of rows that may be left out): each row gets
    an outlier score, the sum over quasi-identifiers of — numeric and date: the distance
    outside the Tukey fences Q1 - 1.5 IQR / Q3 + 1.5 IQR in IQR units (in units of the range
    when IQR is 0); categorical: (k - n) / k for a leaf value held by n < k rows; null in any
    column held by fewer than k rows: infinite (these go first). The rows of highest positive
    score are suppressed, at most floor(suppression x rows); rows of score 0 never are.

    Nulls: null is a value of its own in each quasi-identifier, ordered before every other
    value, and Mondrian cuts a partition into its nulls and the rest before any other cut, so
    a null only shares a class with nulls — and the class shows null there — unless the
    partition holds fewer than k nulls or fewer than k other rows. Then (typically: fewer
    than k nulls in the column and no suppression budget left for them) the nulls stay with
    non-null rows and that class shows ``*`` in the column (full loss in NCP).
    """
    out, report, _ = anonymize_traced(frame, quasi_identifiers=quasi_identifiers, k=k, **options)
    return out, report


def anonymize_traced(
    frame: pl.DataFrame,
    *,
    quasi_identifiers: Sequence[QuasiIdentifier],
    k: int,
    sensitive: str | None = None,
    l: int | None = None,  # noqa: E741 - the letter of l-diversity
    l_kind: Literal["distinct", "entropy"] = "distinct",
    suppression: float = 0.0,
    keep: Sequence[str] = (),
    non_identifying: Mapping[str, str] | None = None,
    canaries: pl.Series | None = None,
    seed: int | None = None,
) -> tuple[pl.DataFrame, AnonymizeReport, Ints]:
    """:func:`anonymize`, also returning the input row number of each output row (for the
    seller's side only: tests, and callers that must know whose records a release holds)."""
    started = time.perf_counter()
    kept_specs = [Kept.parse(spec) for spec in keep]
    _check(frame, quasi_identifiers, k, sensitive, l, l_kind, suppression, kept_specs)
    released = [*([sensitive] if sensitive else []), *(c.column for c in kept_specs)]
    declared = check_non_identifying(
        non_identifying or {}, released=released, quasi=[q.column for q in quasi_identifiers]
    )
    kept_values = release_kept(frame, kept=kept_specs, k=k)
    canary = _canary_rows(canaries, frame.height)
    sens_codes, n_sens = (None, 0)
    if sensitive is not None:
        sens_codes, n_sens = dense_codes(frame.get_column(sensitive))
    diversity = None
    if l is not None and sens_codes is not None:
        distinct = len(np.unique(sens_codes))
        if l > distinct:
            raise Invalid(
                f"l = {l} but the sensitive column {sensitive!r} has only {distinct}"
                " distinct values"
            )
        diversity = Diversity(codes=sens_codes, n_values=n_sens, l=l, kind=l_kind)
    encoded = [encode(frame, qi) for qi in quasi_identifiers]
    active = ~outliers(encoded, k=k, budget=suppression, rows=frame.height) | canary
    if int((active & ~canary).sum()) < k:
        left = int((active & ~canary).sum())
        raise Invalid(f"{left} rows remain after suppression, fewer than k = {k}")
    parts = mondrian(
        dimensions=[e.dim for e in encoded],
        k=k,
        rows=active,
        diversity=diversity,
        counted=~canary if canary.any() else None,
    )
    labels, losses = zip(*(_generalise(e, parts, d) for d, e in enumerate(encoded)), strict=True)
    class_of_part, n_classes = metrics.merge_classes(labels=labels)

    kept = np.flatnonzero(active)
    rows = kept[np.random.default_rng(seed).permutation(len(kept))]
    part_of_row = parts.labels[rows]
    columns = [
        lab.gather(part_of_row).alias(e.qi.column) for lab, e in zip(labels, encoded, strict=True)
    ]
    if sensitive:
        columns.append(frame.get_column(sensitive).gather(rows))
    columns += [v.gather(rows) for v in kept_values]
    real = ~canary[rows]
    l_value = None
    if sens_codes is not None:
        l_value = metrics.l_achieved(
            classes=class_of_part[part_of_row][real],
            values=sens_codes[rows][real],
            n_classes=n_classes,
            n_values=n_sens,
            kind=l_kind,
        )
    counted = [c for c in released if c not in declared]
    by_name = dict(zip(released, columns[len(encoded) :], strict=True))
    before: list[pl.Series | Ints] = [e.dim.codes for e in encoded]
    before += [frame.get_column(c) for c in counted]  # as they were, before generalisation
    after: list[pl.Series | Ints] = [class_of_part[part_of_row], *(by_name[c] for c in counted)]
    report = _report(
        encoded,
        parts,
        class_of_part,
        np.stack(losses, axis=1),
        k=k,
        l_requested=l,
        l_kind=l_kind if sensitive is not None else None,
        l_achieved=l_value,
        suppression=suppression,
    )
    report = replace(
        report,
        risk_before=risk_over(keys=before, rows=~canary),
        risk_after=risk_over(keys=after, rows=real),
        risk_columns=[*(e.qi.column for e in encoded), *counted],
        non_identifying=declared,
        canaries=int(canary[rows].sum()),
        seconds=time.perf_counter() - started,
    )
    return pl.DataFrame(columns), report, rows


def _canary_rows(canaries: pl.Series | None, height: int) -> Bools:
    """The canary flag of each row (none when not given); nulls are not canaries."""
    if canaries is None:
        return np.zeros(height, dtype=np.bool_)
    if len(canaries) != height or canaries.dtype not in (pl.Boolean, pl.Null):
        raise Invalid("canaries must be one True/False flag per row")
    flags: Bools = canaries.fill_null(False).to_numpy().astype(np.bool_)
    return flags


def _report(
    encoded: list[Encoded],
    parts: Partitions,
    class_of_part: Ints,
    losses: Floats,
    *,
    k: int,
    l_requested: int | None,
    l_kind: str | None,
    l_achieved: float | None,
    suppression: float,
) -> AnonymizeReport:
    """The report's figures, on the output classes (``class_of_part``: class per partition),
    counting only the rows that count toward k (the caller fills in the risk figures over
    every released column, the canaries and the time)."""
    canaries = int(parts.sizes.sum() - parts.counted.sum())
    rows_in = len(parts.labels) - canaries
    rows_out = int(parts.counted.sum())
    suppressed = rows_in - rows_out
    sizes = np.bincount(class_of_part, weights=parts.counted).astype(np.int64)
    total_ncp, per_column = metrics.ncp(
        per_partition=losses, sizes=parts.counted, suppressed=suppressed, rows_in=rows_in
    )
    after = metrics.risk(sizes=sizes)
    return AnonymizeReport(
        k_requested=k,
        k_achieved=int(sizes.min()),
        l_requested=l_requested,
        l_kind=l_kind,
        l_achieved=l_achieved,
        rows_in=rows_in + canaries,
        rows_out=rows_out + canaries,
        suppressed=suppressed,
        suppression_budget=suppression,
        partitions=parts.count,
        classes=len(sizes),
        class_size_min=int(sizes.min()),
        class_size_max=int(sizes.max()),
        class_size_mean=rows_out / len(sizes),
        class_size_histogram=metrics.size_histogram(sizes=sizes),
        ncp=total_ncp,
        ncp_per_column={e.qi.column: v for e, v in zip(encoded, per_column, strict=True)},
        discernibility=metrics.discernibility(sizes=sizes, suppressed=suppressed, rows_in=rows_in),
        average_class_size_metric=metrics.average_class_size(
            rows_out=rows_out, classes=len(sizes), k=k
        ),
        risk_before=after,
        risk_after=after,
        risk_after_quasi_identifiers=after,
        risk_columns=[],
        non_identifying={},
        canaries=canaries,
        seconds=0.0,
    )


def _check(
    frame: pl.DataFrame,
    qis: Sequence[QuasiIdentifier],
    k: int,
    sensitive: str | None,
    l: int | None,  # noqa: E741
    l_kind: str,
    suppression: float,
    keep: Sequence[Kept],
) -> None:
    """Reject bad arguments before any work; messages name columns, never values."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise Invalid(f"k must be an integer of at least 2, not {k!r}")
    if not 0.0 <= suppression < 1.0:
        raise Invalid(f"suppression budget must be in [0, 1), not {suppression!r}")
    if not qis:
        raise Invalid("at least one quasi-identifier is needed")
    names = [q.column for q in qis]
    used = [*names, *([sensitive] if sensitive is not None else []), *(c.column for c in keep)]
    for name in used:
        if name not in frame.columns:
            raise Invalid(f"unknown column {name!r}")
    repeated = sorted({n for n in used if used.count(n) > 1})
    if repeated:
        raise Invalid(f"column {repeated[0]!r} is named more than once")
    for q in qis:
        if q.kind not in ("numeric", "date", "categorical"):
            raise Invalid(f"column {q.column!r}: unknown kind {q.kind!r}")
        if q.hierarchy is not None and q.kind != "categorical":
            raise Invalid(f"column {q.column!r}: a hierarchy needs kind 'categorical'")
    if l is not None:
        if sensitive is None:
            raise Invalid("l-diversity needs a sensitive column")
        if isinstance(l, bool) or not isinstance(l, int) or l < 2:
            raise Invalid(f"l must be an integer of at least 2, not {l!r}")
        if l_kind not in ("distinct", "entropy"):
            raise Invalid(f"l_kind must be 'distinct' or 'entropy', not {l_kind!r}")
    if frame.height < k:
        raise Invalid(f"{frame.height} rows, fewer than k = {k}")


def _generalise(e: Encoded, parts: Partitions, d: int) -> tuple[pl.Series, Floats]:
    """Per partition: the output label of dimension ``d`` and its NCP share."""
    lo, hi, null = parts.lo[:, d], parts.hi[:, d], e.dim.null_code
    cells = pl.DataFrame(
        {"empty": (lo == null) & (hi == null), "mixed": (lo == null) & (hi != null)}
    )
    if e.qi.hierarchy is not None:
        off = null + 1
        label, loss = _lowest_common(
            e.qi.hierarchy, np.maximum(lo - off, 0), np.maximum(hi - off, 0)
        )
        cells = cells.with_columns(label=label)
    else:
        assert e.values is not None
        cells = cells.with_columns(same=lo == hi, a=e.values.gather(lo).cast(pl.Utf8))
        if e.qi.kind == "categorical":
            wide = pl.lit(STAR)
            loss = (lo != hi).astype(np.float64)
        else:
            b = e.values.gather(hi).cast(pl.Utf8)
            wide = pl.concat_str([pl.lit("["), pl.col("a"), pl.lit(", "), pl.lit(b), pl.lit("]")])
            loss = e.dim.scale[hi] - e.dim.scale[lo]
        cells = cells.with_columns(label=pl.when("same").then("a").otherwise(wide))
    out = cells.select(
        pl.when("empty")
        .then(pl.lit(None, dtype=pl.Utf8))
        .when("mixed")
        .then(pl.lit(STAR))
        .otherwise("label")
        .alias(e.qi.column)
    ).to_series()
    mixed = cells.get_column("mixed").to_numpy()
    empty = cells.get_column("empty").to_numpy()
    return out, np.where(mixed, 1.0, np.where(empty, 0.0, loss))


def _lowest_common(h: Hierarchy, first: Ints, last: Ints) -> tuple[pl.Series, Floats]:
    """Lowest common ancestor of leaf ranges and its NCP: (leaves under it - 1) / (leaves - 1)."""
    levels, labels = h.lowest_common(first, last)
    under = np.ones(len(first), dtype=np.int64)
    for level in np.unique(levels):
        counts = h.leaf_counts(int(level)).to_numpy()
        under = np.where(levels == level, counts[first], under)
    roots = h.level(h.depth - 1).to_numpy()
    split = roots[first] != roots[last]  # several roots: a range across them is all of it
    loss = np.where(split, 1.0, (under - 1) / max(len(h.leaves) - 1, 1))
    star = pl.Series(split)
    labels = pl.select(pl.when(star).then(pl.lit(STAR)).otherwise(labels)).to_series()
    return labels, loss
