"""Free-text validators run on candidate subsets (checksums, dates, phone numbers)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import phonenumbers
import polars as pl

from dealvault.classify.spans import (
    CN_LANDLINE,
    CN_MOBILE,
    INTL_PHONE,
)
from dealvault.classify.text.lexicon import _regions
from dealvault.synth.idnumbers import RIC_CHECK_CHARS, RIC_WEIGHTS

_MIN_DATE: Final = date(1900, 1, 1)
# ---------------------------------------------------------------------------------------
# Validators on candidate subsets


BoolArray = npt.NDArray[np.bool_]


def _char_matrix(values: pl.Series, width: int) -> npt.NDArray[np.uint8]:
    """ASCII strings of exactly ``width`` characters as an ``(n, width)`` byte matrix."""
    if len(values) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    joined = values.str.join("").item()
    return np.frombuffer(str(joined).encode("ascii"), dtype=np.uint8).reshape(-1, width)


def _ric18_valid(norm: pl.Series) -> BoolArray:
    """Checksum, birth date and province of 18-character resident ID candidates."""
    upper = norm.str.to_uppercase()
    chars = _char_matrix(upper, 18)
    digits = chars[:, :17].astype(np.int64) - 48
    total = digits @ np.array(RIC_WEIGHTS, dtype=np.int64)
    expected = np.frombuffer(RIC_CHECK_CHARS.encode("ascii"), dtype=np.uint8)[total % 11]
    checksum = expected == chars[:, 17]
    born = upper.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    date_ok = ((born >= _MIN_DATE) & (born <= date.today())).fill_null(False).to_numpy()
    provinces, _ = _regions()
    province_ok = upper.str.slice(0, 2).is_in(provinces.implode()).to_numpy()
    return np.asarray(checksum & date_ok & province_ok, dtype=np.bool_)


def _ric15_valid(norm: pl.Series) -> BoolArray:
    """Legacy 15-digit IDs: known region code and a valid 19yy birth date."""
    _, regions = _regions()
    region_ok = norm.str.slice(0, 6).is_in(regions.implode()).to_numpy()
    born = ("19" + norm.str.slice(6, 6)).str.to_date("%Y%m%d", strict=False)
    return np.asarray(region_ok & born.is_not_null().to_numpy(), dtype=np.bool_)


def _luhn_valid(digits: pl.Series) -> BoolArray:
    """Luhn check of digit strings of at most 19 digits."""
    chars = _char_matrix(digits.str.zfill(19), 19).astype(np.int64) - 48
    doubled = chars[:, 1::2] * 2  # positions 1, 3, ..., 17: every second digit from the right
    doubled -= np.where(doubled > 9, 9, 0)
    total = chars[:, 0::2].sum(axis=1) + doubled.sum(axis=1)
    return np.asarray(total % 10 == 0, dtype=np.bool_)


def _python_check(values: pl.Series, check: Callable[[str], bool]) -> BoolArray:
    """Apply a scalar validator (python-stdnum, ipaddress) to a few candidates."""
    out = np.zeros(len(values), dtype=np.bool_)
    for i, value in enumerate(values.to_list()):
        try:
            out[i] = bool(check(value))
        except (ValueError, TypeError, ArithmeticError):
            out[i] = False
    return out


def _ipv6_valid(value: str) -> bool:
    return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)


def _phone_kind(value: str) -> str | None:
    """``cn_mobile`` / ``cn_landline`` / ``intl_phone`` for a valid +CC number, else None."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if value.startswith("00"):
        digits = digits[2:]
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if number.country_code == 86:
        kind = phonenumbers.number_type(number)
        return CN_MOBILE if kind == phonenumbers.PhoneNumberType.MOBILE else CN_LANDLINE
    return INTL_PHONE


def _subset(
    frame: pl.DataFrame, flag: str, column: str, check: Callable[[pl.Series], BoolArray]
) -> pl.Series:
    """Run ``check`` on the rows where ``flag`` is true; false elsewhere."""
    out = np.zeros(frame.height, dtype=np.bool_)
    idx = frame[flag].arg_true().to_numpy()
    if idx.size:
        out[idx] = check(frame[column].gather(idx))
    return pl.Series(out)
