"""Columns as real exports hold them: Excel serial dates, 年月 dates, membership tiers."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from dealvault.classify.columns import classify_column
from dealvault.classify.dates import parse_dates
from dealvault.classify.detectors import detect

TODAY = date(2025, 6, 30)
RNG = np.random.default_rng(7)
SERIALS = [str(int(x)) for x in RNG.integers(43_000, 45_800, 200)]  # 2017-2025
TIMED = [f"{s}.{int(f)}" for s, f in zip(SERIALS, RNG.integers(1, 99, 200), strict=True)]
BIRTH_SERIALS = [str(int(x)) for x in RNG.integers(10_000, 36_000, 200)]  # 1927-1998


@pytest.mark.parametrize(
    ("header", "values", "pii_type", "field"),
    [
        ("注册日期", SERIALS, "date", "registered_at"),
        ("Registered", SERIALS, "date", "registered_at"),
        ("下单时间", TIMED, "datetime", "order_time"),
        ("出生日期", BIRTH_SERIALS, "date_of_birth", "birth_date"),
        ("生日", [int(s) for s in BIRTH_SERIALS], "date_of_birth", "birth_date"),  # numbers
        ("注册日期", [float(s) for s in SERIALS], "date", "registered_at"),
    ],
)
def test_excel_serials_under_a_date_header_are_dates(
    header: str, values: list[str] | list[int] | list[float], pii_type: str, field: str
) -> None:
    got = classify_column(name=header, values=pl.Series(values), today=TODAY)
    assert (got.pii_type, got.field) == (pii_type, field)
    assert got.confidence >= 0.9
    # any number of 2-7 digits has the shape: without a date header they are not dates
    for other in (None, "数量", "积分", "编号"):
        plain = classify_column(name=other, values=pl.Series(values), today=TODAY)
        assert plain.pii_type not in {"date", "datetime", "date_of_birth"}, other


def test_serial_birth_dates_give_the_minor_share() -> None:
    child = str((date(2016, 5, 1) - date(1899, 12, 30)).days)
    adult = str((date(1980, 5, 1) - date(1899, 12, 30)).days)
    got = classify_column(name="出生日期", values=pl.Series([child, adult] * 50), today=TODAY)
    assert got.pii_type == "date_of_birth"
    assert got.evidence["minor_share"] == 0.5


@pytest.mark.parametrize(
    "values",
    [
        [f"20{y:02d}年{m}月" for y in range(10, 25) for m in (1, 6, 12)],
        [f"20{y:02d}-{m:02d}" for y in range(10, 25) for m in (1, 6, 12)],
        [  # the three Chinese forms mixed in one column
            f"20{y:02d}年{m}月{d}日"
            if k == 0
            else f"20{y:02d}年{m:02d}月{d:02d}日"
            if k == 1
            else f"20{y:02d}年{m}月"
            for y in range(10, 25)
            for k, (m, d) in enumerate(((3, 5), (11, 20), (7, 1)))
        ],
    ],
)
def test_chinese_dates_and_months_are_dates(values: list[str]) -> None:
    for header in ("交易日期", None):
        got = classify_column(name=header, values=pl.Series(values), today=TODAY)
        assert got.pii_type == "date", header


def test_parse_dates_months_and_serials() -> None:
    s = pl.Series(["2024年3月", "2024-03", "45321", "2024年13月", None, "44927.5"])
    ok, days = parse_dates(s)
    assert ok.tolist() == [True, True, False, False, False, False]
    assert days[0] == (date(2024, 3, 1) - date(1970, 1, 1)).days
    ok, days = parse_dates(s, serials=True)
    assert ok.tolist() == [True, True, True, False, False, True]
    assert days[2] == (date(2024, 1, 30) - date(1970, 1, 1)).days
    assert days[5] == (date(2023, 1, 1) - date(1970, 1, 1)).days


TIERS = ["普通会员", "银卡", "金卡", "白金卡", "钻石会员"]


@pytest.mark.parametrize(
    "header", ["会员等级", "会员级别", "客户等级", "Membership Tier", "level", None]
)
def test_a_membership_tier_column_is_a_category(header: str | None) -> None:
    values = [TIERS[int(i)] for i in RNG.integers(0, len(TIERS), 300)]
    got = classify_column(name=header, values=pl.Series(values), today=TODAY)
    assert got.pii_type == "label"
    assert got.category.value == "preference" and not got.sensitive
    assert got.field is None  # kept under its own name, never mapped to product


@pytest.mark.parametrize(
    ("header", "values"),
    [
        ("客户等级", ["A类客户", "B类客户", "C类客户"]),
        (None, ["线上商城", "线下门店", "电话订购", "经销商"]),
        ("渠道", ["线上商城", "线下门店", "电话订购", "经销商"]),
        (None, ["VIP0", "VIP1", "VIP2", "VIP3"]),
    ],
)
def test_a_few_labels_repeated_throughout_are_a_category(
    header: str | None, values: list[str]
) -> None:
    column = pl.Series([values[int(i)] for i in RNG.integers(0, len(values), 200)])
    assert classify_column(name=header, values=column, today=TODAY).pii_type == "label"
    # ... but not when they are too few to tell, too many, or the header names another type
    if header is None and not detect("label", column).any():  # no tier word to go by
        few = classify_column(name=header, values=column.head(10), today=TODAY)
        assert few.pii_type != "label"
    under_product = classify_column(name="产品名称", values=column, today=TODAY)
    assert under_product.pii_type == "product"
    many = pl.Series([f"{values[0]}{i}号" for i in range(200)])
    assert classify_column(name=None, values=many, today=TODAY).pii_type != "label"


def test_products_genders_and_frequencies_keep_their_types() -> None:
    products = pl.Series(["洗衣液", "洗洁精", "消毒液", "柔顺剂"] * 50)
    assert classify_column(name=None, values=products, today=TODAY).pii_type == "product"
    genders = pl.Series(["男", "女"] * 100)
    assert classify_column(name=None, values=genders, today=TODAY).pii_type == "gender"
    freq = pl.Series(["每月", "每周", "偶尔"] * 50)
    assert classify_column(name=None, values=freq, today=TODAY).pii_type == "frequency"
    tiers = pl.Series(TIERS * 40)
    assert classify_column(name=None, values=tiers, today=TODAY).pii_type == "label"
