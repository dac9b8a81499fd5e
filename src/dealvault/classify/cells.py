"""One column's cell values, normalised once, and the mask helpers detectors share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy.typing as npt
import polars as pl

from dealvault.classify.validators import BoolArray

__all__ = [
    "BoolArray",
    "Cells",
    "as_mask",
    "even_sample",
    "matches",
    "scatter",
    "to_text",
    "validated",
]


class Cells:
    """One column's values as stripped strings (null for blanks) with lazily built forms."""

    __slots__ = ("_compact", "_nchars", "_upper", "memo", "raw", "today")

    def __init__(
        self, values: pl.Series, *, today: date | None = None, drop_blank: bool = False
    ) -> None:
        s = values if values.dtype == pl.String else to_text(values)
        s = s.str.strip_chars()
        blank = s.str.len_bytes() == 0
        s = s.filter(~blank).drop_nulls() if drop_blank else s.set(blank, None)
        self.raw: pl.Series = s
        self.today: date = today or date.today()
        self._compact: pl.Series | None = None
        self._upper: pl.Series | None = None
        self._nchars: pl.Series | None = None
        self.memo: dict[str, tuple[npt.NDArray[Any], ...]] = {}

    def __len__(self) -> int:
        return len(self.raw)

    def subsample(self, k: int) -> Cells:
        """At most ``k`` evenly spaced values (deterministic)."""
        return Cells(even_sample(self.raw, k), today=self.today)

    @property
    def compact(self) -> pl.Series:
        """Spaces and dashes removed (card numbers, IDs and permits are often grouped)."""
        if self._compact is None:
            sep = self.raw.str.contains(r"[ \-\u3000\t]").fill_null(False)
            if sep.any():
                fixed = self.raw.filter(sep).str.replace_all(r"[ \-\u3000\t]", "")
                self._compact = self.raw.clone().scatter(sep.arg_true(), fixed)
            else:
                self._compact = self.raw
        return self._compact

    @property
    def upper(self) -> pl.Series:
        """``compact`` in upper case (permits, USCC, IBAN)."""
        if self._upper is None:
            self._upper = self.compact.str.to_uppercase()
        return self._upper

    @property
    def nchars(self) -> pl.Series:
        if self._nchars is None:
            self._nchars = self.raw.str.len_chars()
        return self._nchars


def even_sample(values: pl.Series, k: int) -> pl.Series:
    """At most ``k`` values spread evenly over the series (first one included)."""
    n = len(values)
    if n <= k:
        return values
    return values.gather_every(-(-n // k)).head(k)


def to_text(values: pl.Series) -> pl.Series:
    """Text form of any column: ISO dates, whole floats without ``.0``, others cast."""
    if values.dtype == pl.Date:
        return values.dt.strftime("%Y-%m-%d")
    if isinstance(values.dtype, pl.Datetime):
        return values.dt.strftime("%Y-%m-%d %H:%M:%S")
    if values.dtype.is_float():
        whole = values.is_not_nan() & (values.round(0) == values) & (values.abs() < 1e18)
        as_int = values.cast(pl.Int64, strict=False).cast(pl.String)
        return pl.select(
            pl.when(pl.lit(whole)).then(pl.lit(as_int)).otherwise(pl.lit(values.cast(pl.String)))
        ).to_series()
    return values.cast(pl.String, strict=False)


def as_mask(mask: pl.Series) -> BoolArray:
    out: BoolArray = mask.fill_null(False).to_numpy()
    return out


def matches(s: pl.Series, pattern: str) -> BoolArray:
    return as_mask(s.str.contains(pattern))


def scatter(mask: BoolArray, valid: BoolArray) -> BoolArray:
    out = mask.copy()
    out[mask] = valid
    return out


def validated(s: pl.Series, pattern: str, check: Callable[[pl.Series], BoolArray]) -> BoolArray:
    mask = matches(s, pattern)
    if not mask.any():
        return mask
    return scatter(mask, check(s.filter(pl.Series(mask))))
