"""Generalisation of quasi-identifiers: ages and bands, regions, numeric and date ranges."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Final

import numpy as np
import polars as pl

from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.deidentify.regions import region_codes, region_hierarchy, region_names
from dealvault.errors import Invalid

__all__ = [
    "DATE_UNITS",
    "age_bands",
    "age_hierarchy",
    "age_years",
    "date_ranges",
    "generalise_column",
    "numeric_ranges",
    "region_codes",
    "region_hierarchy",
    "region_names",
]

DATE_UNITS: Final = ("year", "quarter", "month", "week")
_ID18: Final = r"^\d{17}[\dX]$"
_ID15: Final = r"^\d{15}$"
_ISO_DAY: Final = r"^\d{4}-\d{2}-\d{2}(?:$|[T ])"


def _first_bad_row(bad: pl.Series) -> int:
    """1-based number of the first row flagged in ``bad``."""
    return int(bad.fill_null(False).arg_true()[0]) + 1


def _iso_dates(values: pl.Series, *, what: str) -> pl.Series:
    """Date, Datetime or ISO date / date-time text as Date; bad text fails naming the row."""
    if values.dtype == pl.Date:
        return values
    if isinstance(values.dtype, pl.Datetime):
        return values.dt.date()
    if values.dtype not in (pl.String, pl.Null):
        raise Invalid(f"column {values.name!r}: {what} must be dates or ISO date text")
    text = values.cast(pl.String).str.strip_chars()
    parsed = (
        text.str.slice(0, 10)
        .str.to_date("%Y-%m-%d", strict=False)
        .set(~text.str.contains(_ISO_DAY).fill_null(True), None)
    )
    bad = text.is_not_null() & (text != "") & parsed.is_null()
    if bad.any():
        raise Invalid(
            f"column {values.name!r}, row {_first_bad_row(bad)}: not an ISO date"
            " (values are not shown)"
        )
    return parsed


def _id_birth_dates(id_numbers: pl.Series) -> pl.Series:
    """Birth date in each resident ID number (18 digits: 7-14; 15 digits: 19 + 7-12), or null."""
    x = id_numbers.cast(pl.String).str.strip_chars().str.to_uppercase()
    digits = (
        pl.DataFrame({"x": x})
        .select(
            pl.when(pl.col("x").str.contains(_ID18))
            .then(pl.col("x").str.slice(6, 8))
            .when(pl.col("x").str.contains(_ID15))
            .then(pl.lit("19") + pl.col("x").str.slice(6, 6))
        )
        .to_series()
    )
    return digits.str.to_date("%Y%m%d", strict=False)


def age_years(
    *,
    birth_dates: pl.Series | None = None,
    id_numbers: pl.Series | None = None,
    on: dt.date,
) -> pl.Series:
    """Age in whole years on ``on`` (Int32; null when unknown or born after ``on``).

    The birth date (a Date column or ISO ``YYYY-MM-DD`` text) is used where present, else the
    birth date in the resident ID number. A year is complete on the birthday; a 29 February
    birthday completes it on 1 March in common years. Text that is not an ISO date fails
    naming the column and row; an ID number without a valid date gives null.
    """
    if birth_dates is None and id_numbers is None:
        raise Invalid("age_years needs birth dates, ID numbers or both")
    if birth_dates is not None and id_numbers is not None and len(birth_dates) != len(id_numbers):
        raise Invalid(
            f"birth dates ({len(birth_dates)} rows) and ID numbers ({len(id_numbers)} rows)"
            " differ in length"
        )
    born: pl.Series | None = None
    if birth_dates is not None:
        born = _iso_dates(birth_dates, what="birth dates")
    if id_numbers is not None:
        from_id = _id_birth_dates(id_numbers)
        born = from_id if born is None else born.fill_null(from_id)
    assert born is not None
    b = pl.col("born")
    not_yet = (b.dt.month() > on.month) | ((b.dt.month() == on.month) & (b.dt.day() > on.day))
    age = pl.lit(on.year, dtype=pl.Int32) - b.dt.year().cast(pl.Int32) - not_yet.cast(pl.Int32)
    return (
        pl.DataFrame({"born": born})
        .select(pl.when(b <= on).then(age).alias("age"))
        .to_series()
        .cast(pl.Int32)
    )


def age_bands(ages: pl.Series, *, width: int = 10, top: int | None = 80) -> pl.Series:
    """Age bands of ``width`` years from 0 (``30-39``); ``top`` and older form ``80+``.

    A band that ``top`` cuts short ends just below it (width 10, top 85: ``80-84``, ``85+``).
    Width 1 labels are the age itself. Nulls and negative ages give null.
    """
    if width < 1:
        raise Invalid(f"age band width must be at least 1, not {width}")
    if top is not None and top < 1:
        raise Invalid(f"top age band must start at 1 or above, not {top}")
    if not (ages.dtype.is_integer() or ages.dtype == pl.Null):
        raise Invalid(f"column {ages.name!r}: ages must be whole numbers")
    a = pl.col("a")
    lo = (a // width) * width
    hi = lo + width - 1 if top is None else pl.min_horizontal(lo + width - 1, top - 1)
    label = lo.cast(pl.String) if width == 1 else pl.concat_str(lo, pl.lit("-"), hi)
    if top is not None:
        label = pl.when(a >= top).then(pl.lit(f"{top}+")).otherwise(label)
    out = pl.DataFrame({"a": ages.cast(pl.Int64)}).select(pl.when(a >= 0).then(label))
    return out.to_series().cast(pl.String).alias(ages.name)


def age_hierarchy(*, max_age: int = 120) -> Hierarchy:
    """Ages ``0``..``max_age`` (as text) -> 5-year band -> 10-year band -> 20-year band -> ``*``."""
    if max_age < 0:
        raise Invalid(f"max_age must not be negative, not {max_age}")
    ages = np.arange(max_age + 1, dtype=np.int64)
    table = pl.DataFrame({"age": ages}).select(
        pl.col("age").cast(pl.String),
        *(
            pl.concat_str(
                (pl.col("age") // w) * w, pl.lit("-"), (pl.col("age") // w) * w + w - 1
            ).alias(f"band{w}")
            for w in (5, 10, 20)
        ),
        pl.lit("*").alias("all"),
    )
    return Hierarchy.build(name="age", table=table)


def _numbers(values: pl.Series) -> pl.Series:
    """Float64 from numbers or decimal text; text that is no number fails naming the row."""
    if values.dtype.is_numeric() or values.dtype == pl.Null:
        return values.cast(pl.Float64)
    if values.dtype != pl.String:
        raise Invalid(f"column {values.name!r}: values must be numbers or decimal text")
    text = values.str.strip_chars()
    out = text.cast(pl.Float64, strict=False)
    bad = text.is_not_null() & (text != "") & out.is_null()
    if bad.any():
        raise Invalid(
            f"column {values.name!r}, row {_first_bad_row(bad)}: not a number"
            " (values are not shown)"
        )
    return out


def _fmt(x: float) -> str:
    """Short decimal form of a bound (100, 0.5, -2.25)."""
    return format(round(x, 10) + 0.0, ".15g")


def numeric_ranges(
    values: pl.Series,
    *,
    width: float | None = None,
    edges: Sequence[float] | None = None,
) -> pl.Series:
    """Half-open ranges: equal ``width`` from a base of 0 (``[0, 100)``, ``[100, 200)``, ...,
    ``[-100, 0)``) or between the given ``edges`` with open ends (``<0``, ``[0, 500)``,
    ``≥1000``). Numbers or decimal text (amounts); nulls, NaN and infinities stay null."""
    if (width is None) == (edges is None):
        raise Invalid("numeric_ranges needs exactly one of width and edges")
    x = _numbers(values)
    finite = x.is_finite().fill_null(False)
    if width is not None:
        if not (math.isfinite(width) and width > 0):
            raise Invalid(f"range width must be a positive number, not {width}")
        # rounded first: in binary 0.3 / 0.1 is 2.999..., yet 0.3 belongs in [0.3, 0.4)
        k = (x / width).round(9).floor()
        bucket = k.set(~finite, None).cast(pl.Int64, strict=False)
        uniq = bucket.drop_nulls().unique().to_list()
        labels = {k: f"[{_fmt(k * width)}, {_fmt((k + 1) * width)})" for k in uniq}
        out = bucket.replace_strict(labels, default=None, return_dtype=pl.String)
        return out.alias(values.name)
    bounds = [float(e) for e in edges or ()]
    if not bounds or not all(math.isfinite(e) for e in bounds):
        raise Invalid("range edges must be one or more finite numbers")
    if any(b <= a for a, b in pairwise(bounds)):
        raise Invalid("range edges must be strictly increasing")
    names = [f"<{_fmt(bounds[0])}"]
    names += [f"[{_fmt(a)}, {_fmt(b)})" for a, b in pairwise(bounds)]
    names.append(f"≥{_fmt(bounds[-1])}")
    arr = x.to_numpy()
    index = np.searchsorted(np.asarray(bounds), np.nan_to_num(arr, nan=0.0), side="right")
    out = pl.Series(np.asarray(names, dtype=object)[index], dtype=pl.String)
    return out.set(~finite, None).alias(values.name)


def date_ranges(values: pl.Series, *, unit: str) -> pl.Series:
    """Calendar period of each date: ``year`` 2024, ``quarter`` 2024-Q3, ``month`` 2024-07,
    ``week`` 2024-W07 (ISO 8601 week and week-year). Date or Datetime columns, or ISO date or
    date-time text (the date part counts; a time zone is not applied). Nulls stay null."""
    if unit not in DATE_UNITS:
        raise Invalid(f"date unit must be one of {', '.join(DATE_UNITS)}, not {unit!r}")
    days = _iso_dates(values, what="dates")
    d = pl.col("d")
    expr = {
        "year": d.dt.strftime("%Y"),
        "quarter": pl.concat_str(d.dt.strftime("%Y"), pl.lit("-Q"), d.dt.quarter()),
        "month": d.dt.strftime("%Y-%m"),
        "week": d.dt.strftime("%G-W%V"),
    }[unit]
    return pl.DataFrame({"d": days}).select(expr).to_series().alias(values.name)


def generalise_column(
    values: pl.Series, *, hierarchy: Hierarchy, level: int, column: str
) -> pl.Series:
    """``hierarchy.generalise`` that keeps nulls null (unknown stays unknown) instead of failing
    on them; any other value missing from the hierarchy fails naming column and row."""
    missing = values.is_null()
    if not missing.any():
        return hierarchy.generalise(values, level=level, column=column)
    filled = values.cast(pl.String).fill_null(hierarchy.leaves[0])
    return hierarchy.generalise(filled, level=level, column=column).set(missing, None)
