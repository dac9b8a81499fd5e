"""International values at import: phones without +CC in their column's region, dates day and
month first in their column's order, gender codes. All numbers and dates are invented (US
555-01xx and UK Ofcom drama numbers are reserved for fiction)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.classify.intl import PHONE_REGIONS
from dealvault.ingest.fields import TableRole
from dealvault.ingest.mapping import ColumnMapping, propose_mapping
from dealvault.ingest.national_phones import read_national
from dealvault.ingest.normalize import NormalisedBatch, normalise_batch
from dealvault.ingest.options import ColumnOptions, DateOrder
from dealvault.ingest.validators import NO_ORDER, phone_slow

US = ["(415) 555-0132", "415-555-0147", "1 212 555 0199", "+44 20 7946 0321", "650.555.0110"]
US_E164 = ["+14155550132", "+14155550147", "+12125550199", "+442079460321", "+16505550110"]
UK = ["020 7946 0958", "0161 496 0123", "0113 496 0456", "(0117) 496 0789"]
UK_E164 = ["+442079460958", "+441614960123", "+441134960456", "+441174960789"]
IN = ["98765 43210", "070123 45678", "080 2345 6789"]
IN_E164 = ["+919876543210", "+917012345678", "+918023456789"]


def run(
    values: Mapping[str, Sequence[str | None]],
    options: dict[str, ColumnOptions] | None = None,
    role: TableRole = TableRole.CUSTOMERS,
) -> NormalisedBatch:
    frame = pl.DataFrame(
        {k: list(v) for k, v in values.items()}, schema=dict.fromkeys(values, pl.String)
    )
    m = propose_mapping(columns=list(values), table_role=role)
    mapping = ColumnMapping(table_role=m.table_role, columns=m.columns, options=options or {})
    return normalise_batch(frame=frame, mapping=mapping, file="t.csv", first_row=1)


def _libphonenumber(value: str, region: str) -> str | None:
    try:
        num = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


# --- phones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "cells", "want"), [("US", US, US_E164), ("GB", UK, UK_E164), ("IN", IN, IN_E164)]
)
def test_phones_without_country_code_read_in_the_column_region(
    region: str, cells: list[str], want: list[str]
) -> None:
    nb = run(
        {"name": ["a"] * len(cells), "phone": cells},
        {"phone": ColumnOptions(phone_region=region)},
    )
    assert nb.rejects.height == 0
    assert nb.clean["phone"].to_list() == want


def test_without_a_region_numbers_stay_chinese() -> None:
    """No option: exactly as before. A US number then passes as a Chinese landline (+86 415):
    the mis-reading the column's region prevents."""
    cells = ["(415) 555-0132", "138 0013 8000", "010-6512 3456"]
    nb = run({"name": ["a", "b", "c"], "phone": cells})
    assert nb.clean["phone"].to_list() == ["+864155550132", "+8613800138000", "+861065123456"]
    cn = run({"name": ["a", "b", "c"], "phone": cells}, {"phone": ColumnOptions(phone_region="CN")})
    assert cn.clean.equals(nb.clean) and cn.rejects.equals(nb.rejects)


def test_invalid_numbers_in_a_region_are_rejected_without_the_value() -> None:
    bad = ["555-0132", "(415) 555-013", "13800138000"]  # too short, a digit short, Chinese
    nb = run(
        {"name": ["a", "b", "c", "d"], "phone": [*bad, "(415) 555-0132"]},
        {"phone": ColumnOptions(phone_region="US")},
    )
    assert nb.clean["phone"].to_list() == ["+14155550132"]
    assert nb.rejects["reason"].to_list() == ["invalid phone number"] * 3
    assert nb.rejects["column"].to_list() == ["phone"] * 3
    assert not any(b in r for b in bad for r in nb.rejects["reason"].to_list())


def test_two_phone_columns_each_in_its_own_region() -> None:
    """The first number of a cell of the US column and a UK backup number: each is read in
    the region of the column it came from, also when the cell holds two numbers."""
    nb = run(
        {
            "name": ["a", "b", "c"],
            "phone": ["(415) 555-0132", "212-555-0101 / 650-555-0102", None],
            "secondary_phone": ["020 7946 0958", None, "0161 496 0123"],
        },
        {
            "phone": ColumnOptions(phone_region="US"),
            "secondary_phone": ColumnOptions(phone_region="GB"),
        },
    )
    assert nb.rejects.height == 0
    assert nb.clean.select("phone", "phone_2").rows() == [
        ("+14155550132", "+442079460958"),
        ("+12125550101", "+16505550102"),
        ("+441614960123", None),  # an empty phone cell: the backup number comes first
    ]


@pytest.mark.parametrize("region", sorted({*PHONE_REGIONS, "CA", "JE", "BR", "RU", "AR"}))
def test_fast_national_path_agrees_with_libphonenumber(region: str) -> None:
    """The vectorised reading never accepts what libphonenumber refuses and gives its E.164;
    it settles every valid number written in the national layout."""
    rng = random.Random(region)
    national: list[str] = []
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        for _ in range(150):
            digits = str(example.national_number)
            digits = digits[:-3] + f"{rng.randrange(1000):03d}"
            num = phonenumbers.PhoneNumber(
                country_code=example.country_code,
                national_number=int(digits),
                italian_leading_zero=example.italian_leading_zero,
            )
            if phonenumbers.is_valid_number(num):
                national.append(
                    phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
                )
    noise = [
        "".join(rng.choice("0123456789 -()") for _ in range(rng.randint(3, 16))) for _ in range(600)
    ]
    values = national + noise
    got = read_national(values=pl.Series(values), region=region).to_list()
    for cell, fast in zip(values, got, strict=True):
        if fast is not None:
            assert fast == _libphonenumber(cell, region), (region, cell)
    settled = got[: len(national)]
    if region != "AR":  # Argentine mobiles (011 15-…) are rewritten: libphonenumber reads them
        assert None not in settled, (
            region,
            [v for v, f in zip(national, settled, strict=True) if f is None],
        )
    # and the import's reading (fast, then libphonenumber) equals libphonenumber everywhere
    value, reason = phone_slow(pl.Series(values), region=region)
    assert value.to_list() == [_libphonenumber(v, region) for v in values]
    assert reason.to_list() == [None if v else "invalid phone number" for v in value.to_list()]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["US", "GB", "IN", "DE", "FR", "AU", "SG"]),
    st.text(alphabet="0123456789 -.()+", min_size=1, max_size=18),
)
def test_any_cell_reads_as_libphonenumber_reads_it(region: str, cell: str) -> None:
    value, _ = phone_slow(pl.Series([cell]), region=region)
    assert value.to_list() == [_libphonenumber(cell, region)]


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "want"),
    [(DateOrder.DMY, ["1985-07-03", "1990-12-25", "2000-01-31"]),
     (DateOrder.MDY, ["1985-03-07", None, None])],
)  # fmt: skip
def test_dates_day_and_month_first_read_in_the_column_order(
    order: DateOrder, want: list[str | None]
) -> None:
    cells = ["03/07/1985", "25.12.1990", "31-1-2000"]
    nb = run({"name": ["a", "b", "c"], "dob": cells}, {"dob": ColumnOptions(date_order=order)})
    got = dict(zip(nb.clean["__row"].to_list(), nb.clean["birth_date"].to_list(), strict=True))
    assert [got.get(i) for i in (1, 2, 3)] == want
    assert nb.rejects["reason"].to_list() == ["invalid date"] * want.count(None)


def test_dates_day_and_month_first_without_an_order_are_refused_not_guessed() -> None:
    nb = run({"name": ["a", "b", "c"], "dob": ["03/07/1985", "1985-07-03", "1985/7/3"]})
    assert nb.clean["birth_date"].to_list() == ["1985-07-03", "1985-07-03"]
    assert nb.rejects.rows() == [(1, "dob", NO_ORDER)]
    assert "date_order" in NO_ORDER


def test_year_first_dates_are_read_as_before_in_any_order() -> None:
    cells = ["2024-03-05", "2024/3/5", "2024年3月5日", "20240305", "45356"]
    for options in ({}, {"dob": ColumnOptions(date_order=DateOrder.MDY)}):
        nb = run({"name": ["a"] * 5, "dob": cells}, options)
        assert nb.clean["birth_date"].to_list() == ["2024-03-05"] * 5


def test_date_times_day_and_month_first() -> None:
    cells = ["03/07/2024 14:30", "3.7.2024 09:05:07", "2024-07-03 08:00:00"]
    nb = run(
        {"会员号": ["k1", "k2", "k3"], "下单时间": cells},
        {"下单时间": ColumnOptions(date_order=DateOrder.DMY)},
        TableRole.ORDERS,
    )
    assert nb.clean["order_time"].to_list() == [
        "2024-07-03T14:30:00",
        "2024-07-03T09:05:07",
        "2024-07-03T08:00:00",
    ]
    plain = run({"会员号": ["k1"], "下单时间": cells[:1]}, role=TableRole.ORDERS)
    assert plain.rejects["reason"].to_list() == [NO_ORDER]


# --- genders -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "want"),
    [
        (["1", "2", "0", "9", "2.0"], ["M", "F", None, None, "F"]),  # ISO/IEC 5218
        (["M", "W", "X", "O"], ["M", "F", "X", "X"]),
        (["Men", "Women", "men", "WOMEN"], ["M", "F", "M", "F"]),
        (["male", "female", "diverse", "Non-binary", "other"], ["M", "F", "X", "X", "X"]),
        (["männlich", "Weiblich", "divers", "homme", "femme"], ["M", "F", "X", "M", "F"]),
        (["男", "女", "未知", "保密", "其他"], ["M", "F", None, None, None]),  # as before
    ],
)
def test_gender_codes(cells: list[str], want: list[str | None]) -> None:
    nb = run({"name": [f"n{i}" for i in range(len(cells))], "gender": cells})
    assert nb.rejects.height == 0
    assert nb.clean["gender"].to_list() == want


def test_unknown_gender_codes_are_rejected() -> None:
    nb = run({"name": ["a", "b", "c"], "gender": ["3", "Q", "mx"]})
    assert nb.rejects["reason"].to_list() == ["unknown gender value"] * 3
