"""The suppression audit: an attacker with integer programming over everything an aggregate
releases (cells, margins, sums, the fact that empty cells are left out) recovers no hidden
count, proves none below k_min, and cannot estimate a dominant customer's amount."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealvault.deidentify import aggregate_audit, aggregates
from dealvault.deidentify.aggregates import aggregate
from dealvault.deidentify.interval_audit import Interval, Problem, intervals
from dealvault.deidentify.suppression import Line
from tests.deidentify.attacker import attack

K_MIN = 10


def skewed(n: int, seed: int) -> pl.DataFrame:
    """Invented customers over three skewed dimensions (many small cells when crossed)."""
    rng = np.random.default_rng(seed)
    weights = np.r_[np.full(4, 0.15), np.full(8, 0.05)]
    return pl.DataFrame(
        {
            "subject_id": [f"c{i:05d}" for i in range(n)],
            "region": rng.choice([f"r{i:02d}" for i in range(12)], n, p=weights),
            "band": rng.choice(
                [f"a{i}" for i in range(6)], n, p=[0.3, 0.25, 0.2, 0.15, 0.07, 0.03]
            ),
            "sex": rng.choice(["F", "M"], n),
        }
    )


@pytest.fixture
def without_audit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The release as it was before the audit, which the outside check attacked: the line rule
    alone, and empty cells left out (so a printed suppressed cell holds somebody)."""
    original = aggregate_audit.protect_counts

    def line_rule_only(**kwargs: Any) -> Any:
        return original(**{**kwargs, "audit": False})

    monkeypatch.setattr(aggregate_audit, "protect_counts", line_rule_only)
    monkeypatch.setattr(aggregates, "with_empty_cells", lambda cells, **_: cells)
    yield


def _breaches(found: dict[tuple[str, ...], tuple[float, float]]) -> dict[str, int]:
    return {
        "exact": sum(lo == hi for lo, hi in found.values()),
        "below_k_min": sum(hi < K_MIN for _, hi in found.values()),
        "narrow": sum(hi - lo < K_MIN for lo, hi in found.values()),
    }


def test_the_line_rule_alone_lets_the_attacker_prove_cells_below_k_min(without_audit: None) -> None:
    table = aggregate(skewed(800, 0), by=["region", "band", "sex"], measures=["count"]).table
    found = attack(table, dims=["region", "band", "sex"], lowest=1.0)
    broken = _breaches(found)
    # the attack this audit answers: many hidden cells shown to be small
    assert broken["below_k_min"] > 10 and broken["narrow"] > 20


@pytest.mark.parametrize("seed", [0, 1])
def test_after_the_audit_the_attacker_recovers_nothing(seed: int) -> None:
    dims = ["region", "band", "sex"]
    result = aggregate(skewed(800, seed), by=dims, measures=["count"], k_min=K_MIN)
    table = result.table
    # every combination is printed (empty ones suppressed): a hidden cell may be empty
    assert table.height == 13 * 7 * 3
    assert table.filter(pl.col("suppressed").not_()).get_column("customers").min() >= K_MIN
    found = attack(table, dims=dims, lowest=0.0)
    assert found, "the table should have hidden cells"
    assert _breaches(found) == {"exact": 0, "below_k_min": 0, "narrow": 0}
    audit = result.report.audit
    assert audit["cells_checked"] >= len(found)
    assert audit["min_interval_width"] == "unbounded" or audit["min_interval_width"] >= K_MIN
    assert audit["cells_added"] > 0  # the line rule alone was not enough here
    assert audit["counts_skipped"] is None
    # the audit's own intervals agree with the outside attacker on the printed cells
    assert min(hi - lo for lo, hi in found.values()) >= audit["min_interval_width"] or (
        audit["min_interval_width"] == "unbounded"
    )
    json.dumps(result.report.to_dict())  # the report stays JSON


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(st.integers(min_value=0, max_value=30), min_size=12, max_size=12),
    three=st.booleans(),
)
def test_property_no_hidden_count_is_pinned(cells: list[int], three: bool) -> None:
    rows: list[dict[str, str]] = []
    shape = (3, 2, 2) if three else (4, 3, 1)
    for n, count in enumerate(cells):
        a, rest = divmod(n, shape[1] * shape[2])
        b, c = divmod(rest, shape[2])
        rows += [{"a": f"a{a}", "b": f"b{b}", "c": f"c{c}"}] * count
    if not rows:
        return
    frame = (
        pl.DataFrame(rows)
        .with_row_index("n")
        .with_columns(pl.format("c{}", pl.col("n")).alias("subject_id"))
    )
    dims = ["a", "b", "c"] if three else ["a", "b"]
    table = aggregate(frame, by=dims, measures=["count"], k_min=5).table
    for lo, hi in attack(table, dims=dims, lowest=0.0).values():
        assert hi - lo >= 5 and hi >= 5


def test_empty_cells_left_out_are_part_of_the_model() -> None:
    """A hidden printed cell holds at least one customer (empty ones are not printed): the
    audit counts on the attacker knowing it."""
    # a 2 x 2 table: a = 3 (too small), b = 20, c = 25, d = 40, margins released
    lines = [
        Line(dim=1, total=4, members=(0, 1)),  # row 1: a + b = 23
        Line(dim=1, total=5, members=(2, 3)),  # row 2: c + d = 65
        Line(dim=0, total=6, members=(0, 2)),  # column 1: a + c = 28
        Line(dim=0, total=7, members=(1, 3)),  # column 2: b + d = 60
    ]
    values = [3, 20, 25, 40, 23, 65, 28, 60]
    known = [False] * 4 + [True] * 4
    found = intervals(
        Problem(lines=lines, values=values, known=known, lower=[1.0] * 8, integer=True),
        targets=[0, 1, 2, 3],
    )
    assert found[0] == Interval(lo=1.0, hi=22.0)  # b = 23 - a >= 1
    loose = intervals(
        Problem(lines=lines, values=values, known=known, lower=[0.0] * 8, integer=True),
        targets=[0],
    )
    assert loose[0] == Interval(lo=0.0, hi=23.0)


def test_lines_that_do_not_add_up_still_bound_their_members() -> None:
    # customers in two cells at once: members 3 and 5, total 6 -> hidden member in [1, 6]
    lines = [Line(dim=0, total=2, members=(0, 1))]
    found = intervals(
        Problem(
            lines=lines, values=[3, 5, 6], known=[False, True, True], lower=[1.0] * 3, integer=True
        ),
        targets=[0],
    )
    assert found[0] == Interval(lo=1.0, hi=6.0)


def _dominated_frame() -> pl.DataFrame:
    """Region x gender, every count >= k_min; in (A, F) one customer holds nearly all of the
    amount (10,000 against 14 x 1.00), while no margin is dominated; (B, M) is small, which
    with amounts known to be >= 0 bounds (A, F) from below through the margins."""
    rows: list[tuple[str, str, float]] = [("A", "F", 10_000.0)]
    rows += [("A", "F", 1.0)] * 14 + [("A", "M", 100.0)] * 12
    rows += [("B", "F", 100.0)] * 20 + [("B", "M", 5.0)] * 20
    return pl.DataFrame(
        {
            "subject_id": [f"c{i:03d}" for i in range(len(rows))],
            "region": [r[0] for r in rows],
            "gender": [r[1] for r in rows],
            "amount": [r[2] for r in rows],
        }
    )


def _sum_breaches(table: pl.DataFrame) -> list[tuple[str, ...]]:
    """Cells whose hidden sum the attacker pins closer than the p% rule allows (p = 10)."""
    # the truth of cell (A, F): x1 = 10,000, x2 = 1, rest 13: protection 1,000 - 13 = 987
    total, level = 10_014.0, 0.10 * 10_000 - 13
    shown = table.with_columns(pl.col("sum_amount").is_null().alias("hidden"))
    found = attack(
        shown, dims=["region", "gender"], value="sum_amount", hidden="hidden", integer=False
    )
    lo, hi = found[("A", "F")]
    return [("A", "F")] if lo > total - level or hi < total + level else []


def test_the_line_rule_alone_lets_a_dominant_amount_be_estimated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def line_rule_only(**kwargs: Any) -> tuple[list[bool], int, None, int]:
        return kwargs["hide"](set()), 0, None, 0

    monkeypatch.setattr(aggregate_audit, "protect_sums", line_rule_only)
    table = aggregate(_dominated_frame(), by=["region", "gender"], measures=["sum:amount"]).table
    assert _sum_breaches(table) == [("A", "F")]


def test_a_dominant_customer_amount_cannot_be_estimated_from_released_sums() -> None:
    result = aggregate(
        _dominated_frame(), by=["region", "gender"], measures=["count", "sum:amount"]
    )
    assert _sum_breaches(result.table) == []
    audit = result.report.audit
    ratio = audit["min_sum_protection_ratio"]
    assert audit["sums_checked"] >= 1 and (ratio == "unbounded" or ratio >= 1.0)
    assert audit["sums_added"] > 0  # the line rule alone left it estimable
    counts = result.table.get_column("customers")
    assert counts.null_count() == 0  # the counts themselves are all safe and stay released


def test_noised_counts_skip_the_count_audit_and_say_so() -> None:
    result = aggregate(skewed(300, 3), by=["region", "sex"], measures=["count"], epsilon=1.0)
    assert result.report.audit["counts_skipped"].startswith("counts are noised")
    assert result.report.audit["cells_checked"] == 0


def test_the_solver_prints_nothing_on_standard_output() -> None:
    code = (
        "from dealvault.deidentify.interval_audit import Problem, intervals\n"
        "from dealvault.deidentify.suppression import Line\n"
        "p = Problem(lines=[Line(dim=0, total=2, members=(0, 1))], values=[3, 20, 23],"
        " known=[False, False, True], lower=[1.0] * 3, integer=True)\n"
        "print(intervals(p, targets=[0])[0].hi)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "22.0"
    assert math.isfinite(float(out.stdout))


def test_top_values_are_audited_when_few_and_the_report_says_when_not() -> None:
    frame = skewed(600, 4).with_columns(
        pl.Series("product", [f"p{i % 7}" for i in range(600)]),
        pl.Series("code", [f"x{i % 1500:04d}" for i in range(600)]),
    )
    small = aggregate(frame, by=["region"], measures=["count", "top:product:3"])
    assert small.report.audit["top_values_audited"] is True
    many = aggregate(frame, by=["region", "sex"], measures=["count", "top:code:3"])
    assert many.report.audit["top_values_audited"] is False  # 600 codes x 39 groups: too many
    plain = aggregate(frame, by=["region"], measures=["count"])
    assert plain.report.audit["top_values_audited"] is True


def test_a_table_with_too_many_combinations_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from dealvault.deidentify import grid
    from dealvault.errors import Invalid

    monkeypatch.setattr(grid, "MAX_CELLS", 100)
    with pytest.raises(Invalid, match=r"273 cells .* group by fewer or coarser columns"):
        aggregate(skewed(300, 5), by=["region", "band", "sex"], measures=["count"])


def test_an_audit_out_of_time_refuses_the_table_rather_than_release_it() -> None:
    from dealvault.deidentify.interval_audit import AuditTooLarge
    from dealvault.deidentify.protection import protect_counts

    keys = [("a", "x"), ("a", "(all)"), ("b", "x"), ("b", "(all)"), ("(all)", "x"),
            ("(all)", "(all)")]  # fmt: skip
    with pytest.raises(AuditTooLarge, match="did not finish in time"):
        protect_counts(
            keys=keys,
            counts=[3, 3, 40, 40, 43, 43],
            k_min=10,
            listed=None,
            printed=[True] * 6,
            remainder_dims=[],
            seconds=-1.0,
        )
