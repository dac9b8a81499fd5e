"""Generalisation: ages and bands, GB/T 2260 regions, numeric and date ranges, CSV hierarchies."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.deidentify.generalise import (
    age_bands,
    age_hierarchy,
    age_years,
    date_ranges,
    generalise_column,
    numeric_ranges,
    region_codes,
    region_hierarchy,
    region_names,
)
from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.errors import Invalid
from dealvault.synth.generator import generate_customers
from dealvault.synth.idnumbers import ric_check_digit


def _id18(region: str, born: dt.date, seq: int = 123) -> str:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + ric_check_digit(first17)


def _s(values: list[str | None], name: str = "v") -> pl.Series:
    return pl.Series(name, values, dtype=pl.String)


# --- ages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "expected"),
    [(dt.date(2024, 6, 14), 33), (dt.date(2024, 6, 15), 34), (dt.date(2024, 6, 16), 34)],
)
def test_age_at_birthday_boundary(on: dt.date, expected: int) -> None:
    ages = age_years(birth_dates=_s(["1990-06-15"]), on=on)
    assert ages.dtype == pl.Int32
    assert ages.to_list() == [expected]


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (dt.date(2023, 2, 28), 22),  # common year: not yet
        (dt.date(2023, 3, 1), 23),
        (dt.date(2024, 2, 28), 23),  # leap year: the day itself
        (dt.date(2024, 2, 29), 24),
        (dt.date(2000, 2, 29), 0),
    ],
)
def test_age_of_a_29_february_birthday(on: dt.date, expected: int) -> None:
    assert age_years(birth_dates=_s(["2000-02-29"]), on=on).to_list() == [expected]
    ids = _s([_id18("110105", dt.date(2000, 2, 29))])
    assert age_years(id_numbers=ids, on=on).to_list() == [expected]


def test_age_prefers_birth_date_and_falls_back_to_id() -> None:
    births = _s(["1980-01-01", None, None, "2030-01-01"])
    ids = _s(
        [
            _id18("330106", dt.date(1970, 1, 1)),  # ignored: the birth date wins
            _id18("330106", dt.date(1970, 1, 1)),
            "not an id",
            None,
        ]
    )
    ages = age_years(birth_dates=births, id_numbers=ids, on=dt.date(2024, 1, 1))
    assert ages.to_list() == [44, 54, None, None]  # unborn on the reference date: unknown


def test_age_from_15_digit_and_lower_case_ids() -> None:
    ids = _s(["110105800229002", " 11010519800229002x ", "110105801301002", None])
    ages = age_years(id_numbers=ids, on=dt.date(2024, 3, 1))
    assert ages.to_list() == [44, 44, None, None]  # month 13 is no date


def test_age_from_date_and_datetime_inputs() -> None:
    births = pl.Series("b", [dt.date(1990, 6, 15), None])
    assert age_years(birth_dates=births, on=dt.date(2024, 6, 15)).to_list() == [34, None]
    text = _s(["1990-06-15T08:30:00", "1990-06-15 08:30:00", ""])
    assert age_years(birth_dates=text, on=dt.date(2024, 6, 14)).to_list() == [33, 33, None]


def test_age_bad_birth_date_names_row_not_value() -> None:
    with pytest.raises(Invalid) as err:
        age_years(
            birth_dates=_s(["1990-06-15", "1990-02-30"], "birth_date"), on=dt.date(2024, 1, 1)
        )
    assert "row 2" in str(err.value) and "'birth_date'" in str(err.value)
    assert "1990" not in str(err.value)


def test_age_argument_errors() -> None:
    with pytest.raises(Invalid):
        age_years(on=dt.date(2024, 1, 1))
    with pytest.raises(Invalid):
        age_years(birth_dates=_s(["1990-01-01"]), id_numbers=_s([]), on=dt.date(2024, 1, 1))


@settings(max_examples=200, deadline=None)
@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31)),
    later=st.integers(min_value=0, max_value=40_000),
    seq=st.integers(min_value=0, max_value=999),
)
def test_age_from_id_equals_age_from_birth_date(born: dt.date, later: int, seq: int) -> None:
    on = born + dt.timedelta(days=later)
    from_id = age_years(id_numbers=_s([_id18("440305", born, seq)]), on=on).item()
    from_date = age_years(birth_dates=_s([born.isoformat()]), on=on).item()
    reference = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    assert from_id == from_date == reference


# --- age bands ----------------------------------------------------------------------------


def test_age_bands_default_with_top_band_and_nulls() -> None:
    ages = pl.Series("age", [0, 9, 10, 39, 79, 80, 117, None, -3], dtype=pl.Int32)
    assert age_bands(ages).to_list() == [
        "0-9", "0-9", "10-19", "30-39", "70-79", "80+", "80+", None, None,
    ]  # fmt: skip
    assert age_bands(ages).name == "age"


def test_age_bands_other_widths() -> None:
    ages = pl.Series([0, 4, 5, 84, 85, 200])
    assert age_bands(ages, width=5, top=None).to_list() == [
        "0-4", "0-4", "5-9", "80-84", "85-89", "200-204",
    ]  # fmt: skip
    assert age_bands(ages, width=10, top=85).to_list() == [
        "0-9", "0-9", "0-9", "80-84", "85+", "85+",
    ]  # fmt: skip
    assert age_bands(pl.Series([7, None]), width=1, top=None).to_list() == ["7", None]


def test_age_bands_reject_bad_arguments() -> None:
    with pytest.raises(Invalid):
        age_bands(pl.Series([1]), width=0)
    with pytest.raises(Invalid):
        age_bands(pl.Series([1.5]))


@given(st.integers(min_value=0, max_value=79))
def test_age_bands_agree_with_age_hierarchy(age: int) -> None:
    tree = age_hierarchy()
    ten = tree.generalise(pl.Series([age]), level=2, column="age").item()
    assert age_bands(pl.Series([age])).item() == ten


def test_age_hierarchy_levels() -> None:
    tree = age_hierarchy(max_age=120)
    assert tree.depth == 5
    assert len(tree.leaves) == 121
    ages = pl.Series("age", [0, 37, 120])
    assert [tree.generalise(ages, level=i, column="age").to_list() for i in range(5)] == [
        ["0", "37", "120"],
        ["0-4", "35-39", "120-124"],
        ["0-9", "30-39", "120-129"],
        ["0-19", "20-39", "120-139"],
        ["*", "*", "*"],
    ]


# --- regions ------------------------------------------------------------------------------

ADDRESSES = [
    ("北京市朝阳区建国路88号", "110105"),
    ("浙江省杭州市西湖区文三路100号", "330106"),
    ("上海市浦东新区世纪大道1号", "310115"),
    ("广东省深圳市南山区科技园", "440305"),
    ("北京朝阳区建国路88号", "110105"),  # short municipality
    ("浙江杭州西湖区文三路", "330106"),  # short province and city
    ("浙江省杭州西湖区", "330106"),
    ("杭州市西湖区文三路", "330106"),  # no province
    ("浙江省西湖区文三路", "330106"),  # no city
    (" 浙江省 杭州市 西湖区 ", "330106"),  # spaces
    ("中国浙江省杭州市西湖区", "330106"),
    ("浙江省杭州市文三路100号", "330100"),  # stops at the city
    ("杭州市文三路", "330100"),
    ("浙江省某某路", "330000"),  # province only
    ("浙江", "330000"),
    ("吉林市船营区", "220204"),  # a city named like its province
    ("吉林省吉林市", "220200"),
    ("吉林省长春市朝阳区", "220104"),
    ("四川省凉山彝族自治州西昌市", "513401"),
    ("凉山州西昌市", "513401"),  # short autonomous prefecture
    ("湖北省仙桃市", "429004"),  # county-level city governed by the province
    ("广东省东莞市", "441900"),  # prefecture-level city without districts
    ("浙江省杭州市下城区", "330100"),  # merged away in 2021: rolls up to the city
    ("重庆市万州区", "500101"),  # also a former Sichuan name: the name in use wins
    ("江苏省鼓楼区", "320000"),  # two 鼓楼区 in the province: only the province is certain
]


@pytest.mark.parametrize(("address", "code"), ADDRESSES)
def test_region_code_from_address(address: str, code: str) -> None:
    assert region_codes(addresses=_s([address])).to_list() == [code]


@pytest.mark.parametrize(
    "address", ["火星基地1号", "", "朝阳区建国路88号", "四川路100号", "北京路8号", "12345"]
)
def test_unknown_or_ambiguous_address_gives_null(address: str) -> None:
    # 朝阳区 alone is in Beijing and Changchun; 四川路 and 北京路 are streets in many cities
    assert region_codes(addresses=_s([address])).to_list() == [None]


def test_region_code_from_id_number_and_precedence() -> None:
    ids = _s(
        [
            _id18("330106", dt.date(1990, 1, 1)),
            _id18("330106", dt.date(1990, 1, 1)),
            "330103900101123",  # 15 digits; 下城区 is gone: its city
            _id18("999999", dt.date(1990, 1, 1)),  # no such region
            "33010619900101",  # no ID number
            None,
        ]
    )
    addresses = _s(["北京市朝阳区", None, None, None, None, "上海市浦东新区"])
    assert region_codes(id_numbers=ids).to_list() == [
        "330106", "330106", "330100", None, None, None,
    ]  # fmt: skip
    assert region_codes(addresses=addresses, id_numbers=ids).to_list() == [
        "110105", "330106", "330100", None, None, "310115",
    ]  # fmt: skip


def test_region_codes_argument_errors() -> None:
    with pytest.raises(Invalid):
        region_codes()
    with pytest.raises(Invalid):
        region_codes(addresses=_s(["浙江省"]), id_numbers=_s([]))


def test_region_names_per_level() -> None:
    codes = _s(["330106", "110105", "330100", "330000", "429004", "330103", "999999", None])
    assert region_names(codes, level="district").to_list() == [
        "西湖区", "朝阳区", None, None, "仙桃市", "下城区", None, None,
    ]  # fmt: skip
    assert region_names(codes, level="city").to_list() == [
        "杭州市", "北京市", "杭州市", None, "仙桃市", "杭州市", None, None,
    ]  # fmt: skip
    assert region_names(codes, level="province").to_list() == [
        "浙江省", "北京市", "浙江省", "浙江省", "湖北省", "浙江省", None, None,
    ]  # fmt: skip
    assert region_names(pl.Series([110000]), level="city").to_list() == ["北京市"]
    with pytest.raises(Invalid):
        region_names(codes, level="street")


def test_region_hierarchy_is_a_tree_of_current_codes() -> None:
    tree = region_hierarchy()
    assert tree.depth == 5
    leaves = tree.leaves
    assert leaves.is_unique().all()
    assert leaves.str.contains(r"^\d{6}$").all()
    for code in ("110105", "330106", "310115", "440305", "330100", "330000", "110000"):
        assert code in leaves
    assert "330103" not in leaves  # gone since 2021
    # building again from its own table re-checks it: one parent per node
    Hierarchy.build(name="again", table=tree.table)
    # city and province labels agree with region_names for every leaf
    for level, name in ((2, "city"), (3, "province")):
        names = region_names(leaves, level=name)
        known = names.is_not_null()
        assert (tree.level(level).filter(known) == names.filter(known)).all()


def test_region_hierarchy_generalises_to_city_and_province() -> None:
    tree = region_hierarchy()
    codes = _s(["330106", "110105", "310115", "440305", "330100", "330000"], "region")
    assert tree.generalise(codes, level=1, column="region").to_list() == [
        "杭州市西湖区", "北京市朝阳区", "上海市浦东新区", "深圳市南山区", "杭州市", "浙江省",
    ]  # fmt: skip
    assert tree.generalise(codes, level=2, column="region").to_list() == [
        "杭州市", "北京市", "上海市", "深圳市", "杭州市", "浙江省",
    ]  # fmt: skip
    assert tree.generalise(codes, level=3, column="region").to_list() == [
        "浙江省", "北京市", "上海市", "广东省", "浙江省", "浙江省",
    ]  # fmt: skip


def test_synthetic_addresses_all_resolve_to_hierarchy_leaves() -> None:
    frame = next(generate_customers(rows=3000, seed=11, chunk_rows=3000))
    addresses, ids = frame.get_column("地址"), frame.get_column("身份证号")
    from_address = region_codes(addresses=addresses)
    assert from_address.null_count() == addresses.null_count()
    codes = region_codes(addresses=addresses, id_numbers=ids)
    assert codes.null_count() == 0
    provinces = generalise_column(codes, hierarchy=region_hierarchy(), level=3, column="地址")
    assert provinces.null_count() == 0
    # most customers live where their ID number was issued (the generator moves 10 %)
    same = (from_address == region_codes(id_numbers=ids)).sum()
    assert same / from_address.count() > 0.8


# --- numeric and date ranges --------------------------------------------------------------


def test_numeric_ranges_equal_width_on_amount_text() -> None:
    amounts = _s(["0", "99.99", "100", "250.5", "-0.01", None, ""], "amount")
    out = numeric_ranges(amounts, width=100)
    assert out.name == "amount"
    assert out.to_list() == [
        "[0, 100)", "[0, 100)", "[100, 200)", "[200, 300)", "[-100, 0)", None, None,
    ]  # fmt: skip
    assert numeric_ranges(pl.Series([0.3, 0.25]), width=0.1).to_list() == [
        "[0.3, 0.4)",
        "[0.2, 0.3)",
    ]


def test_numeric_ranges_with_edges() -> None:
    values = pl.Series([-1.0, 0.0, 499.9, 500.0, 1000.0, 5000.0, None, float("nan")])
    assert numeric_ranges(values, edges=[0, 500, 1000]).to_list() == [
        "<0", "[0, 500)", "[0, 500)", "[500, 1000)", "≥1000", "≥1000", None, None,
    ]  # fmt: skip
    assert numeric_ranges(pl.Series([1, 2]), edges=[1.5]).to_list() == ["<1.5", "≥1.5"]


def test_numeric_ranges_errors_name_row_not_value() -> None:
    with pytest.raises(Invalid) as err:
        numeric_ranges(_s(["12.5", "12,5元"], "amount"), width=10)
    assert "row 2" in str(err.value) and "'amount'" in str(err.value)
    assert "12" not in str(err.value).replace("row 2", "")
    for kwargs in ({}, {"width": 10.0, "edges": [1.0]}, {"width": 0.0}, {"edges": [2.0, 1.0]}):
        with pytest.raises(Invalid):
            numeric_ranges(pl.Series([1.0]), **kwargs)


@given(
    value=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    width=st.sampled_from([0.5, 1.0, 10.0, 100.0, 250.0]),
)
def test_numeric_range_label_contains_its_value(value: float, width: float) -> None:
    label = numeric_ranges(pl.Series([value]), width=width).item()
    match = re.fullmatch(r"\[(-?[\d.e+]+), (-?[\d.e+]+)\)", label)
    assert match is not None
    lo, hi = float(match.group(1)), float(match.group(2))
    assert lo <= value + 1e-6 * max(1.0, abs(value)) and value < hi
    assert hi - lo == pytest.approx(width)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("year", ["2024", "2024", "2021", "2024", None]),
        ("quarter", ["2024-Q3", "2024-Q1", "2021-Q1", "2024-Q4", None]),
        ("month", ["2024-07", "2024-02", "2021-01", "2024-12", None]),
        ("week", ["2024-W29", "2024-W07", "2020-W53", "2025-W01", None]),
    ],
)
def test_date_ranges_units(unit: str, expected: list[str | None]) -> None:
    text = _s(["2024-07-15", "2024-02-13T10:20:30", "2021-01-03", "2024-12-30 23:59:59", None])
    assert date_ranges(text, unit=unit).to_list() == expected
    days = pl.Series([dt.date(2024, 7, 15), dt.date(2024, 2, 13), dt.date(2021, 1, 3)])
    assert date_ranges(days, unit=unit).to_list() == expected[:3]
    stamps = pl.Series([dt.datetime(2024, 12, 30, 23, 59), None])
    assert date_ranges(stamps, unit=unit).to_list() == expected[3:]


def test_date_ranges_errors() -> None:
    with pytest.raises(Invalid):
        date_ranges(_s(["2024-07-15"]), unit="decade")
    with pytest.raises(Invalid) as err:
        date_ranges(_s(["2024-07-15", "15/07/2024"], "order_time"), unit="year")
    assert "row 2" in str(err.value) and "2024" not in str(err.value)


# --- categorical hierarchies from ARX-style CSV files ------------------------------------

ARX = "本科;高等教育;*\n硕士;高等教育;*\n博士;高等教育;*\n高中;中等教育;*\n初中;中等教育;*\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "education.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_hierarchy_generalises(tmp_path: Path) -> None:
    tree = Hierarchy.from_csv(_write(tmp_path, ARX))
    assert tree.name == "education" and tree.depth == 3
    values = _s(["硕士", "初中", "本科"], "edu")
    assert tree.generalise(values, level=1, column="edu").to_list() == [
        "高等教育", "中等教育", "高等教育",
    ]  # fmt: skip
    assert tree.generalise(values, level=2, column="edu").to_list() == ["*"] * 3


def test_csv_hierarchy_ragged_row_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "本科;高等教育;*\n硕士;高等教育\n")
    with pytest.raises(Invalid, match="row 2 has 2 levels"):
        Hierarchy.from_csv(path)


def test_csv_hierarchy_missing_value_names_column_and_row(tmp_path: Path) -> None:
    tree = Hierarchy.from_csv(_write(tmp_path, ARX))
    with pytest.raises(Invalid) as err:
        tree.generalise(_s(["本科", "小学"], "edu"), level=1, column="edu")
    assert "'edu'" in str(err.value) and "row 2" in str(err.value)
    assert "小学" not in str(err.value)


def test_csv_hierarchy_rejects_a_value_with_two_parents(tmp_path: Path) -> None:
    text = "本科;高等教育;学历\n硕士;高等教育;学位\n"
    with pytest.raises(Invalid, match="must be a tree"):
        Hierarchy.from_csv(_write(tmp_path, text))


def test_csv_hierarchy_rejects_repeated_leaf(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="repeats a leaf value"):
        Hierarchy.from_csv(_write(tmp_path, "本科;高等教育;*\n本科;中等教育;*\n"))


def test_csv_hierarchy_repeated_leaf_names_the_repeating_row(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="row 2 repeats"):
        Hierarchy.from_csv(_write(tmp_path, "本科;高等教育;*\n本科;中等教育;*\n"))


def test_generalise_column_keeps_nulls(tmp_path: Path) -> None:
    tree = Hierarchy.from_csv(_write(tmp_path, ARX))
    values = _s(["硕士", None, "初中"], "edu")
    out = generalise_column(values, hierarchy=tree, level=1, column="edu")
    assert out.to_list() == ["高等教育", None, "中等教育"]
    with pytest.raises(Invalid, match="row 3"):
        generalise_column(_s([None, "本科", "小学"]), hierarchy=tree, level=1, column="edu")
