"""Phone cells: several numbers in one cell become ``phone`` and ``phone_2`` (both searchable).

A cell such as ``13800138000/13900139000`` or ``010-12345678，13800138000`` holds two contact
points of one customer. The numbers of the ``phone`` column, then of a column mapped to
``phone_2``, are taken in order: the first becomes ``phone``, the second ``phone_2``; more than
two is a reject (the row names the column, never the numbers). Each number is normalised and
validated like a single phone (E.164), and both are blind-indexed under the phone index, so
``lookup --by phone`` finds the customer by either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from dealvault.ingest.placeholders import is_placeholder
from dealvault.ingest.validators import phone_fast

FIRST: Final = "phone"
SECOND: Final = "phone_2"
PHONE_FIELDS: Final = (FIRST, SECOND)
MAX_PHONES: Final = 2
TOO_MANY: Final = "more than two phone numbers for one customer"
# Separators between numbers. A space separates only complete numbers (7+ characters each),
# so 138 0013 8000 and +86 138 0013 8000 stay one number.
_SPLIT: Final = r"[/,;，；、|｜]+|或"
_SPACED: Final = r"^\+?[\d\-()（）.]{7,}(?:\s+\+?[\d\-()（）.]{7,})+$"
_EMPTY: Final = pl.lit([], dtype=pl.List(pl.String))
_LIST: Final = "__phl"  # every number of the row, in order
_FROM_FIRST: Final = "__phn"  # how many of them came from the phone column


def phone_list(cell: pl.Expr) -> pl.Expr:
    """The numbers one (stripped, blank-as-null) cell holds, in order; placeholders (无, -)
    and all-zero pieces are dropped, an empty cell gives an empty list."""
    spaced = cell.str.contains(_SPACED).fill_null(False)
    x = pl.when(spaced).then(cell.str.replace_all(r"\s+", ";")).otherwise(cell)
    piece = pl.element().str.strip_chars()
    keep = ~is_placeholder(pl.element()) & ~pl.element().str.contains(r"^0+$")
    parts = x.str.replace_all(_SPLIT, ";").str.split(";").list.eval(piece)
    return parts.list.eval(pl.element().filter(keep)).fill_null(_EMPTY)


@dataclass
class PhonePlan:
    """Expressions ``normalise_batch`` adds for the phone columns of a mapping."""

    stage1: list[pl.Expr] = field(default_factory=list)
    values: list[pl.Expr] = field(default_factory=list)
    #: (field kind, flag column, value column, reason column) for the slow phone rule
    slow: list[tuple[str, str, str, str]] = field(default_factory=list)
    present: pl.Expr = field(default_factory=lambda: pl.lit(False))
    columns: dict[str, str] = field(default_factory=dict)  # field -> source column


def plan_phones(cells: Sequence[tuple[str, str, pl.Expr]]) -> PhonePlan:
    """Plan for the (field, source column, cleaned cell) of the columns mapped to phone fields."""
    plan = PhonePlan()
    if not cells:
        return plan
    ordered = sorted(cells, key=lambda c: PHONE_FIELDS.index(c[0]))
    plan.columns = {f: col for f, col, _ in ordered}
    lists = [phone_list(cell) for _, _, cell in ordered]
    plan.stage1 = [
        pl.concat_list(lists).alias(_LIST) if len(lists) > 1 else lists[0].alias(_LIST),
        lists[0].list.len().alias(_FROM_FIRST),
    ]
    numbers = pl.col(_LIST)
    for k, name in enumerate(PHONE_FIELDS):
        value, reason, flag = phone_fast(numbers.list.get(k, null_on_oob=True))
        plan.values += [
            value.alias(name),
            reason.alias(f"__reason_{name}"),
            flag.alias(f"__slow_{name}"),
        ]
        plan.slow.append(("phone", f"__slow_{name}", name, f"__reason_{name}"))
    plan.values += [
        pl.when(numbers.list.len() > MAX_PHONES).then(pl.lit(TOO_MANY)).alias("__reason_phones"),
        pl.col(_FROM_FIRST),
    ]
    plan.present = numbers.list.len() > 0
    return plan


def finish_phones(out: pl.DataFrame, plan: PhonePlan) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """After the slow rule: drop a second number equal to the first, drop ``phone_2`` when no
    row has one and no column is mapped to it, and attribute each reason to the column its
    number came from. Returns the frame and its (reason column, source column) pairs."""
    first_col = plan.columns[FIRST]  # check_mapping: no phone_2 column without a phone column
    second_col = plan.columns.get(SECOND)
    out = out.with_columns(
        pl.when(pl.col(SECOND) != pl.col(FIRST)).then(pl.col(SECOND)).alias(SECOND)
    )
    n = pl.col(_FROM_FIRST)
    parts: list[tuple[pl.Expr, str | None]] = []
    for k, name in enumerate(PHONE_FIELDS, start=1):
        why = pl.col(f"__reason_{name}")
        parts += [(pl.when(n >= k).then(why), first_col), (pl.when(n < k).then(why), second_col)]
    too_many = pl.col("__reason_phones")
    parts += [
        (pl.when(n > MAX_PHONES).then(too_many), first_col),
        (pl.when(n <= MAX_PHONES).then(too_many), second_col),
    ]
    reasons: list[tuple[str, str]] = []
    cols: list[pl.Expr] = []
    for j, (expr, source) in enumerate(parts):
        if source is None:
            continue
        cols.append(expr.alias(f"__reason_ph{j}"))
        reasons.append((f"__reason_ph{j}", source))
    drop = [f"__reason_{name}" for name in PHONE_FIELDS] + ["__reason_phones", _FROM_FIRST]
    out = out.with_columns(cols).drop(drop)
    if second_col is None and out.get_column(SECOND).null_count() == out.height:
        out = out.drop(SECOND)
    return out, reasons


def second_phone_column(*, columns: Mapping[str, str | None]) -> str | None:
    """Name under which second numbers found in the phone column are listed among the
    dataset's columns (``手机号 (2nd number)``); None without a phone column or when a source
    column is mapped to ``phone_2`` itself."""
    fields = {f: c for c, f in columns.items() if f is not None}
    if FIRST not in fields or SECOND in fields:
        return None
    name = f"{fields[FIRST]} (2nd number)"
    while name in columns:
        name += "'"
    return name
