"""Tests for safe aggregates: measures, margins, suppression, top-N and Laplace noise."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.deidentify.aggregates import OTHER, aggregate, discrete_laplace_noise
from dealvault.deidentify.measures import Measure, parse_measure
from dealvault.deidentify.suppression import ALL, COMPLEMENTARY, MISSING, PRIMARY, exposed_lines
from dealvault.errors import Invalid

REGION_GENDER = {
    ("North", "F"): 30,
    ("North", "M"): 4,
    ("South", "F"): 25,
    ("South", "M"): 20,
    ("East", "F"): 12,
    ("East", "M"): 15,
}


def customers(
    cells: dict[tuple[str, str], int], *, names: tuple[str, str] = ("region", "gender")
) -> pl.DataFrame:
    """One invented customer per row; amount = "100.00" + 1 per customer number."""
    rows: list[dict[str, Any]] = []
    for (first, second), count in cells.items():
        for _ in range(count):
            number = len(rows)
            rows.append(
                {
                    "subject_id": f"c{number:05d}",
                    "amount": f"{100 + number}.00",
                    "age": 18 + number % 60,
                    "product": ["tea", "coffee", "juice", "cocoa"][number % 4],
                }
                | {names[0]: first, names[1]: second}
            )
    return pl.DataFrame(rows)


def row(table: pl.DataFrame, **where: str) -> dict[str, Any]:
    found = table.filter(pl.all_horizontal([pl.col(k) == v for k, v in where.items()]))
    assert found.height == 1, where
    return found.row(0, named=True)


def assert_safe(table: pl.DataFrame, dims: list[str], k_min: int) -> None:
    """No released count below k_min; no line with exactly one suppressed entry."""
    released = table.filter(~pl.col("suppressed"))
    assert (released.get_column("customers") >= k_min).all()
    assert table.filter(pl.col("suppressed")).get_column("customers").null_count() == (
        table.get_column("suppressed").sum()
    )
    keys = table.select(dims).rows()
    assert exposed_lines(keys=keys, suppressed=table.get_column("suppressed").to_list()) == []


# --- measures and their CLI syntax ---------------------------------------------------------


def test_parse_measure_syntax() -> None:
    assert parse_measure("count") == Measure(kind="count")
    assert parse_measure("sum:amount") == Measure(kind="sum", column="amount")
    assert parse_measure("mean:amount") == Measure(kind="mean", column="amount")
    assert parse_measure("dist:age:10") == Measure(kind="distribution", column="age", width=10)
    assert parse_measure("dist:age:0,18,30,50,70").bins == (0.0, 18.0, 30.0, 50.0, 70.0)
    assert parse_measure("dist:gender") == Measure(kind="distribution", column="gender")
    assert parse_measure("top:favourite_product:5") == Measure(
        kind="top", column="favourite_product", n=5
    )
    assert parse_measure("top:product").n == 10
    for text in ("count", "sum:amount", "dist:age:10", "dist:age:0,18,30", "top:product:5"):
        assert parse_measure(text).label == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("median:amount", "unknown kind"),
        ("count:amount", "count takes no column"),
        ("sum", "a column is missing"),
        ("sum:", "a column is missing"),
        ("sum:amount:2", "too many"),
        ("dist:age:ten", "width or comma-separated edges"),
        ("dist:age:0", "bad bin width"),
        ("dist:age:30,18", "edges must increase"),
        ("top:product:0", "N must be"),
        ("top:product:x", "N must be a positive whole number"),
        ("top:a:b:c", "too many"),
    ],
)
def test_parse_measure_rejects_bad_syntax(text: str, why: str) -> None:
    with pytest.raises(Invalid, match="bad measure") as caught:
        parse_measure(text)
    assert why in str(caught.value)


def test_measure_checks_its_fields() -> None:
    with pytest.raises(Invalid, match="needs a column"):
        Measure(kind="sum")
    with pytest.raises(Invalid, match="not both"):
        Measure(kind="distribution", column="age", bins=(0, 10), width=5)
    with pytest.raises(Invalid, match="only"):
        Measure(kind="sum", column="amount", width=5)


# --- counts, sums, means and margins -------------------------------------------------------


def test_region_by_gender_released_with_expected_suppression() -> None:
    frame = customers(REGION_GENDER)
    result = aggregate(
        frame, by=["region", "gender"], measures=["count", "sum:amount", "mean:amount"]
    )
    table = result.table
    assert table.columns == [
        "region",
        "gender",
        "customers",
        "count",
        "sum_amount",
        "mean_amount",
        "suppressed",
    ]  # and no reason per cell: which cells are below k_min is never released
    reasons = {
        (r["region"], r["gender"]): r["why"]
        for r in table.with_columns(result.why).filter(pl.col("suppressed")).iter_rows(named=True)
    }
    assert reasons == {
        ("North", "M"): PRIMARY,
        ("North", "F"): COMPLEMENTARY,
        ("East", "F"): COMPLEMENTARY,
        ("East", "M"): COMPLEMENTARY,
    }
    hidden = row(table, region="North", gender="F")
    assert hidden["customers"] is hidden["sum_amount"] is hidden["mean_amount"] is None
    assert row(table, region="North", gender=ALL)["customers"] == 34
    grand = row(table, region=ALL, gender=ALL)
    assert grand["customers"] == grand["count"] == 106
    amounts = [100.0 + i for i in range(106)]
    assert grand["sum_amount"] == pytest.approx(sum(amounts))
    assert grand["mean_amount"] == pytest.approx(sum(amounts) / 106)
    south_f = row(table, region="South", gender="F")
    assert south_f["sum_amount"] == pytest.approx(sum(amounts[34:59]))
    assert_safe(table, ["region", "gender"], 10)
    report = result.report
    assert (report.cells, report.suppressed) == (12, 4)
    assert "primary" not in json.dumps(report.to_dict())
    assert report.rows_in == 106 and report.additive and report.epsilon is None
    json.dumps(report.to_dict())


def test_one_dimension_one_small_cell() -> None:
    frame = customers({("North", "x"): 3, ("South", "x"): 50, ("East", "x"): 40})
    result = aggregate(frame, by=["region"], measures=["count"])
    table = result.table
    assert table.get_column("region").to_list() == ["East", "North", "South", ALL]
    assert result.why.to_list() == [COMPLEMENTARY, PRIMARY, None, None]
    assert_safe(table, ["region"], 10)


def test_order_level_rows_count_distinct_customers() -> None:
    frame = customers({("North", "F"): 12, ("South", "F"): 11})
    orders = pl.concat([frame, frame, frame.head(5)])  # 2-3 orders per customer
    result = aggregate(orders, by=["region"], measures=["count", "sum:amount"])
    north = row(result.table, region="North")
    assert (north["customers"], north["count"]) == (12, 29)
    assert result.report.additive


def test_record_level_grouping_is_flagged_non_additive() -> None:
    frame = customers({("North", "F"): 12, ("South", "F"): 11})
    moved = frame.head(4).with_columns(pl.lit("South").alias("region"))  # same customers
    result = aggregate(pl.concat([frame, moved]), by=["region"], measures=["count"])
    assert row(result.table, region=ALL)["customers"] == 23
    assert row(result.table, region="South")["customers"] == 15
    assert not result.report.additive and result.report.non_additive_lines == 1
    assert any("several cells" in note for note in result.report.notes)


def test_totals_false_has_no_margins_and_only_primary_suppression() -> None:
    result = aggregate(
        customers(REGION_GENDER), by=["region", "gender"], measures=["count"], totals=False
    )
    assert result.table.height == 6
    assert ALL not in result.table.get_column("region").to_list()
    assert result.why.to_list().count(PRIMARY) == 1
    assert COMPLEMENTARY not in result.why.to_list() and result.report.suppressed == 1
    assert result.report.rows_in is None  # would give the suppressed cell away


def test_missing_group_values_form_their_own_cell() -> None:
    frame = customers({("North", "F"): 12, ("South", "F"): 11}).with_columns(
        pl.when(pl.col("subject_id") < "c00003")
        .then(None)
        .otherwise(pl.col("region"))
        .alias("region")
    )
    result = aggregate(frame, by=["region"], measures=["count"])
    table = result.table
    assert table.get_column("region").to_list() == ["North", "South", MISSING, ALL]
    assert result.why.to_list()[2] == PRIMARY and row(table, region=MISSING)["suppressed"]


def test_three_dimensions_terminate_and_are_safe() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    frame = pl.DataFrame(
        {
            "subject_id": np.arange(n),
            "a": rng.choice(["p", "q", "r", "s"], n, p=[0.5, 0.3, 0.15, 0.05]),
            "b": rng.choice(["u", "v", "w"], n, p=[0.6, 0.3, 0.1]),
            "c": rng.choice(["x", "y", "z", "t"], n, p=[0.4, 0.4, 0.15, 0.05]),
        }
    )
    result = aggregate(frame, by=["a", "b", "c"], measures=["count"], k_min=10)
    assert result.why.to_list().count(PRIMARY) > 0
    assert result.why.to_list().count(COMPLEMENTARY) > 0
    assert_safe(result.table, ["a", "b", "c"], 10)


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.sampled_from("ABCD"), st.sampled_from("xyz"), st.integers(0, 15)),
        min_size=1,
        max_size=12,
    ),
    k_min=st.integers(min_value=1, max_value=12),
)
def test_random_tables_release_nothing_recoverable(
    data: list[tuple[str, str, int]], k_min: int
) -> None:
    cells: dict[tuple[str, str], int] = {}
    for a, b, count in data:
        cells[(a, b)] = count
    frame = customers({k: v for k, v in cells.items() if v})
    if frame.height == 0:
        return
    result = aggregate(frame, by=["region", "gender"], measures=["count"], k_min=k_min)
    assert_safe(result.table, ["region", "gender"], k_min)


# --- distributions -------------------------------------------------------------------------


def test_distribution_by_width_and_edges_is_another_dimension() -> None:
    frame = customers(REGION_GENDER)
    by_width = aggregate(frame, by=["region"], measures=["dist:age:20"]).table
    assert by_width.columns == ["region", "age", "customers", "suppressed"]
    labels = by_width.filter(pl.col("region") == ALL).get_column("age").to_list()
    assert labels == ["[0, 20)", "[20, 40)", "[40, 60)", "[60, 80)", ALL]
    assert_safe(by_width, ["region", "age"], 10)

    by_edges = aggregate(frame, by=["region"], measures=["dist:age:30,50"]).table
    labels = by_edges.filter(pl.col("region") == ALL).get_column("age").to_list()
    assert labels == ["< 30", "[30, 50)", ">= 50", ALL]
    young = sum(1 for i in range(106) if 18 + i % 60 < 30)
    assert row(by_edges, region=ALL, age="< 30")["customers"] == young
    assert_safe(by_edges, ["region", "age"], 10)


def test_categorical_distribution_with_sums_per_value() -> None:
    frame = customers(REGION_GENDER)
    table = aggregate(frame, by=["region"], measures=["dist:gender", "sum:amount"]).table
    assert row(table, region=ALL, gender="F")["customers"] == 67
    assert row(table, region="North", gender="M")["sum_amount"] is None
    assert_safe(table, ["region", "gender"], 10)


# --- top-N ---------------------------------------------------------------------------------


def favourite(cells: dict[tuple[str, str], int]) -> pl.DataFrame:
    return customers(cells, names=("region", "product")).drop("gender", strict=False)


def test_top_n_lists_big_values_and_other() -> None:
    frame = favourite(
        {
            ("North", "tea"): 40,
            ("North", "coffee"): 25,
            ("North", "juice"): 12,
            ("North", "cocoa"): 3,
            ("South", "tea"): 30,
            ("South", "coffee"): 30,
        }
    )
    result = aggregate(frame, by=["region"], measures=["top:product:2"])
    top = result.top["top:product:2"]
    assert top.columns == ["region", "product", "rank", "customers", "suppressed"]
    north = top.filter(pl.col("region") == "North")
    assert north.get_column("product").to_list() == ["tea", "coffee", OTHER, ALL]
    assert north.get_column("customers").to_list() == [40, 25, 15, 80]
    assert north.get_column("rank").to_list() == [1, 2, None, None]
    south = top.filter(pl.col("region") == "South")
    assert south.get_column("product").to_list() == ["coffee", "tea", ALL]  # ties: by value
    overall = top.filter(pl.col("region") == ALL)
    assert overall.get_column("product").to_list() == ["tea", "coffee", OTHER, ALL]
    assert overall.get_column("customers").to_list() == [70, 55, 15, 140]
    released = top.filter(~pl.col("suppressed"))
    assert (released.get_column("customers") >= 10).all()
    assert "cocoa" not in top.get_column("product").to_list()  # never named: 3 customers
    report = result.report.to_dict()["top"]["top:product:2"]
    assert report["values_listed"] == 6 and report["other_released"] == 2


def test_top_n_small_other_folds_the_smallest_listed_value_in() -> None:
    frame = favourite({("North", "tea"): 40, ("North", "coffee"): 25, ("North", "cocoa"): 4})
    top = aggregate(frame, by=["region"], measures=["top:product:3"]).top["top:product:3"]
    north = top.filter(pl.col("region") == "North")
    # cocoa (4) alone would be "(other)" = 4 < k_min and recoverable: coffee joins it.
    assert north.get_column("product").to_list() == ["tea", OTHER, ALL]
    assert north.get_column("customers").to_list() == [40, 29, 69]


def test_top_n_other_suppressed_when_the_group_is_small() -> None:
    frame = favourite({("North", "tea"): 40, ("East", "tea"): 5, ("East", "juice"): 3})
    top = aggregate(frame, by=["region"], measures=["top:product:1"]).top["top:product:1"]
    east = top.filter(pl.col("region") == "East")
    assert east.get_column("product").to_list() == [OTHER, ALL]
    assert east.get_column("suppressed").to_list() == [True, True]
    assert east.get_column("customers").to_list() == [None, None]


def test_top_table_totals_match_the_main_table() -> None:
    frame = customers(REGION_GENDER)
    result = aggregate(frame, by=["region"], measures=["count", "top:product:2", "dist:gender"])
    top = result.top["top:product:2"].filter(pl.col("product") == ALL)
    main = result.table.filter(pl.col("gender") == ALL)
    assert top.select("region", "customers", "suppressed").equals(
        main.select("region", "customers", "suppressed")
    )


# --- noise ---------------------------------------------------------------------------------


def test_noise_is_present_recorded_and_reproducible_with_a_seed() -> None:
    frame = customers(REGION_GENDER)
    exact = aggregate(frame, by=["region", "gender"], measures=["count", "sum:amount"]).table
    first = aggregate(
        frame, by=["region", "gender"], measures=["count", "sum:amount"], epsilon=0.5, seed=42
    )
    again = aggregate(
        frame, by=["region", "gender"], measures=["count", "sum:amount"], epsilon=0.5, seed=42
    )
    other = aggregate(
        frame, by=["region", "gender"], measures=["count", "sum:amount"], epsilon=0.5, seed=43
    )
    assert first.table.equals(again.table)
    assert not first.table.equals(other.table)
    assert not first.table.get_column("customers").equals(exact.get_column("customers"))
    assert first.table.get_column("suppressed").equals(exact.get_column("suppressed"))
    assert first.table.get_column("sum_amount").equals(exact.get_column("sum_amount"))
    assert first.table.get_column("count").equals(first.table.get_column("customers"))
    report = first.report
    assert report.epsilon == 0.5 and report.noise_mechanism == "discrete_laplace"
    assert report.sensitivity == 1 and report.noised_columns == ("customers", "count")
    assert report.epsilon_composed == pytest.approx(0.5 * 4)
    assert report.rows_in is None
    assert any("sums and means are exact" in note for note in report.notes)
    assert not any("sum / mean" in note for note in report.notes)  # no mean asked for
    assert (first.table.get_column("customers").drop_nulls() >= 0).all()
    json.dumps(report.to_dict())


def test_noise_report_warns_that_sum_and_mean_give_the_count_away() -> None:
    frame = customers(REGION_GENDER)
    report = aggregate(
        frame, by=["region"], measures=["sum:amount", "mean:amount"], epsilon=1.0, seed=1
    ).report
    assert any("sum / mean" in note for note in report.notes)
    assert report.noised_columns == ("customers",)


def test_noise_on_top_n_is_reproducible() -> None:
    frame = customers(REGION_GENDER)
    runs = [
        aggregate(frame, by=["region"], measures=["top:product:2"], epsilon=1.0, seed=5)
        for _ in range(2)
    ]
    assert runs[0].top["top:product:2"].equals(runs[1].top["top:product:2"])


@pytest.mark.parametrize("epsilon", [0.0, -1.0, math.nan, math.inf])
def test_bad_epsilon_is_rejected(epsilon: float) -> None:
    with pytest.raises(Invalid, match="epsilon"):
        aggregate(customers(REGION_GENDER), by=["region"], measures=["count"], epsilon=epsilon)
    with pytest.raises(Invalid, match="epsilon"):
        discrete_laplace_noise(epsilon=epsilon, size=3, rng=np.random.default_rng(0))


@pytest.mark.parametrize("epsilon", [0.1, 0.5, 1.0, 2.0])
def test_discrete_laplace_variance_matches_theory(epsilon: float) -> None:
    rng = np.random.Generator(np.random.PCG64(20240601))
    draws = discrete_laplace_noise(epsilon=epsilon, size=400_000, rng=rng)
    assert draws.dtype == np.int64
    q = math.exp(-epsilon)
    theory = 2 * q / (1 - q) ** 2
    assert draws.var() == pytest.approx(theory, rel=0.03)
    assert abs(draws.mean()) < 4 * math.sqrt(theory / len(draws))
    assert (draws == 0).mean() == pytest.approx((1 - q) / (1 + q), abs=0.005)


# --- errors and edge cases -----------------------------------------------------------------


def test_unknown_columns_are_named() -> None:
    frame = customers(REGION_GENDER)
    with pytest.raises(Invalid, match="'city'"):
        aggregate(frame, by=["city"], measures=["count"])
    with pytest.raises(Invalid, match="'price'"):
        aggregate(frame, by=["region"], measures=["sum:price"])
    with pytest.raises(Invalid, match="'customer_no'"):
        aggregate(frame, by=["region"], measures=["count"], subject="customer_no")


def test_non_numeric_column_is_named_without_its_values() -> None:
    frame = customers(REGION_GENDER).with_columns(
        pl.when(pl.col("subject_id") == "c00007")
        .then(pl.lit("Zhang Wei 13800138000"))
        .otherwise(pl.col("amount"))
        .alias("amount")
    )
    with pytest.raises(Invalid) as caught:
        aggregate(frame, by=["region"], measures=["mean:amount"])
    assert "'amount'" in str(caught.value) and "1 values" in str(caught.value)
    assert "Zhang" not in str(caught.value) and "138" not in str(caught.value)
    with pytest.raises(Invalid, match="'region' is not numeric: 106 values"):
        aggregate(frame, by=[], measures=["sum:region"])
    with pytest.raises(Invalid, match="'flag' is not numeric"):
        aggregate(frame.with_columns(pl.lit(True).alias("flag")), by=[], measures=["sum:flag"])


def test_amount_strings_with_blanks_are_read() -> None:
    frame = customers({("North", "F"): 12}).with_columns(
        (pl.lit(" ") + pl.col("amount") + pl.lit(" ")).alias("amount")
    )
    frame = pl.concat([frame, frame.head(1).with_columns(pl.lit("").alias("amount"))])
    table = aggregate(frame, by=["region"], measures=["sum:amount"]).table
    assert row(table, region="North")["sum_amount"] == pytest.approx(
        sum(100.0 + i for i in range(12))
    )


def test_bad_arguments_are_invalid() -> None:
    frame = customers(REGION_GENDER)
    with pytest.raises(Invalid, match="k_min"):
        aggregate(frame, by=["region"], measures=["count"], k_min=0)
    with pytest.raises(Invalid, match="listed twice"):
        aggregate(frame, by=["region", "region"], measures=["count"])
    with pytest.raises(Invalid, match="listed twice"):
        aggregate(frame, by=["region"], measures=["count", "count"])
    with pytest.raises(Invalid, match="subject column"):
        aggregate(frame, by=["subject_id"], measures=["count"])
    with pytest.raises(Invalid, match="already a group column"):
        aggregate(frame, by=["gender"], measures=["dist:gender"])
    with pytest.raises(Invalid, match="reserved label"):
        aggregate(frame.with_columns(pl.lit(ALL).alias("region")), by=["region"], measures=[])
    with pytest.raises(Invalid, match="empty values"):
        aggregate(frame.with_columns(pl.lit(None).alias("subject_id")), by=[], measures=[])


def test_empty_frame_gives_empty_tables() -> None:
    frame = customers(REGION_GENDER).head(0)
    result = aggregate(
        frame, by=["region"], measures=["count", "mean:amount", "top:product:3", "dist:age:10"]
    )
    assert result.table.height == 0
    assert result.table.columns == [
        "region",
        "age",
        "customers",
        "count",
        "mean_amount",
        "suppressed",
    ]
    assert result.top["top:product:3"].height == 0
    assert result.report.cells == 0 and result.report.rows_in == 0
    json.dumps(result.report.to_dict())


def test_no_group_columns_gives_the_grand_total() -> None:
    table = aggregate(customers(REGION_GENDER), by=[], measures=["count"]).table
    assert table.select("customers", "suppressed").rows() == [(106, False)]
    small = aggregate(customers({("a", "b"): 4}), by=[], measures=["count"])
    assert small.table.select("customers", "suppressed").rows() == [(None, True)]
    assert small.why.to_list() == [PRIMARY]
