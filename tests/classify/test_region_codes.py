"""Resident ID region codes: any code that ever existed counts, whatever the birth year."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from stdnum.cn import ric as stdnum_ric

from dealvault.classify.columns import classify_column
from dealvault.classify.detectors import detect
from dealvault.classify.minors import birth_days_from_ids
from dealvault.synth.idnumbers import ric_check_digit
from dealvault.synth.regions import read_loc_dat

TODAY = date(2025, 6, 30)


def ric(code: str, birth: str, seq: int) -> str:
    first = f"{code}{birth}{seq:03d}"
    return first + ric_check_digit(first)


# (code, birth date): codes created after the birth year, or withdrawn before it
LATE_OR_GONE = [
    ("310115", "19850312"),  # 浦东新区, created 1992
    ("110115", "19790101"),  # 大兴区, created 2001
    ("440115", "19900630"),  # 南沙区, created 2005
    ("500115", "19681111"),  # 长寿区, created 2001
    ("110103", "20150204"),  # 崇文区, withdrawn 2010
]


def _first_year(code: str) -> tuple[int | None, int | None]:
    _, entries = read_loc_dat()
    segments = entries[code].segments
    return segments[0][0], segments[-1][1]


@pytest.mark.parametrize(("code", "birth"), LATE_OR_GONE)
def test_the_cases_are_outside_the_codes_lifetime(code: str, birth: str) -> None:
    """The fixture really exercises the rule: stdnum refuses these numbers."""
    start, end = _first_year(code)
    year = int(birth[:4])
    assert (start is not None and year < start) or (end is not None and year > end)
    assert not stdnum_ric.is_valid(ric(code, birth, 1))


def test_ids_under_codes_created_after_the_birth_year_are_resident_ids() -> None:
    ids = [ric(code, birth, i) for i in range(40) for code, birth in LATE_OR_GONE]
    mask = detect("cn_ric", pl.Series(ids), today=TODAY)
    assert mask.all()
    found = classify_column(name="身份证", values=pl.Series(ids), today=TODAY)
    assert found.pii_type == "cn_ric"
    assert found.field == "id_number" and found.sensitive
    bare = classify_column(name=None, values=pl.Series(ids), today=TODAY)
    assert bare.pii_type == "cn_ric"


def test_birth_dates_of_such_ids_count_for_minors() -> None:
    child = ric("110103", "20150204", 7)  # withdrawn code, born 2015: a minor in 2025
    ok, days = birth_days_from_ids(pl.Series([child]), TODAY)
    assert ok.tolist() == [True]
    assert int(days[0]) == (date(2015, 2, 4) - date(1970, 1, 1)).days


@pytest.mark.parametrize(
    "code",
    ["999999", "110199", "000000", "310199"],  # never assigned
)
def test_codes_that_never_existed_are_refused(code: str) -> None:
    number = ric(code, "19850312", 1)
    assert not detect("cn_ric", pl.Series([number]), today=TODAY)[0]


def test_legacy_15_digit_ids_under_late_codes() -> None:
    ids = [f"310115850312{i:03d}" for i in range(30)]
    assert detect("cn_ric", pl.Series(ids), today=TODAY).all()
