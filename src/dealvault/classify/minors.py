"""Customers under 14 (PIPL art. 28 and 31) from resident-ID birth dates or birth dates."""

from __future__ import annotations

from datetime import date
from typing import Final

import numpy as np
import polars as pl

from dealvault.classify import validators as v
from dealvault.classify.cells import Cells
from dealvault.classify.dates import parse_dates
from dealvault.errors import Invalid

MINOR_AGE: Final = 14
_EPOCH: Final = date(1970, 1, 1)


def _day(d: date) -> int:
    return (d - _EPOCH).days


def birth_days_from_ids(ids: pl.Series, today: date) -> tuple[v.BoolArray, v.IntArray]:
    """Birth day numbers (days since 1970) of valid resident IDs; mask of valid rows."""
    s = Cells(ids, today=today).compact.str.to_uppercase()
    ok = np.zeros(len(s), dtype=np.bool_)
    days = np.zeros(len(s), dtype=np.int64)
    for width, pattern, check in (
        (18, r"^\d{17}[\dX]$", v.ric18_valid),
        (15, r"^\d{15}$", v.ric15_valid),
    ):
        mask = s.str.contains(pattern).fill_null(False).to_numpy()
        if not mask.any():
            continue
        cand = s.filter(pl.Series(mask))
        good = check(cand, today)
        idx = np.flatnonzero(mask)[good]
        ok[idx] = True
        assert width in (15, 18)
        days[idx] = v.ric_birth_days(cand.filter(pl.Series(good)))
    return ok, days


def birth_days_from_dates(values: pl.Series) -> tuple[v.BoolArray, v.IntArray]:
    """Day numbers of a Date / Datetime / text column of dates; mask of parsed rows."""
    if values.dtype == pl.Date or isinstance(values.dtype, pl.Datetime):
        dates = values.cast(pl.Date) if values.dtype != pl.Date else values
        ok: v.BoolArray = dates.is_not_null().to_numpy()
        days: v.IntArray = dates.cast(pl.Int64).fill_null(0).to_numpy()
        return ok, days
    return parse_dates(Cells(values).raw)


def minor_cutoff(as_of: date) -> date:
    """Earliest birth date of someone still under 14 on ``as_of``.

    Ages count by calendar day and a person is fully 14 only from the day after the 14th
    birthday (Civil Code art. 201-202; SPC interpretation on juvenile cases: "从周岁生日的
    第二天起算"); a 29 February birthday falls on 28 February in other years.
    """
    try:
        return as_of.replace(year=as_of.year - MINOR_AGE)
    except ValueError:  # as_of is 29 February: those born 28 February turned 14 yesterday
        return date(as_of.year - MINOR_AGE, 3, 1)


def _under(days: v.IntArray, as_of: date) -> v.BoolArray:
    out: v.BoolArray = (days >= _day(minor_cutoff(as_of))) & (days <= _day(as_of))
    return out


def minors(*, ids: pl.Series | None, birth_dates: pl.Series | None, as_of: date) -> int:
    """How many customers (rows) are under 14 on ``as_of``.

    The birth date comes from a valid resident ID when there is one, else from
    ``birth_dates``; rows with neither are not counted. Both series, when given, must be
    aligned (one row per customer).
    """
    return int(minor_mask(ids=ids, birth_dates=birth_dates, as_of=as_of).sum())


def minor_mask(*, ids: pl.Series | None, birth_dates: pl.Series | None, as_of: date) -> v.BoolArray:
    """Per row: whether the customer is under 14 on ``as_of`` (the rule of :func:`minors`)."""
    if ids is None and birth_dates is None:
        raise Invalid("minors needs ID numbers, birth dates or both")
    if ids is not None and birth_dates is not None and len(ids) != len(birth_dates):
        raise Invalid(
            f"ID numbers ({len(ids)} rows) and birth dates ({len(birth_dates)} rows) "
            "must be aligned"
        )
    n = len(ids) if ids is not None else len(birth_dates)  # type: ignore[arg-type]
    ok = np.zeros(n, dtype=np.bool_)
    days = np.zeros(n, dtype=np.int64)
    if birth_dates is not None:
        ok, days = birth_days_from_dates(birth_dates)
    if ids is not None:
        id_ok, id_days = birth_days_from_ids(ids, as_of)
        days = np.where(id_ok, id_days, days)
        ok = ok | id_ok
    out: v.BoolArray = ok & _under(days, as_of)
    return out


def minor_share(*, ids: pl.Series | None, birth_days: v.IntArray | None, today: date) -> float:
    """Share of the given valid IDs / birth days that belong to children under 14."""
    if ids is not None:
        ok, days = birth_days_from_ids(ids, today)
        days = days[ok]
    else:
        days = birth_days if birth_days is not None else np.zeros(0, dtype=np.int64)
    return float(_under(days, today).mean()) if days.shape[0] else 0.0


def birth_like(days: v.IntArray, today: date) -> bool:
    """Dates whose spread looks like customers' birth dates, not events.

    Median age at least 16 years and the middle 80% spanning 15 years or more: order,
    sign-up and contact dates cluster within the few years a business has run.
    """
    if days.shape[0] == 0:
        return False
    ages = (_day(today) - days) / 365.25
    if ages.min() < 0 or ages.max() > 125:
        return False
    p10, p50, p90 = np.percentile(ages, [10, 50, 90])
    return bool(p50 >= 16 and p90 - p10 >= 15)
