"""Phone cells: several numbers in one cell become ``phone`` and ``phone_2`` (both searchable).

A cell such as ``13800138000/13900139000`` or ``010-12345678，13800138000`` holds two contact
points of one customer. The numbers of the ``phone`` column, then of a column mapped to
``phone_2``, are taken in order: the first becomes ``phone``, the second ``phone_2``; more than
two is a reject (the row names the column, never the numbers). Each number is normalised and
validated like a single phone (E.164), and both are blind-indexed under the phone index, so
``lookup --by phone`` finds the customer by either. A number without +CC is read in the region
of the column it came from (``phone_region``; none: Chinese).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from dealvault.ingest.options import ColumnOptions
from dealvault.ingest.placeholders import is_placeholder
from dealvault.ingest.validators import FastRule, SlowRule, two_stage

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
# A cell that may hold more (or less) than one number: a separator, spaced numbers, zeros.
_MULTI: Final = rf"{_SPLIT}|{_SPACED}|^0+$"
_NUMBERS: Final = ("__ph1", "__ph2")  # the first and second number of the row, as written
_COUNT: Final = "__phc"  # how many numbers the row has
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
    """What ``normalise_batch`` adds for the phone columns of a mapping."""

    cells: list[str] = field(default_factory=list)  # cleaned cell columns, phone column first
    values: list[pl.Expr] = field(default_factory=list)
    #: (slow rule, flag column, value column, reason column) for the slow phone rules
    slow: list[tuple[SlowRule, str, str, str]] = field(default_factory=list)
    present: pl.Expr = field(default_factory=lambda: pl.lit(False))
    columns: dict[str, str] = field(default_factory=dict)  # field -> source column


def _rules(region: str | None) -> tuple[FastRule, SlowRule]:
    return two_stage(kind="phone", options=ColumnOptions(phone_region=region))


def plan_phones(
    cells: Sequence[tuple[str, str, str]], *, regions: Mapping[str, str | None] | None = None
) -> PhonePlan:
    """Plan for the (field, source column, cleaned cell column) of the phone columns;
    ``regions``: field -> region its numbers without +CC are read in (None: Chinese)."""
    plan = PhonePlan()
    if not cells:
        return plan
    ordered = sorted(cells, key=lambda c: PHONE_FIELDS.index(c[0]))
    plan.columns = {f: col for f, col, _ in ordered}
    plan.cells = [cell for _, _, cell in ordered]
    first, second = ((regions or {}).get(f) for f in PHONE_FIELDS)
    rules = _rules(first)
    for k, (number, name) in enumerate(zip(_NUMBERS, PHONE_FIELDS, strict=True), start=1):
        value, reason, flag = rules[0](pl.col(number))
        flags = [(rules[1], flag, f"__slow_{name}")]
        if SECOND in plan.columns and second != first:
            # the k-th number came from the phone column when it held k numbers or more
            own = _rules(second)
            from_first = pl.col(_FROM_FIRST) >= k
            value2, reason2, flag2 = own[0](pl.col(number))
            value = pl.when(from_first).then(value).otherwise(value2)
            reason = pl.when(from_first).then(reason).otherwise(reason2)
            flags = [
                (rules[1], from_first & flag, f"__slow_{name}"),
                (own[1], ~from_first & flag2, f"__slow2_{name}"),
            ]
        plan.values += [value.alias(name), reason.alias(f"__reason_{name}")]
        for rule, expr, flag_col in flags:
            plan.values.append(expr.alias(flag_col))
            plan.slow.append((rule, flag_col, name, f"__reason_{name}"))
    plan.values += [
        pl.when(pl.col(_COUNT) > MAX_PHONES).then(pl.lit(TOO_MANY)).alias("__reason_phones"),
        pl.col(_FROM_FIRST),
    ]
    plan.present = pl.col(_COUNT) > 0
    return plan


def split_phones(frame: pl.DataFrame, plan: PhonePlan) -> pl.DataFrame:
    """``frame`` with the first and second number of each row, how many it has and how many
    came from the phone column. Cells with one number (nearly all) take the fast path; only
    cells with a separator, spaced numbers or zeros are split into lists."""
    cells = [pl.col(c) for c in plan.cells]
    second = cells[1] if len(cells) > 1 else pl.lit(None, dtype=pl.String)
    out = frame.with_columns(
        pl.coalesce(cells).alias(_NUMBERS[0]),
        pl.when(cells[0].is_not_null()).then(second).alias(_NUMBERS[1]),
        pl.sum_horizontal([c.is_not_null() for c in cells]).cast(pl.Int64).alias(_COUNT),
        cells[0].is_not_null().cast(pl.Int64).alias(_FROM_FIRST),
    )
    multi = out.select(
        pl.any_horizontal([c.str.contains(_MULTI).fill_null(False) for c in cells])
    ).to_series()
    if not multi.any():
        return out
    idx = multi.arg_true()
    lists = [phone_list(c) for c in cells]
    numbers = pl.concat_list(lists) if len(lists) > 1 else lists[0]
    split = (
        out.select(plan.cells)
        .gather(idx)
        .select(
            numbers.list.get(0, null_on_oob=True).alias(_NUMBERS[0]),
            numbers.list.get(1, null_on_oob=True).alias(_NUMBERS[1]),
            numbers.list.len().cast(pl.Int64).alias(_COUNT),
            lists[0].list.len().cast(pl.Int64).alias(_FROM_FIRST),
        )
    )
    return out.with_columns(
        out.get_column(c).scatter(idx, split.get_column(c)) for c in split.columns
    )


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
