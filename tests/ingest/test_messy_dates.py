"""Dates as real exports write them: Excel serial numbers, 2024年3月5日, a month alone."""

from __future__ import annotations

import polars as pl
import pytest

from dealvault.ingest.fields import TableRole
from dealvault.ingest.mapping import propose_mapping
from dealvault.ingest.normalize import NormalisedBatch, normalise_batch


def run(
    values: dict[str, list[str | None]], role: TableRole = TableRole.CUSTOMERS
) -> NormalisedBatch:
    frame = pl.DataFrame(values, schema=dict.fromkeys(values, pl.String))
    m = propose_mapping(columns=list(values), table_role=role)
    return normalise_batch(frame=frame, mapping=m, file="t.csv", first_row=1)


@pytest.mark.parametrize(
    ("cell", "iso"),
    [
        ("45321", "2024-01-30"),  # Excel serial
        ("44927.5", "2023-01-01"),  # serial with a time: the day is kept
        ("44927.999999", "2023-01-01"),  # never rounded into the next day
        ("61", "1900-03-01"),  # first serial after Excel's phantom 29 February 1900
        ("2958465", "9999-12-31"),
        ("2024年3月", "2024-03-01"),  # a month alone: its first day
        ("2024-03", "2024-03-01"),
        ("2024/3", "2024-03-01"),
    ],
)
def test_date_fields_read_serials_and_chinese_forms(cell: str, iso: str) -> None:
    nb = run({"姓名": ["a"], "注册日期": [cell], "出生日期": [cell]})
    assert nb.rejects.height == 0
    assert nb.clean.row(0, named=True) | {"__row": 0, "name": "a"} == {
        "__row": 0,
        "name": "a",
        "registered_at": iso,
        "birth_date": iso,
    }


@pytest.mark.parametrize(
    ("cell", "iso"),
    [
        ("44927.5", "2023-01-01T12:00:00"),
        ("45321.25", "2024-01-30T06:00:00"),
        ("45321", "2024-01-30T00:00:00"),
        ("44927.999999", "2023-01-01T23:59:59"),
        ("2024年3月", "2024-03-01T00:00:00"),
    ],
)
def test_datetime_fields_read_serial_fractions_as_times(cell: str, iso: str) -> None:
    nb = run({"会员号": ["k"], "下单时间": [cell]}, TableRole.ORDERS)
    assert nb.rejects.height == 0
    assert nb.clean["order_time"].to_list() == [iso]


def test_a_column_mixing_the_forms_is_read_whole() -> None:
    cells = ["2024年3月5日", "2024年03月05日", " 2024 年 3 月 5 日 ", "2024年3月", "45356"]
    nb = run({"姓名": ["a"] * 5, "注册日期": cells})
    assert nb.rejects.height == 0
    assert nb.clean["registered_at"].to_list() == ["2024-03-05"] * 3 + ["2024-03-01", "2024-03-05"]


@pytest.mark.parametrize("cell", ["60", "2958466", "1.5", "12345678901", "2024年13月", "2024-3-"])
def test_numbers_outside_the_serial_range_are_invalid_dates(cell: str) -> None:
    nb = run({"姓名": ["a", "b"], "注册日期": ["45321", cell]})
    assert nb.clean["registered_at"].to_list() == ["2024-01-30"]
    assert nb.rejects.rows() == [(2, "注册日期", "invalid date")]
