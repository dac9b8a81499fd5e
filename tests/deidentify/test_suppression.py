"""Tests for primary and complementary cell suppression on hand-made and random cubes."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.deidentify import suppression
from dealvault.deidentify.suppression import (
    ALL,
    COMPLEMENTARY,
    MISSING,
    PRIMARY,
    build_lines,
    exposed_lines,
    margin_sets,
    release_order,
    suppress,
    suppress_table,
)
from dealvault.errors import DealvaultError, Invalid


def cube_of(base: dict[tuple[str, ...], int]) -> tuple[list[tuple[str, ...]], list[int]]:
    """All cells of the cube over ``base`` (every subset of dimensions replaced by ALL)."""
    dims = len(next(iter(base)))
    totals: dict[tuple[str, ...], int] = {}
    for key, count in base.items():
        for mask in itertools.product([False, True], repeat=dims):
            cell = tuple(ALL if m else v for m, v in zip(mask, key, strict=True))
            totals[cell] = totals.get(cell, 0) + count
    keys = sorted(totals, key=lambda k: tuple((v == ALL, v) for v in k))
    return keys, [totals[k] for k in keys]


def reasons_by_key(
    keys: list[tuple[str, ...]], reasons: tuple[str | None, ...]
) -> dict[tuple[str, ...], str]:
    return {k: r for k, r in zip(keys, reasons, strict=True) if r is not None}


def test_one_dimension_one_small_cell_gets_one_complementary_cell() -> None:
    keys, counts = cube_of({("North",): 3, ("South",): 50, ("East",): 40})
    outcome = suppress(keys=keys, counts=counts, k_min=10)
    assert reasons_by_key(keys, outcome.reasons) == {
        ("North",): PRIMARY,
        ("East",): COMPLEMENTARY,  # the smallest other cell of the line
    }
    assert (outcome.primary, outcome.complementary) == (1, 1)
    assert exposed_lines(keys=keys, suppressed=outcome.suppressed) == []


def test_region_by_gender_gets_exactly_the_expected_complementary_cells() -> None:
    keys, counts = cube_of(
        {
            ("North", "F"): 30,
            ("North", "M"): 4,
            ("South", "F"): 25,
            ("South", "M"): 20,
            ("East", "F"): 12,
            ("East", "M"): 15,
        }
    )
    for prefer_closing in (True, False):
        outcome = suppress(keys=keys, counts=counts, k_min=10, prefer_closing=prefer_closing)
        # row North needs one more: (North, F); column M: its smallest other cell (East, M);
        # then row East has one: (East, F). Margins all stay released.
        assert reasons_by_key(keys, outcome.reasons) == {
            ("North", "M"): PRIMARY,
            ("North", "F"): COMPLEMENTARY,
            ("East", "M"): COMPLEMENTARY,
            ("East", "F"): COMPLEMENTARY,
        }
        assert exposed_lines(keys=keys, suppressed=outcome.suppressed) == []


def test_small_margin_is_suppressed_like_any_cell() -> None:
    keys, counts = cube_of({("A", "x"): 4, ("A", "y"): 3, ("B", "x"): 40, ("B", "y"): 30})
    outcome = suppress(keys=keys, counts=counts, k_min=10)
    found = reasons_by_key(keys, outcome.reasons)
    assert found[("A", ALL)] == PRIMARY  # 7 customers in the margin
    assert found[("A", "x")] == found[("A", "y")] == PRIMARY
    released = [c for c, r in zip(counts, outcome.reasons, strict=True) if r is None]
    assert all(c >= 10 for c in released)
    assert exposed_lines(keys=keys, suppressed=outcome.suppressed) == []


def test_line_with_no_member_left_hides_its_total() -> None:
    # Non-additive line (record-level grouping): one member, suppressed, total larger.
    keys = [("a",), (ALL,)]
    outcome = suppress(keys=keys, counts=[3, 12], k_min=10)
    assert outcome.reasons == (PRIMARY, COMPLEMENTARY)
    assert outcome.non_additive_lines == 1


def test_remainder_rule_folds_the_smallest_listed_value_into_other() -> None:
    # One group, values a..d, total 72: a, b listed, c (8) unlisted-small, nothing else.
    keys = [("g", "a"), ("g", "b"), ("g", "c"), ("g", ALL)]
    counts = [40, 24, 8, 72]
    outcome = suppress(
        keys=keys, counts=counts, k_min=10, listed=[True, True, False, True], remainder_dims=[1]
    )
    # c is primary and alone in its line -> one more; "(other)" must then reach k_min.
    assert outcome.reasons == (None, COMPLEMENTARY, PRIMARY, None)
    assert exposed_lines(keys=keys, suppressed=outcome.suppressed) == []


def test_unlisted_cells_are_preferred_as_complements() -> None:
    keys = [("g", "a"), ("g", "b"), ("g", "c"), ("g", "d"), ("g", ALL)]
    counts = [50, 30, 12, 3, 95]
    outcome = suppress(
        keys=keys,
        counts=counts,
        k_min=10,
        listed=[True, True, False, False, True],
        remainder_dims=[1],
    )
    assert outcome.reasons == (None, None, COMPLEMENTARY, PRIMARY, None)  # 30 stays listed


def test_three_dimensions_terminate_and_leave_no_exposed_line() -> None:
    base = {
        (a, b, c): (a_i * 7 + b_i * 3 + c_i * 5) % 23
        for (a_i, a), (b_i, b), (c_i, c) in itertools.product(
            enumerate("pqrst"), enumerate("uvwx"), enumerate("yz")
        )
    }
    keys, counts = cube_of({k: v for k, v in base.items() if v > 0})
    outcome = suppress(keys=keys, counts=counts, k_min=10)
    assert outcome.steps == outcome.complementary <= len(keys)
    assert outcome.primary > 0
    assert exposed_lines(keys=keys, suppressed=outcome.suppressed) == []


@settings(max_examples=150, deadline=None)
@given(
    dims=st.integers(min_value=1, max_value=3),
    data=st.data(),
    k_min=st.integers(min_value=1, max_value=15),
)
def test_random_cubes_never_leave_one_suppressed_entry_in_a_line(
    dims: int, data: st.DataObject, k_min: int
) -> None:
    sizes = [data.draw(st.integers(min_value=1, max_value=4)) for _ in range(dims)]
    base = {}
    for key in itertools.product(*[[f"v{i}" for i in range(n)] for n in sizes]):
        count = data.draw(st.integers(min_value=0, max_value=30))
        if count:
            base[key] = count
    if not base:
        return
    keys, counts = cube_of(base)
    outcome = suppress(keys=keys, counts=counts, k_min=k_min)
    assert exposed_lines(keys=keys, suppressed=outcome.suppressed) == []
    for count, reason in zip(counts, outcome.reasons, strict=True):
        assert reason is not None or count >= k_min
        assert (reason == PRIMARY) == (0 < count < k_min)


def test_build_lines_needs_the_total() -> None:
    lines = build_lines(keys=[("a", "x"), ("a", "y"), ("a", ALL)])
    assert [(line.dim, line.total, line.members) for line in lines] == [(1, 2, (0, 1))]


def test_bad_input_is_invalid() -> None:
    with pytest.raises(Invalid, match="k_min"):
        suppress(keys=[("a",)], counts=[1], k_min=0)
    with pytest.raises(Invalid, match="same coordinates"):
        suppress(keys=[("a",), ("a",)], counts=[1, 2], k_min=2)
    with pytest.raises(Invalid, match="same length"):
        suppress(keys=[("a",)], counts=[1, 2], k_min=2)


def test_exposed_lines_finds_a_recoverable_cell() -> None:
    keys, _ = cube_of({("a",): 3, ("b",): 30})
    assert exposed_lines(keys=keys, suppressed=[True, False, False]) == [(0, 2)]
    assert exposed_lines(keys=keys, suppressed=[True, True, False]) == []
    frame = pl.DataFrame({"region": [k[0] for k in keys]})
    assert exposed_lines(keys=frame, suppressed=[False, True, False]) == [(0, 2)]


def test_a_broken_fix_point_is_caught_before_release(monkeypatch: pytest.MonkeyPatch) -> None:
    # A bug that "hides" an already hidden cell: the line counters say 2, the truth is 1.
    monkeypatch.setattr(suppression, "_smallest", lambda members, *args, **kwargs: members[0])
    keys, counts = cube_of({("a",): 3, ("b",): 30, ("c",): 40})
    with pytest.raises(DealvaultError, match="recoverable"):
        suppress(keys=keys, counts=counts, k_min=10)


def test_suppress_table_adds_the_flag_and_keeps_the_reasons_out_of_the_table() -> None:
    keys, counts = cube_of({("North",): 3, ("South",): 50, ("East",): 40})
    table = pl.DataFrame({"region": [k[0] for k in keys], "customers": counts})
    out, outcome = suppress_table(table, dims=["region"], k_min=10)
    assert out.columns == ["region", "customers", "suppressed"]
    assert sorted(r for r in outcome.reasons if r) == ["complementary", "primary"]
    assert out.filter(pl.col("suppressed")).get_column("region").sort().to_list() == [
        "East",
        "North",
    ]
    assert outcome.complementary == 1
    with pytest.raises(Invalid, match="no column 'gender'"):
        suppress_table(table, dims=["gender"], k_min=10)


def test_margin_sets_and_release_order() -> None:
    assert margin_sets(["a", "b"], totals=True) == [("a", "b"), ("a",), ("b",), ()]
    assert margin_sets(["a", "b"], totals=False) == [("a", "b")]
    order = release_order([ALL, "b", MISSING, "[10, 20)", "[2, 4)"], bins={"[10, 20)": 10.0})
    assert order == ["[2, 4)", "b", "[10, 20)", MISSING, ALL]
