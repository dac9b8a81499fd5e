"""Column-level evidence for international types: name-shaped columns, national-format phones,
SSN, VIN and gender codes under their headers, ages by header or by distribution."""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from dealvault.classify import intl
from dealvault.classify import patterns as p
from dealvault.classify.cells import BoolArray, Cells, as_mask, matches
from dealvault.classify.dates import date_order
from dealvault.classify.headers import HeaderHint
from dealvault.classify.validators import sequential

KNOWN_NAMES_MIN: Final = 0.35  # share of values with a listed name before the shape may count
NAME_SHAPE_MIN: Final = 0.9  # ... the share of name-shaped values it then needs
NAME_MIN_DISTINCT: Final = 20  # ... and distinct values, unless the header names a person
PHONE_SHAPE_MIN: Final = 0.6  # phone-shaped share before national layouts are tried
# Readings that rule national phone layouts out (a date or an SSN parses as a German number).
NOT_PHONES: Final = ("cn_mobile", "cn_ric", "date", "datetime", "date_of_birth", "us_ssn",
                     "bank_card", "credit_card", "ipv4", "uscc", "vin")  # fmt: skip
GENDER_CODES: Final = ("0", "1", "2", "9")  # ISO/IEC 5218: not known, male, female, n/a
AGE_MAX: Final = 120


def _mean(mask: BoolArray) -> float:
    return float(mask.mean()) if mask.shape[0] else 0.0


def adjust_text(
    *,
    hint: HeaderHint,
    shares: dict[str, float],
    cells: Cells,
    stat: pl.Series,
    ev: dict[str, float],
) -> None:
    """International checks on a text column (after the per-value detectors)."""
    named = "person_name" in hint.types
    if named or shares.get("person_name", 0.0) >= KNOWN_NAMES_MIN:
        known = _mean(intl.person_name(cells))
        shaped = _mean(cells.memo["person"][0])
        ev["share.person_name_shape"] = shaped
        varied = stat.n_unique() >= NAME_MIN_DISTINCT  # a handful of words is a category
        if shaped >= NAME_SHAPE_MIN and (named or varied):
            shares["person_name"] = max(known, shaped)
    if "us_ssn" in hint.types:
        shares["us_ssn"] = _mean(intl.us_ssn(cells) | intl.us_ssn_bare(cells))
    if "vin" in hint.types:  # European VINs need not carry the check digit
        shares["vin"] = _mean(intl.vin_shape(cells))
    if "gender" in hint.types:
        codes = as_mask(cells.raw.is_in(GENDER_CODES))
        shares["gender"] = max(shares.get("gender", 0.0), _mean(codes))
    if shares.get("quantity", 0.0) >= 0.9:
        ints = stat.cast(pl.Int64, strict=False).drop_nulls()
        _age(hint, shares, ints.to_numpy().astype(np.float64), ev)
    _phones(shares, stat, ev)
    if max(shares.get("date", 0.0), shares.get("date_of_birth", 0.0)) >= 0.5:
        order, shown, count = date_order(stat)
        if order:  # the import reads the dates in this order, or refuses a guess (shown 0)
            ev["date_order"], ev["date_order_shown"], ev["day_month_values"] = order, shown, count


def adjust_numeric(*, hint: HeaderHint, shares: dict[str, float], values: pl.Series) -> None:
    """Gender codes (1/2) and ages in a numeric column."""
    f = values.cast(pl.Float64).to_numpy()
    if "gender" in hint.types:
        shares["gender"] = _mean(np.isin(f, (0.0, 1.0, 2.0, 9.0)))
    if "quantity" in shares:
        _age(hint, shares, f, {})


def _age(hint: HeaderHint, shares: dict[str, float], f: np.ndarray, ev: dict[str, float]) -> None:
    """Whole numbers 0-120 under an age header; without one, a spread typical of adults'
    ages (mean 18-70, deviation 8-25, 15 distinct values or more, few under 14)."""
    if f.shape[0] == 0:
        return
    ok = (f >= 0) & (f <= AGE_MAX) & (np.round(f) == f)
    if "age" in hint.types:
        shares["age"] = _mean(ok)
        return
    if hint.types or f.shape[0] < 50 or not ok.all():
        return
    mean, std = float(f.mean()), float(f.std())
    distinct = np.unique(f).shape[0]
    young = _mean(f < 14)
    ev["age_mean"], ev["age_std"] = mean, std
    if 18 <= mean <= 70 and 8 <= std <= 25 and distinct >= 15 and young <= 0.15:
        shares["age"] = 1.0


def _phones(shares: dict[str, float], stat: pl.Series, ev: dict[str, float]) -> None:
    """Phone numbers written without +CC, read in the layout of the column's country."""
    if max((shares.get(t, 0.0) for t in NOT_PHONES), default=0.0) >= 0.5:
        return
    shaped = matches(stat, p.PHONE_SHAPE)
    if _mean(shaped) < PHONE_SHAPE_MIN or sequential(stat):
        return
    share, code, national, tied = intl.national_phones(stat.filter(pl.Series(shaped)))
    share *= _mean(shaped)
    ev["phone_country_code"], ev["share.national_format"] = code, national
    ev["phone_regions_tied"] = tied  # the import refuses to guess between them
    if code != 86 and share > shares.get("cn_landline", 0.0):  # a tie stays Chinese
        shares["intl_phone"] = max(shares.get("intl_phone", 0.0), share)
