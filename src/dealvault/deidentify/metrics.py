"""Information loss (NCP, discernibility, average class size) and re-identification risk."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from dealvault.deidentify.mondrian import Floats, Ints, group_diversity

#: Class-size buckets of the report's histogram (1-2-5 series); the last one is open.
_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000)


@dataclass(frozen=True)
class RiskFigures:
    """Prosecutor re-identification risk of a release, from its equivalence-class sizes.

    ``prosecutor_max`` = 1 / smallest class; ``prosecutor_avg`` = classes / rows (the mean of
    1 / class size over records); ``unique_share`` = share of rows alone in their class.
    """

    prosecutor_max: float
    prosecutor_avg: float
    unique_share: float


def risk(*, sizes: Ints) -> RiskFigures:
    """Risk figures for equivalence classes of the given sizes (zeros for no rows)."""
    rows = int(sizes.sum())
    if rows == 0:
        return RiskFigures(prosecutor_max=0.0, prosecutor_avg=0.0, unique_share=0.0)
    return RiskFigures(
        prosecutor_max=1.0 / int(sizes.min()),
        prosecutor_avg=len(sizes) / rows,
        unique_share=int(sizes[sizes == 1].sum()) / rows,
    )


def combination_sizes(*, codes: Sequence[Ints], cards: Sequence[int]) -> Ints:
    """Sizes of the groups of rows that share every code (one array per column, with codes
    ``0..card-1``): the codes are packed into one 64-bit key (re-numbered when the product of
    cardinalities would overflow), then counted with one sort."""
    key = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    span = 1
    for column, card in zip(codes, cards, strict=True):
        if span * card >= 2**62:
            _, key = np.unique(key, return_inverse=True)
            span = int(key.max()) + 1 if len(key) else 1
        key = key * card + column
        span *= card
    _, counts = np.unique(key, return_counts=True)
    return counts.astype(np.int64)


def merge_classes(*, labels: Sequence[pl.Series]) -> tuple[Ints, int]:
    """Output equivalence class of each partition: partitions whose generalised labels agree
    on every column (nulls equal) form one class. Returns the class per partition and the
    number of classes."""
    frame = pl.DataFrame([s.alias(f"c{i}") for i, s in enumerate(labels)])
    grouped = (
        frame.with_row_index("__part")
        .group_by(frame.columns)
        .agg(pl.col("__part"))
        .with_row_index("__class")
        .select("__class", "__part")
        .explode("__part")
    )
    out = np.empty(frame.height, dtype=np.int64)
    out[grouped.get_column("__part").to_numpy()] = grouped.get_column("__class").to_numpy()
    return out, int(out.max()) + 1 if len(out) else 0


def size_histogram(*, sizes: Ints) -> dict[str, int]:
    """Class counts per size bucket, e.g. ``{"10-19": 40, "20-49": 3}`` (empty buckets left
    out); the last bucket is open (``"10000+"``)."""
    edges = np.asarray(_BUCKETS, dtype=np.int64)
    counts = np.bincount(np.searchsorted(edges, sizes, side="right") - 1, minlength=len(edges))
    out: dict[str, int] = {}
    for i, low in enumerate(_BUCKETS):
        if not counts[i]:
            continue
        if i == len(_BUCKETS) - 1:
            name = f"{low}+"
        else:
            high = _BUCKETS[i + 1] - 1
            name = str(low) if high == low else f"{low}-{high}"
        out[name] = int(counts[i])
    return out


def ncp(
    *, per_partition: Floats, sizes: Ints, suppressed: int, rows_in: int
) -> tuple[float, list[float]]:
    """Normalised certainty penalty: mean over every input row and quasi-identifier of the
    generalised cell's share of its domain; ``per_partition`` is partitions x columns; a
    suppressed row counts 1 in every column. Returns the overall mean and one per column."""
    if rows_in == 0:
        return 0.0, [0.0] * per_partition.shape[1]
    per_column = (sizes.astype(np.float64) @ per_partition + suppressed) / rows_in
    columns = [float(v) for v in per_column]
    return float(np.mean(per_column)) if columns else 0.0, columns


def discernibility(*, sizes: Ints, suppressed: int, rows_in: int) -> int:
    """Discernibility metric: sum of squared class sizes, plus rows_in per suppressed row."""
    return int(np.sum(sizes.astype(np.int64) ** 2)) + suppressed * rows_in


def average_class_size(*, rows_out: int, classes: int, k: int) -> float:
    """Normalised average equivalence-class size C_avg = (rows / classes) / k (1 is ideal)."""
    return (rows_out / classes) / k if classes else 0.0


def l_achieved(
    *, classes: Ints, values: Ints, n_classes: int, n_values: int, kind: str
) -> float | None:
    """Smallest l over the classes: distinct sensitive values, or exp(entropy) for entropy
    l-diversity (rows given by their class and sensitive-value code)."""
    if not len(classes):
        return None
    distinct, entropy = group_diversity(
        groups=classes, values=values, n_groups=n_classes, n_values=n_values
    )
    if kind == "entropy":
        return float(math.exp(float(entropy.min())))
    return float(distinct.min())
