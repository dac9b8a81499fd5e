"""Columns released beside the generalised quasi-identifiers (kept and sensitive columns): the
refusal of high-cardinality kept columns, their generalisation, the columns declared
non-identifying, and the re-identification risk over every column that counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import polars as pl

from dealvault.deidentify import metrics
from dealvault.deidentify.encode import dense_codes
from dealvault.deidentify.generalise import DATE_UNITS, date_ranges, numeric_ranges
from dealvault.deidentify.metrics import RiskFigures
from dealvault.deidentify.mondrian import Bools, Ints
from dealvault.errors import Invalid

#: A kept column may hold at most this many distinct values (after its generalisation) ...
KEEP_MAX_DISTINCT: Final = 20
#: ... and on average at least k rows per value: distinct values <= rows // k.
_ISO_DAY: Final = r"^\d{4}-\d{2}-\d{2}(?:$|[T ])"

Kind = Literal["numeric", "date", "text"]


@dataclass(frozen=True)
class Kept:
    """A ``--keep`` column: ``COLUMN``, ``COLUMN:range=WIDTH`` (numbers to ranges of that
    width) or ``COLUMN:year|quarter|month|week`` (dates to that calendar period)."""

    column: str
    rule: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Kept:
        column, sep, rule = spec.partition(":")
        column, rule = column.strip(), rule.strip()
        if not column or (sep and not rule):
            raise Invalid(f"--keep needs COLUMN or COLUMN:RULE, got {spec!r}")
        if rule and rule not in DATE_UNITS and not rule.startswith("range="):
            raise Invalid(
                f"--keep {column!r}: unknown generalisation {rule!r}; use range=WIDTH for"
                f" numbers or one of {', '.join(DATE_UNITS)} for dates"
            )
        return cls(column=column, rule=rule or None)


def kind_of(values: pl.Series) -> Kind:
    """``numeric`` (numbers, or text that is all numbers), ``date`` (dates, date-times, or
    text that is all ISO dates) or ``text``. Booleans are text (two values)."""
    dtype = values.dtype
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_temporal():
        return "date"
    if dtype != pl.String:
        return "text"
    text = values.str.strip_chars().drop_nulls()
    text = text.filter(text != "")
    if text.is_empty():
        return "text"
    if text.cast(pl.Float64, strict=False).null_count() == 0:
        return "numeric"
    if text.str.contains(_ISO_DAY).all():
        return "date"
    return "text"


def release_kept(frame: pl.DataFrame, *, kept: Sequence[Kept], k: int) -> list[pl.Series]:
    """The kept columns as released, each generalised by its rule.

    Refused, naming the column (never a value): a numeric or date column (amounts, counts,
    dates) without a generalisation, a rule that does not fit the column's kind, and a column
    whose released values number more than ``min(KEEP_MAX_DISTINCT, rows // k)`` distinct
    (non-null) values — such a column splits the k-anonymous classes into small groups.
    """
    limit = min(KEEP_MAX_DISTINCT, frame.height // k)
    out = []
    for item in kept:
        values = frame.get_column(item.column)
        kind = kind_of(values)
        if item.rule is None and kind != "text":
            how = "range=WIDTH" if kind == "numeric" else "|".join(DATE_UNITS)
            raise Invalid(
                f"--keep {item.column!r}: {kind} values (amounts, counts, dates) are released"
                f" only generalised, e.g. --keep {item.column}:{how}; or make it a"
                " quasi-identifier (--qi)"
            )
        if item.rule is not None:
            values = _generalised(values, rule=item.rule, kind=kind, column=item.column)
        distinct = values.drop_nulls().n_unique()
        if distinct > limit:
            raise Invalid(
                f"--keep {item.column!r}: {distinct} distinct released values, more than"
                f" {limit} (at most {KEEP_MAX_DISTINCT}, and at least k = {k} rows per value"
                " on average); generalise it more coarsely, make it a quasi-identifier"
                " (--qi), or leave it out"
            )
        out.append(values)
    return out


def _generalised(values: pl.Series, *, rule: str, kind: Kind, column: str) -> pl.Series:
    if rule in DATE_UNITS:
        if kind != "date":
            raise Invalid(f"--keep {column!r}: {rule!r} generalises dates, this is {kind}")
        return date_ranges(values, unit=rule)
    if kind != "numeric":
        raise Invalid(f"--keep {column!r}: range=WIDTH generalises numbers, this is {kind}")
    width_text = rule.removeprefix("range=")
    try:
        width = float(width_text)
    except ValueError:
        raise Invalid(f"--keep {column!r}: range width {width_text!r} is not a number") from None
    return numeric_ranges(values, width=width)


def check_non_identifying(
    declared: Mapping[str, str], *, released: Sequence[str], quasi: Sequence[str]
) -> dict[str, str]:
    """The declarations, checked: each names a released kept or sensitive column (a
    quasi-identifier cannot be one) and gives a reason; returns them with reasons trimmed."""
    out: dict[str, str] = {}
    for column, reason in declared.items():
        if column in quasi:
            raise Invalid(
                f"{column!r} is a quasi-identifier: it cannot be declared non-identifying"
            )
        if column not in released:
            raise Invalid(
                f"{column!r} is declared non-identifying but is not released (name it with"
                " --keep or --sensitive)"
            )
        if not reason.strip():
            raise Invalid(f"{column!r} is declared non-identifying without a reason")
        out[column] = reason.strip()
    return out


def risk_over(*, keys: Sequence[pl.Series | Ints], rows: Bools | None = None) -> RiskFigures:
    """Prosecutor risk of the groups of rows that agree on every key (columns, or integer
    codes such as class numbers), over the rows flagged in ``rows`` (all when None)."""
    codes, cards = [], []
    for key in keys:
        if isinstance(key, pl.Series):
            c, n = dense_codes(key)
        else:
            c, n = key, int(key.max()) + 1 if len(key) else 0
        codes.append(c if rows is None else c[rows])
        cards.append(n)
    if not codes or not len(codes[0]):
        return metrics.risk(sizes=np.zeros(0, dtype=np.int64))
    return metrics.risk(sizes=metrics.combination_sizes(codes=codes, cards=cards))
