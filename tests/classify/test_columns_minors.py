"""Customers under 14 from ID-number birth dates or birth dates (PIPL art. 28 / 31)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from dealvault.classify.columns import minors
from dealvault.classify.minors import birth_like, minor_cutoff
from dealvault.errors import Invalid
from dealvault.synth import DEFAULT_AS_OF, generate_customers
from dealvault.synth.idnumbers import ric_check_digit

AS_OF = date(2025, 6, 30)


def rid(birth: date, seq: int = 123) -> str:
    body = f"110105{birth:%Y%m%d}{seq:03d}"
    return body + ric_check_digit(body)


def test_boundaries_from_ids() -> None:
    ids = pl.Series(
        [
            rid(date(2015, 1, 1)),  # 10: minor
            rid(date(2011, 7, 1)),  # 14th birthday tomorrow: minor
            rid(date(2011, 6, 30)),  # 14th birthday today: fully 14 only from tomorrow
            rid(date(2011, 6, 29)),  # fully 14 since today
            rid(date(1990, 1, 1)),  # adult
            rid(date(2026, 1, 1)),  # born after as_of: not counted
            None,
            "not an id",
        ]
    )
    assert minors(ids=ids, birth_dates=None, as_of=AS_OF) == 3


def test_legacy_ids_and_lowercase_x() -> None:
    body = "110105150101123"  # 15 digits: born 1915 -> adult
    ids = pl.Series([body, rid(date(2016, 2, 29), 100).lower(), " " + rid(date(2014, 3, 1))])
    assert minors(ids=ids, birth_dates=None, as_of=AS_OF) == 2


def test_birth_dates_fill_in_for_missing_or_invalid_ids() -> None:
    ids = pl.Series([None, "110105201501011239", rid(date(1980, 5, 5))])  # bad check digit
    births = pl.Series([date(2018, 1, 1), date(2016, 1, 1), date(2019, 1, 1)])
    # row 3: the valid ID (adult) wins over the birth-date column
    assert minors(ids=ids, birth_dates=births, as_of=AS_OF) == 2


@pytest.mark.parametrize(
    "births",
    [
        pl.Series(["2015-03-01", "1980/1/1", "2012年7月1日", "20200101", None, "garbage"]),
        pl.Series([date(2015, 3, 1), date(1980, 1, 1), date(2012, 7, 1), date(2020, 1, 1), None]),
    ],
)
def test_birth_dates_as_text_or_dates(births: pl.Series) -> None:
    assert minors(ids=None, birth_dates=births, as_of=AS_OF) == 3


def test_leap_day_birthday() -> None:
    born = pl.Series([date(2012, 2, 29)])
    assert minors(ids=None, birth_dates=born, as_of=date(2026, 2, 28)) == 1  # birthday
    assert minors(ids=None, birth_dates=born, as_of=date(2026, 3, 1)) == 0
    feb28 = pl.Series([date(2014, 2, 28)])
    assert minors(ids=None, birth_dates=feb28, as_of=date(2028, 2, 28)) == 1
    assert minors(ids=None, birth_dates=feb28, as_of=date(2028, 2, 29)) == 0
    assert minor_cutoff(date(2028, 2, 29)) == date(2014, 3, 1)


def test_synth_export_has_about_one_percent_under_14() -> None:
    frame = next(generate_customers(rows=10_000, seed=5, chunk_rows=10_000))
    from_ids = minors(ids=frame["身份证号"], birth_dates=None, as_of=DEFAULT_AS_OF)
    from_dates = minors(ids=None, birth_dates=frame["出生日期"], as_of=DEFAULT_AS_OF)
    both = minors(ids=frame["身份证号"], birth_dates=frame["出生日期"], as_of=DEFAULT_AS_OF)
    assert from_ids == from_dates == both
    assert 50 < both < 150


def test_errors_name_no_values() -> None:
    with pytest.raises(Invalid, match="ID numbers, birth dates or both"):
        minors(ids=None, birth_dates=None, as_of=AS_OF)
    secret = rid(date(2015, 1, 1))
    with pytest.raises(Invalid) as err:
        minors(ids=pl.Series([secret]), birth_dates=pl.Series([None, None]), as_of=AS_OF)
    assert secret not in str(err.value)


def test_birth_like() -> None:
    import numpy as np

    today = AS_OF
    epoch = date(1970, 1, 1)
    births = np.array([(date(y, 6, 1) - epoch).days for y in range(1950, 2008)])
    events = np.array([(date(2015 + i % 10, 1 + i % 12, 1) - epoch).days for i in range(100)])
    assert birth_like(births, today)
    assert not birth_like(events, today)
    assert not birth_like(np.array([], dtype=np.int64), today)
