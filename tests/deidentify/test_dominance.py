"""The dominance rule for sums (p% rule): a cell's sum and mean are not released when one or
two customers make up nearly all of it, and no such hidden sum can be worked out from the
line's released total and the other released sums."""

from __future__ import annotations

import polars as pl
import pytest

from dealvault.deidentify.aggregates import aggregate
from dealvault.deidentify.dominance import dominated_cells
from dealvault.deidentify.suppression import ALL, exposed_lines
from tests.deidentify.test_aggregates import REGION_GENDER, customers, row


def _with_amount(frame: pl.DataFrame, subject: str, amount: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.col("subject_id") == subject)
        .then(pl.lit(amount))
        .otherwise(pl.col("amount"))
        .alias("amount")
    )


def _sum_hidden(table: pl.DataFrame) -> list[bool]:
    return table.get_column("sum_amount").is_null().to_list()


def test_a_sum_one_customer_dominates_is_hidden_and_cannot_be_recovered() -> None:
    frame = _with_amount(customers(REGION_GENDER), "c00000", "1000000.00")  # in North
    result = aggregate(frame, by=["region"], measures=["sum:amount", "mean:amount"])
    table = result.table
    north = row(table, region="North")
    assert north["customers"] is not None and north["customers"] >= 10  # the count is released
    assert north["sum_amount"] is None and north["mean_amount"] is None
    # no line keeps a single hidden sum: the released total minus the released sums would
    # give it (the total here is dominated by the same customer and hidden too)
    keys = table.select("region").rows()
    assert exposed_lines(keys=keys, suppressed=_sum_hidden(table)) == []
    assert result.report.sums_hidden >= 1 and result.report.dominance_rule == "p% rule, p = 10"


def test_two_customers_who_make_up_nearly_all_of_a_sum_hide_it() -> None:
    frame = _with_amount(customers(REGION_GENDER), "c00001", "500000.00")
    frame = _with_amount(frame, "c00002", "400000.00")  # both in North
    table = aggregate(frame, by=["region", "gender"], measures=["sum:amount"]).table
    assert row(table, region="North", gender=ALL)["sum_amount"] is None
    keys = table.select("region", "gender").rows()
    assert exposed_lines(keys=keys, suppressed=_sum_hidden(table)) == []


def test_balanced_sums_are_all_released() -> None:
    result = aggregate(customers(REGION_GENDER), by=["region"], measures=["sum:amount"])
    released = result.table.filter(~pl.col("suppressed"))
    assert released.get_column("sum_amount").null_count() == 0
    assert result.report.sums_hidden == 0


def test_counts_alone_need_no_dominance_rule() -> None:
    result = aggregate(customers(REGION_GENDER), by=["region"], measures=["count"])
    assert result.report.dominance_rule is None and result.report.sums_hidden == 0


def test_the_p_percent_rule_on_its_own() -> None:
    # cell a: 90 + 5 + 5 + ... others 1 -> rest 1 < 10% of 90: dominated
    # cell b: 40, 30, 20, 10 -> rest 30 >= 4: released
    frame = pl.DataFrame(
        {
            "g": ["a", "a", "a", "a", "b", "b", "b", "b"],
            "s": ["1", "2", "3", "4", "5", "6", "7", "8"],
            "x": [90.0, 5.0, 5.0, 1.0, 40.0, 30.0, 20.0, 10.0],
        }
    ).lazy()
    found = dominated_cells(frame, column="x", subject="s", present=[("g",), ()], keys=["g"])
    levels = dict(found.select("g", "__protect").rows())
    # a: 10% of 90 - (101 - 90 - 5) = 9 - 6 = 3 on each side; b and the total need none
    assert levels == {"a": pytest.approx(3.0), "b": 0.0, ALL: 0.0}
    sums = dict(found.select("g", "__sum").rows())
    assert sums == {"a": 101.0, "b": 100.0, ALL: 201.0}


def test_without_grouping_the_whole_table_is_one_cell() -> None:
    frame = _with_amount(customers(REGION_GENDER), "c00000", "1000000.00")
    table = aggregate(frame, by=[], measures=["sum:amount"]).table
    assert table.get_column("sum_amount").to_list() == [None]
    assert table.get_column("customers").to_list() == [106]
    fair = aggregate(customers(REGION_GENDER), by=[], measures=["sum:amount"]).table
    assert fair.get_column("sum_amount").null_count() == 0
