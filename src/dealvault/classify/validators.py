"""Vectorised check-digit, date and distribution validators over whole columns of candidates."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date
from functools import cache
from importlib import resources
from typing import Final

import numpy as np
import numpy.typing as npt
import phonenumbers
import polars as pl
import pyarrow as pa
from stdnum import iban as stdnum_iban
from stdnum.cn import uscc as stdnum_uscc

from dealvault.classify.gazetteer import region_codes

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

RIC_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], np.int64)
# Doubled Luhn digit by ASCII code ("0".."9" -> 0 2 4 6 8 1 3 5 7 9).
_LUHN_DOUBLE: Final = np.zeros(256, dtype=np.int32)
_LUHN_DOUBLE[48:58] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]
_DAYS_IN_MONTH: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
_ZERO: Final = 48  # ord("0")


def byte_matrix(values: pl.Series, width: int) -> npt.NDArray[np.uint8]:
    """ASCII bytes of non-null strings of exactly ``width`` bytes as an (n, width) matrix.

    Zero-copy view of the Arrow buffer; callers guarantee the lengths (e.g. by a regex).
    """
    n = len(values)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    arr = values.rechunk().to_arrow()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8)
    flat = data[offsets[0] : offsets[-1]]
    if flat.shape[0] != n * width:
        raise ValueError("byte_matrix: values are not all of the stated width")
    return flat.reshape(n, width)


def byte_columns(values: pl.Series, width: int) -> npt.NDArray[np.uint8]:
    """Like :func:`byte_matrix`, transposed: row ``j`` holds every value's ``j``-th byte.

    Contiguous rows make the per-position arithmetic below run at memory speed.
    """
    return np.ascontiguousarray(byte_matrix(values, width).T)


def digits_at(cols: npt.NDArray[np.uint8], start: int, stop: int) -> IntArray:
    """Integer value of the decimal digits at positions ``start:stop`` (at most 9)."""
    out = np.zeros(cols.shape[1], dtype=np.int32)
    for j in range(start, stop):
        out *= 10
        out += cols[j]
        out -= _ZERO
    return out.astype(np.int64)


def valid_ymd(y: IntArray, mo: IntArray, d: IntArray) -> BoolArray:
    """Calendar-valid year/month/day triples (proleptic Gregorian, years 1-9999)."""
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = _DAYS_IN_MONTH[np.clip(mo, 0, 12)] + ((mo == 2) & leap)
    ok: BoolArray = (y >= 1) & (y <= 9999) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= dim)
    return ok


def day_numbers(y: IntArray, mo: IntArray, d: IntArray) -> IntArray:
    """Days since 1970-01-01 of year/month/day triples (H. Hinnant's days_from_civil)."""
    y = y - (mo <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + np.where(mo > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    out: IntArray = era * 146_097 + doe - 719_468
    return out


def _days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def ric18_valid(values: pl.Series, today: date) -> BoolArray:
    """Resident ID checks on 18-character values of 17 digits and a digit or X (either case):
    ISO 7064 MOD 11-2, a real birth date from 1900 to ``today``, a region code that ever
    existed (plus the HK/Macao/Taiwan permits). Unlike ``stdnum.cn.ric`` the birth year is not
    compared with the code's creation: codes change and IDs keep or are reissued under them."""
    cols = byte_columns(values, 18)
    n = cols.shape[1]
    total = np.zeros(n, dtype=np.int32)
    for j in range(17):
        total += (cols[j].astype(np.int32) - _ZERO) * int(RIC_WEIGHTS[j])
    expected = (12 - total % 11) % 11  # 10 stands for X
    last = cols[17].astype(np.int32)
    check = np.where((last == ord("X")) | (last == ord("x")), 10, last - _ZERO)
    ymd = digits_at(cols, 6, 14)
    y, mo, d = ymd // 10_000, ymd // 100 % 100, ymd % 100
    ok: BoolArray = (check == expected) & valid_ymd(y, mo, d) & (y >= 1900)
    ok &= ymd <= today.year * 10_000 + today.month * 100 + today.day
    ok &= region_codes().known(digits_at(cols, 0, 6))
    return ok


def ric15_valid(values: pl.Series, today: date) -> BoolArray:
    """Legacy 15-digit IDs (19yy birth date, no check digit): date and a code that ever existed."""
    cols = byte_columns(values, 15)
    ymd = 19_000_000 + digits_at(cols, 6, 12)
    y, mo, d = ymd // 10_000, ymd // 100 % 100, ymd % 100
    ok = valid_ymd(y, mo, d)
    ok &= ymd <= today.year * 10_000 + today.month * 100 + today.day
    ok &= region_codes().known(digits_at(cols, 0, 6))
    return ok


def ric_birth_days(values: pl.Series) -> IntArray:
    """Birth day numbers of already validated 18- or 15-digit IDs (same length each call)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    width = len(values[0])
    cols = byte_columns(values, width)
    if width == 18:
        y, mo, d = digits_at(cols, 6, 10), digits_at(cols, 10, 12), digits_at(cols, 12, 14)
    else:
        y = 1900 + digits_at(cols, 6, 8)
        mo, d = digits_at(cols, 8, 10), digits_at(cols, 10, 12)
    return day_numbers(y, mo, d)


def luhn_valid(digits: pl.Series) -> BoolArray:
    """Luhn (ISO/IEC 7812) check on digit-only strings of at most 19 characters."""
    n = len(digits)
    if n == 0:
        return np.zeros(0, dtype=np.bool_)
    cols = byte_columns(digits.str.zfill(19), 19)
    total = np.zeros(n, dtype=np.int32)
    for j in range(19):
        row = cols[j]
        total += _LUHN_DOUBLE[row] if (18 - j) % 2 == 1 else row
    total -= 48 * 10  # the ten undoubled positions added raw ASCII codes
    ok: BoolArray = total % 10 == 0
    return ok


def on_unique(values: pl.Series, check: Callable[[str], bool]) -> BoolArray:
    """Run a per-value Python ``check`` once per distinct value; spread the result back."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.bool_)
    uniq = values.unique()
    good = [v for v in uniq.to_list() if v is not None and check(v)]
    return values.is_in(good).fill_null(False).to_numpy()


_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE: Final = np.full(256, -1, dtype=np.int64)
_USCC_VALUE[np.frombuffer(_USCC_ALPHABET.encode(), dtype=np.uint8)] = np.arange(31)


def uscc_valid(values: pl.Series) -> BoolArray:
    """GB 32100 check character on values matching ``USCC`` (same rule as python-stdnum)."""
    m = byte_matrix(values, 18)
    v = _USCC_VALUE[m]
    total = (v[:, :17] * np.array(_USCC_WEIGHTS, dtype=np.int64)).sum(axis=1)
    ok: BoolArray = (v.min(axis=1) >= 0) & (v[:, 17] == (31 - total % 31) % 31)
    return ok


def uscc_ok(value: str) -> bool:
    """GB 32100 check character (python-stdnum), for cross-checks."""
    return bool(stdnum_uscc.is_valid(value))


@cache
def iban_keys() -> tuple[str, ...]:
    """Country code + total length of every IBAN format (``DE22``), from stdnum's iban.dat."""
    text = resources.files("stdnum").joinpath("iban.dat").read_text(encoding="utf-8")
    keys = []
    for line in text.splitlines():
        m = re.match(r'^([A-Z]{2}) .*bban="([^"]+)"', line)
        if m:
            length = 4 + sum(int(n) for n in re.findall(r"(\d+)!", m.group(2)))
            keys.append(f"{m.group(1)}{length}")
    return tuple(keys)


def iban_valid(values: pl.Series) -> BoolArray:
    """Country and length from the IBAN registry, then python-stdnum once per distinct value."""
    key = values.str.slice(0, 2) + values.str.len_bytes().cast(pl.String)
    plausible = key.is_in(list(iban_keys())).to_numpy()
    out = plausible.copy()
    if plausible.any():
        out[plausible] = on_unique(values.filter(pl.Series(plausible)), iban_ok)
    return out


def iban_ok(value: str) -> bool:
    """ISO 13616 IBAN with country-specific format (python-stdnum)."""
    return bool(stdnum_iban.is_valid(value))


def ipv6_ok(value: str) -> bool:
    """A textual IPv6 address (with at least two colons)."""
    if value.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def intl_phone_ok(value: str) -> bool:
    """A valid number outside mainland China per libphonenumber."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return parsed.country_code != 86 and bool(phonenumbers.is_valid_number(parsed))


def sequential(values: pl.Series) -> bool:
    """True when values look like consecutive serial numbers rather than random identifiers.

    Takes the trailing run of up to 15 digits; if one leading part covers 90% of the values
    and the numbers are dense (range / distinct < 1000 with at least 10 distinct), the
    column is a counter (order or customer numbers), not phones, cards or permits.
    """
    if len(values) < 10:
        return False
    tail = values.str.extract(r"(\d{1,15})$", 1)
    head = values.str.slice(0, values.str.len_chars() - tail.str.len_chars().fill_null(0))
    counts = head.value_counts(sort=True)
    if counts.is_empty() or int(counts["count"][0]) < 0.9 * len(values):
        return False
    nums = tail.filter(head == counts.to_series(0)[0]).cast(pl.Int64, strict=False).drop_nulls()
    distinct = nums.n_unique()
    if distinct < 10:
        return False
    lo, hi = nums.min(), nums.max()
    assert isinstance(lo, int) and isinstance(hi, int)
    return (hi - lo + 1) / distinct < 1000
