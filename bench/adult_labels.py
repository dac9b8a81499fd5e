"""Released labels of an Adult release checked against each row's true values, and their NCP.

One NCP definition for both tools, computed from the labels alone: per row and
quasi-identifier, the share of the domain the label covers, averaged over rows (a suppressed
row counts 1) and then over the quasi-identifiers, as ``AnonymizeReport.ncp`` does.

* numeric (``age``): (hi - lo) / (max - min of the column);
* a hierarchy label (ours): (leaves under the label - 1) / (leaves - 1), ``*`` = 1;
* a value set (anonypy releases ``"a,b,c"``): (values in the set - 1) / (leaves - 1), with the
  same domain (the hierarchy's leaves), so a set of values scattered over the tree costs only
  its size, where a hierarchy label costs the whole subtree that holds them.

Each tool's release is also measured the other way, so the two can be compared on one
footing (``ncp_other``): ours as value sets (each class's distinct values per column, as if
released as a set: (values - 1) / (leaves - 1)), anonypy's sets lifted to the hierarchy (the
lowest common ancestor of the set's values, as if released as a hierarchy label).

A label is *true* when it contains the row's own value: the value lies in the range, is in
the set, or has the label as an ancestor (or itself) in the hierarchy. Every label that is
not true is counted (and costs 1 in NCP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from dealvault.deidentify.hierarchy import Hierarchy

#: Numeric labels: ours ``[lo, hi]`` or a single value; anonypy ``lo-hi`` or a single value.
OURS_RANGE = r"^\[(-?[0-9.]+), (-?[0-9.]+)\]$"
ANONYPY_RANGE = r"^(-?[0-9.]+)-(-?[0-9.]+)$"


@dataclass(frozen=True)
class LabelFigures:
    """NCP from the labels (overall and per column) and how many labels were not true."""

    ncp: float
    ncp_per_column: dict[str, float]
    ncp_other: float  # ours as value sets; anonypy's sets lifted to the hierarchy
    violations: int
    violations_per_column: dict[str, int]


def ancestors(*, hierarchy: Hierarchy) -> pl.DataFrame:
    """Every (leaf, label it may be released as) pair with the label's NCP: the leaf's
    ancestors at every level of the file, and ``*``."""
    n = len(hierarchy.leaves)
    leaves = hierarchy.leaves
    frames = [
        pl.DataFrame(
            {
                "leaf": leaves,
                "label": hierarchy.level(level),
                "under": hierarchy.leaf_counts(level),
            }
        )
        for level in range(hierarchy.depth)
    ]
    frames.append(pl.DataFrame({"leaf": leaves, "label": ["*"] * n, "under": [n] * n}))
    pairs = pl.concat([f.cast({"under": pl.Int64}) for f in frames])
    return (
        pairs.sort("under")
        .unique(["leaf", "label"], keep="first", maintain_order=True)
        .select("leaf", "label", loss=(pl.col("under") - 1) / max(n - 1, 1))
    )


def numeric_losses(
    *, values: pl.Series, labels: pl.Series, pattern: str, span: float
) -> tuple[pl.Series, pl.Series]:
    """Per row: the range label's NCP and whether it holds the value (``pattern`` captures lo
    and hi; a label that is a single number is that number)."""
    frame = pl.DataFrame({"v": values.cast(pl.Float64), "label": labels.cast(pl.Utf8)})
    single = pl.col("label").cast(pl.Float64, strict=False)
    bounds = frame.with_columns(
        lo=pl.coalesce(pl.col("label").str.extract(pattern, 1).cast(pl.Float64), single),
        hi=pl.coalesce(pl.col("label").str.extract(pattern, 2).cast(pl.Float64), single),
    )
    true = ((pl.col("lo") <= pl.col("v")) & (pl.col("v") <= pl.col("hi"))).fill_null(False)
    loss = (pl.col("hi") - pl.col("lo")) / (span if span > 0 else 1.0)
    out = bounds.select(ok=true, loss=pl.when(true).then(loss).otherwise(1.0))
    return out.get_column("loss"), out.get_column("ok")


def hierarchy_losses(
    *, values: pl.Series, labels: pl.Series, hierarchy: Hierarchy
) -> tuple[pl.Series, pl.Series]:
    """Per row: the hierarchy label's NCP and whether it is the value or one of its ancestors."""
    rows = pl.DataFrame({"leaf": values.cast(pl.Utf8), "label": labels.cast(pl.Utf8)})
    joined = rows.join(
        ancestors(hierarchy=hierarchy), on=["leaf", "label"], how="left", maintain_order="left"
    )
    ok = joined.get_column("loss").is_not_null()
    return joined.get_column("loss").fill_null(1.0), ok


def set_losses(*, values: pl.Series, labels: pl.Series, leaves: int) -> tuple[pl.Series, pl.Series]:
    """Per row: the value set's NCP and whether it holds the value (sets are ``,``-joined)."""
    frame = pl.DataFrame({"v": values.cast(pl.Utf8), "set": labels.cast(pl.Utf8).str.split(",")})
    out = frame.select(
        ok=pl.col("set").list.contains(pl.col("v")).fill_null(False),
        size=pl.col("set").list.len(),
    )
    loss = (out.get_column("size") - 1) / max(leaves - 1, 1)
    ok = out.get_column("ok")
    return pl.select(pl.when(ok).then(loss).otherwise(1.0)).to_series(), ok


def lifted_losses(*, labels: pl.Series, hierarchy: Hierarchy) -> pl.Series:
    """Per row: the NCP of the lowest common ancestor of the row's value set (``,``-joined):
    the cheapest label every member of the set has as an ancestor (``*`` at worst)."""
    sets = pl.DataFrame({"set": labels.cast(pl.Utf8).unique()})
    members = sets.with_columns(member=pl.col("set").str.split(",")).with_columns(
        size=pl.col("member").list.len()
    )
    common = (
        members.explode("member")
        .join(ancestors(hierarchy=hierarchy), left_on="member", right_on="leaf")
        .group_by("set", "label")
        .agg(n=pl.len(), size=pl.col("size").first(), loss=pl.col("loss").first())
        .filter(pl.col("n") == pl.col("size"))
        .group_by("set")
        .agg(pl.col("loss").min())
    )
    rows = labels.cast(pl.Utf8).to_frame("set")
    joined = rows.join(common, on="set", how="left", maintain_order="left")
    return joined.get_column("loss").fill_null(1.0)


def class_set_losses(*, values: pl.Series, classes: pl.Series, leaves: int) -> pl.Series:
    """Per row: (distinct values of its class in this column - 1) / (leaves - 1)."""
    frame = pl.DataFrame({"cls": classes, "v": values})
    distinct = frame.select(pl.col("v").n_unique().over("cls")).to_series()
    return (distinct - 1) / max(leaves - 1, 1)


def figures(
    *,
    original: pl.DataFrame,
    released: pl.DataFrame,
    hierarchies: Mapping[str, Hierarchy],
    numeric: Mapping[str, float],
    style: str,
    rows_in: int,
) -> LabelFigures:
    """Label NCP and violations of ``released`` (labels, one row per released row) against
    ``original`` (the same rows' true values, same order). ``numeric``: column -> domain width;
    ``style``: ``"ours"`` (ranges ``[lo, hi]``, hierarchy labels) or ``"anonypy"`` (ranges
    ``lo-hi``, value sets); ``rows_in`` - released rows were suppressed (NCP 1 each)."""
    suppressed = rows_in - released.height
    ncp: dict[str, float] = {}
    other: dict[str, float] = {}
    bad: dict[str, int] = {}
    classes = released.select(pl.concat_str(pl.all(), separator="\x1f")).to_series()
    for column in released.columns:
        values, labels = original.get_column(column), released.get_column(column)
        if column in numeric:
            pattern = OURS_RANGE if style == "ours" else ANONYPY_RANGE
            loss, ok = numeric_losses(
                values=values, labels=labels, pattern=pattern, span=numeric[column]
            )
            alt = loss
        elif style == "ours":
            tree = hierarchies[column]
            loss, ok = hierarchy_losses(values=values, labels=labels, hierarchy=tree)
            alt = class_set_losses(values=values, classes=classes, leaves=len(tree.leaves))
        else:
            tree = hierarchies[column]
            loss, ok = set_losses(values=values, labels=labels, leaves=len(tree.leaves))
            alt = lifted_losses(labels=labels, hierarchy=tree)
        ncp[column] = (float(loss.sum()) + suppressed) / rows_in
        other[column] = (float(alt.sum()) + suppressed) / rows_in
        bad[column] = int((~ok).sum())
    return LabelFigures(
        ncp=sum(ncp.values()) / len(ncp),
        ncp_per_column=ncp,
        ncp_other=sum(other.values()) / len(other),
        violations=sum(bad.values()),
        violations_per_column=bad,
    )
