"""Date and date-time detectors: fixed-width layouts by byte position, the rest by regex."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from dealvault.classify import patterns as p
from dealvault.classify import validators as v
from dealvault.classify.cells import BoolArray, Cells, as_mask, matches


def _ymd_fixed(
    s: pl.Series, mask: BoolArray, width: int, at: tuple[int, int, int]
) -> tuple[v.IntArray, v.IntArray, v.IntArray]:
    cols = v.byte_columns(s.filter(pl.Series(mask)), width)
    y, mo, d = at
    return v.digits_at(cols, y, y + 4), v.digits_at(cols, mo, mo + 2), v.digits_at(cols, d, d + 2)


def _ymd(
    s: pl.Series, fixed: tuple[tuple[str, int, tuple[int, int, int]], ...], general: str
) -> tuple[v.IntArray, v.IntArray, v.IntArray]:
    """Year, month, day (0 where no match): fixed-width layouts by byte position, the rest
    by regular expression."""
    n = len(s)
    y, mo, d = (np.zeros(n, dtype=np.int64) for _ in range(3))
    done = np.zeros(n, dtype=np.bool_)
    for pattern, width, at in fixed:
        mask = matches(s, pattern) & ~done
        if mask.any():
            y[mask], mo[mask], d[mask] = _ymd_fixed(s, mask, width, at)
            done |= mask
    rest = ~done & as_mask(s.is_not_null())
    if rest.any():
        parts = s.filter(pl.Series(rest)).str.extract_groups(general)
        for out, field in ((y, "1"), (mo, "2"), (d, "3")):
            out[rest] = parts.struct.field(field).cast(pl.Int64, strict=False).fill_null(0)
    return y, mo, d


_DATE_FIXED: Final = (
    (r"^\d{4}-\d{2}-\d{2} 00:00:00$", 19, (0, 5, 8)),
    (r"^\d{4}[-/.]\d{2}[-/.]\d{2}$", 10, (0, 5, 8)),
    (r"^\d{8}$", 8, (0, 4, 6)),
)
_DATETIME_FIXED: Final = ((r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$", 19, (0, 5, 8)),)


# Excel serial numbers of 1900-03-01 and 2100-01-01, and of 1970-01-01 (day number 0).
SERIAL_MIN: Final = 61
SERIAL_END: Final = 73_051
SERIAL_1970: Final = 25_569


def excel_serials(s: pl.Series) -> tuple[BoolArray, v.IntArray, BoolArray]:
    """Mask of Excel serial dates from 1900-03-01 to 2099-12-31, their day numbers, and a mask
    of those with a time of day (a non-zero fraction)."""
    parts = s.str.extract_groups(p.EXCEL_SERIAL)
    whole = parts.struct.field("1").cast(pl.Int64, strict=False).fill_null(0).to_numpy()
    frac = parts.struct.field("2").cast(pl.Float64, strict=False).fill_null(0.0).to_numpy()
    ok = (whole >= SERIAL_MIN) & (whole < SERIAL_END)
    days = np.where(ok, whole - SERIAL_1970, 0).astype(np.int64)
    return ok, days, ok & (frac > 0)


def parse_dates(s: pl.Series, *, serials: bool = False) -> tuple[BoolArray, v.IntArray]:
    """Mask of calendar-valid dates (several layouts, 1900-2100) and their day numbers.

    A month without a day (2024年3月) is its first day; ``serials`` also reads Excel serial
    numbers (45321), for columns whose header names a date.
    """
    y, mo, d = _ymd(s, _DATE_FIXED, p.DATE_PARTS)
    month = (y == 0) & matches(s, p.DATE_MONTH)
    if month.any():
        parts = s.filter(pl.Series(month)).str.extract_groups(p.DATE_MONTH)
        y[month] = parts.struct.field("1").cast(pl.Int64).to_numpy()
        mo[month] = parts.struct.field("2").cast(pl.Int64).to_numpy()
        d[month] = 1
    dm = (y == 0) & matches(s, p.DATE_DM)
    if dm.any():
        parts = s.filter(pl.Series(dm)).str.extract_groups(p.DATE_DM)
        first, second = (parts.struct.field(k).cast(pl.Int64).to_numpy() for k in ("1", "3"))
        dmy = day_first(first, second, parts.struct.field("2"))
        y[dm] = parts.struct.field("4").cast(pl.Int64).to_numpy()
        d[dm], mo[dm] = (first, second) if dmy else (second, first)
    ok = v.valid_ymd(y, mo, d) & (y >= 1900) & (y <= 2100)
    days = np.where(ok, v.day_numbers(y, mo, d), 0)
    if serials:
        serial, serial_days, _ = excel_serials(s)
        use = serial & ~ok
        days = np.where(use, serial_days, days)
        ok = ok | use
    return ok, days


def order_shown(first: v.IntArray, second: v.IntArray) -> tuple[int, int]:
    """How many values have a first field above 12 (a day first: D/M/Y) and how many a
    second one (M/D/Y): the only values that show the order."""
    return int((first > 12).sum()), int((second > 12).sum())


def day_first(first: v.IntArray, second: v.IntArray, sep: pl.Series) -> bool:
    """D/M/Y (True) or M/D/Y for one column: a field above 12 is the day; when both fields
    exceed 12 somewhere, the reading most values allow; when neither does, slashes mean
    M/D/Y (US exports) and dots or dashes D/M/Y (a guess: ``date_order`` says so)."""
    day1, day2 = order_shown(first, second)
    if day1 or day2:
        return day1 >= day2
    slashes = float((sep == "/").mean() or 0.0)  # type: ignore[arg-type]
    return slashes < 0.5


def date_order(s: pl.Series) -> tuple[float, float, int]:
    """Evidence figures of the D/M/Y and M/D/Y values of a column: the order (1 D/M/Y, 2 M/D/Y,
    0 when no value has either form), the share of those values that show it (a field above
    12 on the side chosen; 0 when only the separators chose, a guess) and their number."""
    parts = s.str.extract_groups(p.DATE_DM).drop_nulls()
    parts = parts.filter(parts.struct.field("1").is_not_null())
    if parts.is_empty():
        return 0.0, 0.0, 0
    first, second = (parts.struct.field(k).cast(pl.Int64).to_numpy() for k in ("1", "3"))
    dmy = day_first(first, second, parts.struct.field("2"))
    shown = order_shown(first, second)[0 if dmy else 1]
    return (1.0 if dmy else 2.0), shown / len(parts), len(parts)


def _parsed(c: Cells) -> tuple[npt.NDArray[Any], ...]:
    if "dates" not in c.memo:
        c.memo["dates"] = parse_dates(c.raw)
    return c.memo["dates"]


def date_(c: Cells) -> BoolArray:
    """A calendar date (2024-01-31, 2024/1/31, 2024年1月31日, 20240131, 2024年1月), perhaps
    at 00:00."""
    return _parsed(c)[0]


def date_of_birth(c: Cells) -> BoolArray:
    """A date between 1900-01-01 and today (column context decides)."""
    ok, days = _parsed(c)
    today = (c.today - date(1970, 1, 1)).days
    return ok & (days <= today) & (days >= (date(1900, 1, 1) - date(1970, 1, 1)).days)


def datetime_(c: Cells) -> BoolArray:
    """A date with a time of day other than midnight (midnight alone makes a date)."""
    y, mo, d = _ymd(c.raw, _DATETIME_FIXED, p.DATETIME_PARTS)
    ok = v.valid_ymd(y, mo, d) & (y >= 1900) & (y <= 2100)
    return ok & ~matches(c.raw, p.MIDNIGHT)
