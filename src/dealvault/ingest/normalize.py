"""Vectorised normalisation of a mapped batch into clean rows and rejects (row, column, reason)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from dealvault.errors import InputError
from dealvault.ingest.fields import FIELDS, TableRole
from dealvault.ingest.mapping import ROW_COLUMN, ColumnMapping, check_mapping
from dealvault.ingest.phones import PHONE_FIELDS, finish_phones, plan_phones, split_phones
from dealvault.ingest.placeholders import VALIDATED_KINDS, placeholder_to_null
from dealvault.ingest.validators import (
    PREPARED,
    RULES,
    TWO_STAGE,
    SlowRule,
    blank_to_null,
    two_stage,
)

IDENTIFYING = ("name", "phone", "phone_2", "id_number")
REJECT_SCHEMA = {"row": pl.Int64, "column": pl.String, "reason": pl.String}


@dataclass(frozen=True)
class NormalisedBatch:
    """``clean``: valid rows (canonical fields, extras, ``__row``); ``rejects``: one per problem."""

    clean: pl.DataFrame
    rejects: pl.DataFrame


def normalise_batch(
    *, frame: pl.DataFrame, mapping: ColumnMapping, file: str, first_row: int
) -> NormalisedBatch:
    """Normalise mapped columns by field kind and split valid rows from rejects.

    Empty values, and placeholders such as 无 / N/A / - in validated fields, become null (not
    a reject). A phone cell may hold two numbers (``ingest.phones``). A row with any invalid
    mapped value is rejected with every reason listed; a customers row needs a name, phone or
    ID number, an orders or notes row a customer key. Messages name row and column, never the
    value. A column's reading options (``mapping.options``: phone region, date order) choose
    how its phones and dates are read.
    """
    check_mapping(mapping=mapping, file=file)
    missing = [c for c in mapping.columns if c not in frame.columns]
    if missing:
        raise InputError("mapped column is missing from the data", file=file, column=missing[0])
    # placeholders (无, N/A) out of the validated columns first, one regex pass per column
    frame = frame.with_columns(
        placeholder_to_null(blank_to_null(pl.col(c))).alias(c)
        for c, f in mapping.columns.items()
        if f is not None and FIELDS[f].kind in VALIDATED_KINDS
    )
    n = frame.height
    values: list[pl.Expr] = [pl.col(ROW_COLUMN)]
    stage1: list[pl.Expr] = [(pl.int_range(n, dtype=pl.Int64) + first_row).alias(ROW_COLUMN)]
    reasons: list[tuple[str, str]] = []  # (reason column, source column)
    slow: list[tuple[SlowRule, str, str, str]] = []  # (rule, flag, value, reason column)
    phone_cells: list[tuple[str, str, str]] = []
    for i, col in enumerate(frame.columns):
        f = mapping.columns.get(col)
        cell = blank_to_null(pl.col(col))
        stage1.append(cell.alias(f"__b{i}"))
        raw = pl.col(f"__b{i}")
        if f is None:
            values.append(raw.alias(col))
            continue
        if f in PHONE_FIELDS:
            phone_cells.append((f, col, f"__b{i}"))
            continue
        kind = FIELDS[f].kind
        if kind in PREPARED:
            prep, check = PREPARED[kind]
            stage1 += [e.alias(f"__p{i}_{k}") for k, e in prep(cell).items()]
            v, r = check(lambda k, i=i: pl.col(f"__p{i}_{k}"))  # type: ignore[misc]
            values += [v.alias(f), r.alias(f"__reason{i}")]
            reasons.append((f"__reason{i}", col))
            continue
        if kind in TWO_STAGE:
            fast, slow_rule = two_stage(kind=kind, options=mapping.options_of(col))
            v, r, flag = fast(raw)
            slow.append((slow_rule, f"__slow{i}", f, f"__reason{i}"))
            values += [v.alias(f), r.alias(f"__reason{i}"), flag.alias(f"__slow{i}")]
            reasons.append((f"__reason{i}", col))
            continue
        v, r = RULES.get(kind, RULES["text"])(raw)
        values += [v.alias(f), r.alias(f"__reason{i}")]
        reasons.append((f"__reason{i}", col))
    phones = plan_phones(
        phone_cells, regions={f: mapping.options_of(c).phone_region for f, c, _ in phone_cells}
    )
    values += phones.values
    slow += phones.slow
    # row-level rules
    position = {c: i for i, c in enumerate(frame.columns)}
    present = [
        pl.col(f"__b{position[c]}").is_not_null()
        for c, f in mapping.columns.items()
        if f in IDENTIFYING and f not in PHONE_FIELDS
    ]
    if phone_cells:
        present.append(phones.present)
    if mapping.table_role is TableRole.CUSTOMERS:
        has_id = pl.any_horizontal(present) if present else pl.lit(False)
        values.append(
            pl.when(~has_id).then(pl.lit("row has no identifying field")).alias("__reason_row")
        )
        reasons.append(("__reason_row", ""))
    else:
        key_col = mapping.column_of("customer_key")
        assert key_col is not None  # check_mapping guarantees it
        values.append(
            pl.when(pl.col(f"__b{position[key_col]}").is_null())
            .then(pl.lit("missing customer key"))
            .alias("__reason_key")
        )
        reasons.append(("__reason_key", key_col))
    if phone_cells:  # several numbers in a cell: split between the two stages
        cleaned = split_phones(frame.lazy().select(stage1).collect(), phones)
        out = cleaned.lazy().select(values).collect()
    else:
        out = frame.lazy().select(stage1).select(values).collect()
    for rule, flag_col, value_col, reason_col in slow:
        out = _finish(out, rule, flag_col, value_col, reason_col)
    if phone_cells:
        out, phone_reasons = finish_phones(out, phones)
        reasons += phone_reasons
    reason_cols = [r for r, _ in reasons]
    bad = out.select(pl.any_horizontal([pl.col(r).is_not_null() for r in reason_cols])).to_series()
    rejects = _rejects(out.filter(bad), reasons)
    clean = out.filter(~bad).drop(reason_cols)
    return NormalisedBatch(
        clean=clean.select(_source_order(clean, frame, mapping)), rejects=rejects
    )


def _source_order(clean: pl.DataFrame, frame: pl.DataFrame, mapping: ColumnMapping) -> list[str]:
    """Output columns in the order of the source columns (a second phone after the first)."""
    order = [ROW_COLUMN]
    for col in frame.columns:
        name = mapping.columns.get(col) or col
        order += [name, "phone_2"] if name == "phone" else [name]
    return [c for c in dict.fromkeys(order) if c in clean.columns]


def _finish(
    out: pl.DataFrame, rule: SlowRule, flag: str, value_col: str, reason_col: str
) -> pl.DataFrame:
    """Run a slow rule on flagged rows only and write value and reason back."""
    idx = out.select(pl.arg_where(pl.col(flag))).to_series()
    if idx.len():
        vals, why = rule(out[value_col].gather(idx))
        out = out.with_columns(
            out[value_col].scatter(idx, vals.cast(pl.String)),
            out[reason_col].scatter(idx, why.cast(pl.String)),
        )
    return out.drop(flag)


def _rejects(bad: pl.DataFrame, reasons: list[tuple[str, str]]) -> pl.DataFrame:
    """One line per (row, source column, reason); row-level reasons have a null column."""
    if bad.height == 0:
        return pl.DataFrame(schema=REJECT_SCHEMA)
    parts = [
        bad.select(
            pl.col(ROW_COLUMN).alias("row"),
            pl.lit(src or None, dtype=pl.String).alias("column"),
            pl.col(r).alias("reason"),
        ).filter(pl.col("reason").is_not_null())
        for r, src in reasons
    ]
    return pl.concat(parts).sort("row", maintain_order=True)
