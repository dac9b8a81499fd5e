"""Mondrian partitioning on codes: strict disjoint boxes, k and l per partition, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.deidentify.mondrian import (
    Dimension,
    Diversity,
    Partitions,
    group_diversity,
    mondrian,
)
from dealvault.errors import Invalid


def _dim(codes: np.ndarray, n_codes: int | None = None, null_code: int = -1) -> Dimension:
    n = int(codes.max()) + 1 if n_codes is None else n_codes
    scale = np.arange(n, dtype=np.float64) / max(n - 1, 1)
    return Dimension(codes=codes.astype(np.int64), scale=scale, null_code=null_code)


def _random_dims(rng: np.random.Generator, n: int, cards: list[int]) -> list[Dimension]:
    return [_dim(rng.integers(0, c, n), c) for c in cards]


def _assert_disjoint(parts: Partitions) -> None:
    """No two boxes overlap: for every pair some dimension separates them."""
    lo, hi = parts.lo, parts.hi
    for i in range(parts.count):
        overlap = (lo[i] <= hi[i + 1 :]) & (lo[i + 1 :] <= hi[i])  # pairs x dims
        assert not overlap.all(axis=1).any(), f"box {i} overlaps another box"


def _assert_boxes_hold_rows(parts: Partitions, dims: list[Dimension], k: int) -> None:
    labelled = np.flatnonzero(parts.labels >= 0)
    counts = np.bincount(parts.labels[labelled], minlength=parts.count)
    assert (counts == parts.sizes).all()
    assert parts.sizes.min() >= k
    for d, dim in enumerate(dims):
        codes = dim.codes[labelled]
        own = parts.labels[labelled]
        assert (parts.lo[own, d] <= codes).all() and (codes <= parts.hi[own, d]).all()
        # the box is tight: its bounds are codes of its own rows
        assert (np.minimum.reduceat(codes[np.argsort(own)], _starts(parts)) == parts.lo[:, d]).all()


def _starts(parts: Partitions) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(parts.sizes)[:-1]])


@pytest.mark.parametrize("k", [2, 5, 10, 25])
def test_partitions_are_disjoint_boxes_of_at_least_k(k: int) -> None:
    rng = np.random.default_rng(k)
    dims = _random_dims(rng, 3_000, [70, 2, 12, 400])
    parts = mondrian(dimensions=dims, k=k)
    assert (parts.labels >= 0).all()
    _assert_boxes_hold_rows(parts, dims, k)
    _assert_disjoint(parts)
    assert parts.levels >= 2


def test_distinct_values_end_in_partitions_below_2k() -> None:
    """One dimension of distinct values can always be cut, so no final box holds 2k rows."""
    codes = np.random.default_rng(1).permutation(1_000)
    parts = mondrian(dimensions=[_dim(codes)], k=5)
    assert parts.sizes.min() >= 5 and parts.sizes.max() < 10


def test_identical_rows_stay_one_partition() -> None:
    dims = [_dim(np.zeros(50, dtype=np.int64), 1), _dim(np.full(50, 3), 4)]
    parts = mondrian(dimensions=dims, k=2)
    assert parts.count == 1 and parts.sizes.tolist() == [50]


def test_ties_go_to_one_side() -> None:
    """A value held by many rows is never cut across partitions (strict partitioning)."""
    codes = np.array([0] * 3 + [1] * 40 + [2] * 3 + [3] * 10)
    parts = mondrian(dimensions=[_dim(codes)], k=3)
    _assert_disjoint(parts)
    for value in range(4):
        assert len(np.unique(parts.labels[codes == value])) == 1


def test_rows_mask_leaves_rows_out() -> None:
    rng = np.random.default_rng(2)
    dims = _random_dims(rng, 500, [30, 30])
    rows = rng.random(500) > 0.1
    parts = mondrian(dimensions=dims, k=4, rows=rows)
    assert (parts.labels[~rows] == -1).all() and (parts.labels[rows] >= 0).all()
    assert int(parts.sizes.sum()) == int(rows.sum())


def test_null_code_only_mixes_when_too_few() -> None:
    """Null (code 0) is cut off from values as soon as both sides can hold k rows."""
    codes = np.concatenate([np.zeros(20, dtype=np.int64), np.arange(1, 81)])
    parts = mondrian(dimensions=[_dim(codes, 81, null_code=0)], k=5)
    null_boxes = np.unique(parts.labels[:20])
    assert len(null_boxes) == 1
    assert parts.hi[null_boxes[0], 0] == 0  # nothing but nulls in it


@pytest.mark.parametrize("kind", ["distinct", "entropy"])
@pytest.mark.parametrize("l_value", [2, 3])
def test_every_partition_is_l_diverse(kind: str, l_value: int) -> None:
    rng = np.random.default_rng(7)
    dims = _random_dims(rng, 4_000, [70, 2, 50])
    sens = rng.choice(5, 4_000, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    diversity = Diversity(codes=sens, n_values=5, l=l_value, kind=kind)  # type: ignore[arg-type]
    parts = mondrian(dimensions=dims, k=5, diversity=diversity)
    distinct, entropy = group_diversity(
        groups=parts.labels, values=sens, n_groups=parts.count, n_values=5
    )
    if kind == "distinct":
        assert distinct.min() >= l_value
    else:
        assert entropy.min() >= math.log(l_value)
    _assert_disjoint(parts)


def test_diversity_that_cannot_hold_is_refused() -> None:
    dims = [_dim(np.arange(100))]
    sens = np.zeros(100, dtype=np.int64)
    sens[:5] = 1
    with pytest.raises(Invalid, match="cannot be met"):
        mondrian(
            dimensions=dims, k=2, diversity=Diversity(codes=sens, n_values=2, l=2, kind="entropy")
        )


def test_too_few_rows() -> None:
    with pytest.raises(Invalid, match="fewer than k"):
        mondrian(dimensions=[_dim(np.arange(4))], k=5)
    with pytest.raises(Invalid, match="quasi-identifier"):
        mondrian(dimensions=[], k=5)


def test_group_diversity_dense_and_sorted_paths_agree() -> None:
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 40, 2_000)
    values = rng.integers(0, 6, 2_000)
    dense = group_diversity(groups=groups, values=values, n_groups=40, n_values=6)
    # a huge value space forces the sort-based path; the codes themselves are unchanged
    sparse = group_diversity(groups=groups, values=values, n_groups=40, n_values=10**6)
    assert (dense[0] == sparse[0]).all()
    assert np.allclose(dense[1], sparse[1])
    first = values[groups == 0]
    share = np.bincount(first) / len(first)
    share = share[share > 0]
    assert dense[0][0] == len(share)
    assert math.isclose(dense[1][0], float(-(share * np.log(share)).sum()))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(1, 300),
    k=st.integers(2, 8),
    cards=st.lists(st.integers(1, 12), min_size=1, max_size=4),
)
def test_property_boxes(seed: int, n: int, k: int, cards: list[int]) -> None:
    rng = np.random.default_rng(seed)
    dims = _random_dims(rng, n, cards)
    if n < k:
        with pytest.raises(Invalid):
            mondrian(dimensions=dims, k=k)
        return
    parts = mondrian(dimensions=dims, k=k)
    _assert_boxes_hold_rows(parts, dims, k)
    _assert_disjoint(parts)
