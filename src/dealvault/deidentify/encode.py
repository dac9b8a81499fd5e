"""Quasi-identifiers as Mondrian dimensions (integer codes in value order) and outlier scores."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.deidentify.mondrian import Bools, Dimension, Floats, Ints
from dealvault.errors import Invalid


@dataclass(frozen=True)
class QuasiIdentifier:
    """A column an attacker may know. ``numeric``: integers or floats (or text holding them);
    ``date``: ``Date``, ``Datetime`` (the day is used) or ISO ``YYYY-MM-DD`` text;
    ``categorical``: any values; with a ``hierarchy`` they generalise to the lowest common
    ancestor, without one to ``*`` unless the class holds a single value."""

    column: str
    kind: Literal["numeric", "date", "categorical"]
    hierarchy: Hierarchy | None = None


@dataclass(frozen=True)
class Encoded:
    """A quasi-identifier as a Mondrian dimension plus what generalisation needs."""

    qi: QuasiIdentifier
    dim: Dimension
    values: pl.Series | None  # value per code (null at the null code); None with a hierarchy
    numbers: Floats | None  # numeric/date: value per code as float (NaN at the null code)


def _first_bad(bad: pl.Series) -> int:
    return int(bad.arg_true()[0]) + 1


def as_number(s: pl.Series, column: str) -> pl.Series:
    if s.dtype.is_integer() or s.dtype in (pl.Boolean, pl.Null):
        return s.cast(pl.Int64)
    if s.dtype.is_float() or s.dtype.is_decimal():
        number = s.cast(pl.Float64).fill_nan(None)
    elif s.dtype == pl.Utf8:
        text = s.str.strip_chars()
        text = pl.select(pl.when(text.str.len_chars() > 0).then(text)).to_series()
        whole = text.cast(pl.Int64, strict=False)
        if whole.null_count() == text.null_count():
            return whole
        number = text.cast(pl.Float64, strict=False).fill_nan(None)
        bad = number.is_null() & text.is_not_null()
        if bad.any():
            raise Invalid(
                f"column {column!r}, row {_first_bad(bad)}: not a number (values are not shown)"
            )
    else:
        raise Invalid(f"column {column!r} has type {s.dtype}, not numbers")
    infinite = number.is_infinite().fill_null(False)
    if infinite.any():
        raise Invalid(f"column {column!r}, row {_first_bad(infinite)}: not a finite number")
    return number


def as_date(s: pl.Series, column: str) -> pl.Series:
    if s.dtype in (pl.Date, pl.Null):
        return s.cast(pl.Date)
    if isinstance(s.dtype, pl.Datetime):
        return s.dt.date()
    if s.dtype != pl.Utf8:
        raise Invalid(f"column {column!r} has type {s.dtype}, not dates")
    text = s.str.strip_chars()
    text = pl.select(pl.when(text.str.len_chars() > 0).then(text)).to_series()
    day = text.str.to_date("%Y-%m-%d", strict=False)
    bad = day.is_null() & text.is_not_null()
    if bad.any():
        raise Invalid(
            f"column {column!r}, row {_first_bad(bad)}: not an ISO date YYYY-MM-DD"
            " (values are not shown)"
        )
    return day


def stable_order(codes: Ints, n_codes: int) -> Ints:
    """Rows sorted stably by code (numpy radix-sorts 16-bit keys)."""
    small = codes.astype(np.int16) if n_codes < 2**15 else codes
    return np.argsort(small, kind="stable").astype(np.int64)


def encode(frame: pl.DataFrame, qi: QuasiIdentifier) -> Encoded:
    s = frame.get_column(qi.column)
    if qi.kind == "categorical":
        return encode_categorical(s, qi)
    typed = as_number(s, qi.column) if qi.kind == "numeric" else as_date(s, qi.column)
    nulls = typed.is_null().to_numpy()
    off = int(nulls.any())
    raw = typed.to_physical().drop_nulls().to_numpy()
    present = np.flatnonzero(~nulls)
    perm = np.argsort(raw, kind="stable")
    ordered = raw[perm]
    fresh = np.ones(len(ordered), dtype=np.bool_)
    fresh[1:] = ordered[1:] != ordered[:-1]
    codes = np.zeros(len(nulls), dtype=np.int64)
    codes[present[perm]] = np.cumsum(fresh) - 1 + off
    distinct = ordered[fresh]
    numbers = distinct.astype(np.float64)
    span = float(numbers[-1] - numbers[0]) if len(numbers) else 0.0
    scale = (numbers - numbers[0]) / span if span > 0 else np.zeros(len(numbers))
    values = pl.Series(qi.column, distinct).cast(typed.dtype)
    if off:
        scale = np.concatenate([[0.0], scale])
        numbers = np.concatenate([[np.nan], numbers])
        values = pl.concat([pl.Series(qi.column, [None], dtype=typed.dtype), values])
    order = np.concatenate([np.flatnonzero(nulls), present[perm]])
    dim = Dimension(codes=codes, scale=scale, null_code=off - 1, order=order)
    return Encoded(qi=qi, dim=dim, values=values, numbers=numbers)


def encode_categorical(s: pl.Series, qi: QuasiIdentifier) -> Encoded:
    text = s.cast(pl.Utf8)
    nulls = text.is_null().to_numpy()
    off = int(nulls.any())
    values: pl.Series | None = None
    if qi.hierarchy is not None:
        filled = text.fill_null(qi.hierarchy.leaves[0]) if off else text
        codes = qi.hierarchy.leaf_codes(filled, column=qi.column) + off
        n_values = len(qi.hierarchy.leaves)
    else:
        distinct = text.drop_nulls().unique().sort()
        lookup = pl.DataFrame({"v": distinct, "c": np.arange(len(distinct), dtype=np.int64)})
        joined = text.to_frame("v").join(lookup, on="v", how="left", maintain_order="left")
        codes = joined.get_column("c").fill_null(-1).to_numpy().astype(np.int64) + off
        n_values = len(distinct)
        values = distinct.alias(qi.column)
        if off:
            values = pl.concat([pl.Series(qi.column, [None], dtype=pl.Utf8), values])
    codes[nulls] = 0
    scale = np.arange(n_values, dtype=np.float64) / max(n_values - 1, 1)
    if off:
        scale = np.concatenate([[0.0], scale])
    order = stable_order(codes, n_values + off)
    dim = Dimension(codes=codes, scale=scale, null_code=off - 1, order=order)
    return Encoded(qi=qi, dim=dim, values=values, numbers=None)


def dense_codes(s: pl.Series) -> tuple[Ints, int]:
    """Dense codes of any column (null is a value of its own) and how many there are."""
    codes = s.rank("dense").fill_null(0).to_numpy().astype(np.int64)
    if not s.null_count():
        codes -= 1
    return codes, int(codes.max()) + 1 if len(codes) else 0


def outliers(encoded: list[Encoded], *, k: int, budget: float, rows: int) -> Bools:
    """Rows to suppress: the highest outlier scores, at most floor(budget x rows)."""
    out = np.zeros(rows, dtype=np.bool_)
    limit = math.floor(budget * rows)
    if limit <= 0:
        return out
    score = np.zeros(rows, dtype=np.float64)
    for e in encoded:
        counts = np.bincount(e.dim.codes, minlength=e.dim.n_codes)
        per_code = np.where((counts > 0) & (counts < k), (k - counts) / k, 0.0)
        if e.dim.null_code >= 0 and counts[e.dim.null_code] < k:
            per_code[e.dim.null_code] = np.inf
        if e.numbers is not None:
            start = e.dim.null_code + 1  # value codes follow the null code, if any
            per_code[start:] = _tukey(e.numbers[start:], counts[start:])
        score += per_code[e.dim.codes]
    candidates = np.flatnonzero(score > 0)
    if len(candidates) > limit:
        candidates = candidates[np.argsort(-score[candidates], kind="stable")[:limit]]
    out[candidates] = True
    return out


def _tukey(numbers: Floats, counts: Ints) -> Floats:
    """Per distinct value (with its row count): distance outside the Tukey fences in IQR
    units (range units when the IQR is 0; 0 inside the fences)."""
    if not len(numbers):
        return numbers
    q1, q3 = np.quantile(np.repeat(numbers, counts), [0.25, 0.75])
    iqr = q3 - q1
    unit = iqr if iqr > 0 else (numbers[-1] - numbers[0]) or 1.0
    outside = np.maximum(np.maximum((q1 - 1.5 * iqr) - numbers, numbers - (q3 + 1.5 * iqr)), 0)
    result: Floats = outside / unit
    return result
