"""The consent file from the seller's systems: read whole and checked row by row, refused
naming file, row and column of each problem (never the value)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from dealvault.errors import InputError
from dealvault.files import file_problem
from dealvault.ingest.fields import Category

#: what a consent is for: ``service`` (the contract itself), ``marketing`` (advertising and
#: promotion), ``transfer`` (handing the information to a successor), ``sensitive``
#: (processing sensitive personal information), ``guardian`` (a parent's or guardian's
#: consent for a child under 14), ``cross_border`` (providing it abroad)
PURPOSES: Final = ("service", "marketing", "transfer", "sensitive", "guardian", "cross_border")
REQUIRED: Final = ("purpose", "given_at", "source")
KEYS: Final = ("customer_key", "subject_id")
OPTIONAL: Final = ("scope", "separate", "withdrawn_at")
MAX_ERRORS: Final = 20
_TRUE: Final = ("true", "yes", "y", "1", "是")
_FALSE: Final = ("false", "no", "n", "0", "否", "")
_CATEGORIES: Final = tuple(c.value for c in Category)
_TIME_HELP: Final = "is not a date or time (2026-03-01, or ISO 8601 with its offset)"


def _time(col: str) -> pl.Expr:
    text = pl.col(col).str.strip_chars().str.replace(r"Z$", "+00:00")
    return pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_zone="UTC"),
        text.str.to_date("%Y-%m-%d", strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
    )


def read_consent_file(path: Path) -> pl.DataFrame:
    """Columns ``row, key_kind, key, purpose, scope, separate, given_at, withdrawn_at, source``
    (``key_kind``: ``customer_key`` or ``subject_id``, whichever column the file has)."""
    name = path.name
    problem = file_problem(path)
    if problem is not None:
        raise InputError(problem, file=name)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError):
        raise InputError("not a readable UTF-8 CSV file", file=name) from None
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    absent = [c for c in REQUIRED if c not in frame.columns]
    if absent:
        raise InputError("the header has no such column", file=name, column=absent[0])
    keys = [k for k in KEYS if k in frame.columns]
    if len(keys) != 1:
        raise InputError(
            "the header needs exactly one of the columns customer_key (the seller's customer "
            "number) or subject_id",
            file=name,
        )
    for c in OPTIONAL:
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    scope = pl.col("scope").fill_null("").str.strip_chars().str.to_lowercase()
    checked = frame.select(
        pl.int_range(2, pl.len() + 2).alias("row"),
        pl.lit(keys[0]).alias("key_kind"),
        pl.col(keys[0]).str.strip_chars().alias("key"),
        pl.col("purpose").str.strip_chars().str.to_lowercase().alias("purpose"),
        scope.str.replace_all(r"\s+", "").alias("scope"),
        pl.col("separate").fill_null("").str.strip_chars().str.to_lowercase().alias("separate"),
        _time("given_at").alias("given_at"),
        _time("withdrawn_at").alias("withdrawn_at"),
        pl.col("withdrawn_at").fill_null("").str.strip_chars().alias("withdrawn_text"),
        pl.col("source").str.strip_chars().alias("source"),
    )
    bad_scope = (
        checked.get_column("scope")
        .str.split(",")
        .list.eval(pl.element().filter(pl.element() != "").is_in(_CATEGORIES).not_())
        .list.any()
        .fill_null(False)
    )
    lit = pl.lit
    errors = pl.concat(
        [
            checked.filter(pl.col("key").is_null() | (pl.col("key") == "")).select(
                "row", lit(keys[0]).alias("column"), lit("is empty").alias("why")
            ),
            checked.filter(~pl.col("purpose").is_in(PURPOSES) | pl.col("purpose").is_null()).select(
                "row", lit("purpose").alias("column"),
                lit(f"is not one of {', '.join(PURPOSES)}").alias("why"),
            ),
            checked.filter(pl.col("given_at").is_null()).select(
                "row", lit("given_at").alias("column"), lit(_TIME_HELP).alias("why")
            ),
            checked.filter(
                pl.col("withdrawn_at").is_null() & (pl.col("withdrawn_text") != "")
            ).select("row", lit("withdrawn_at").alias("column"), lit(_TIME_HELP).alias("why")),
            checked.filter(pl.col("withdrawn_at") < pl.col("given_at")).select(
                "row", lit("withdrawn_at").alias("column"),
                lit("is before the consent was given").alias("why"),
            ),
            checked.filter(~pl.col("separate").is_in(_TRUE + _FALSE)).select(
                "row", lit("separate").alias("column"), lit("is not yes or no").alias("why")
            ),
            checked.filter(bad_scope).select(
                "row", lit("scope").alias("column"),
                lit(f"names a category other than {', '.join(_CATEGORIES)}").alias("why"),
            ),
            checked.filter(
                pl.col("source").is_null()
                | (pl.col("source").str.len_chars() > 64)
                | (pl.col("source") == "")
                | pl.col("source").str.contains(r"@|\d{7,}")
            ).select(
                "row", lit("source").alias("column"),
                lit("must name the system or form (1-64 characters, no e-mail address or long "
                    "number)").alias("why"),
            ),
            checked.filter(
                pl.struct("key", "purpose", "given_at").is_duplicated()
                & pl.col("key").is_not_null()
            ).select(
                "row", lit("given_at").alias("column"),
                lit("repeats another row's customer, purpose and time").alias("why"),
            ),
        ]
    ).sort("row", "column")  # fmt: skip
    refuse(name, errors)
    return checked.with_columns(pl.col("separate").is_in(_TRUE).alias("separate")).drop(
        "withdrawn_text"
    )


def refuse(name: str, errors: pl.DataFrame) -> None:
    """Raise naming each bad row and column (at most ``MAX_ERRORS`` shown)."""
    if errors.is_empty():
        return
    shown = [f"row {r}, column {c!r}: {w}" for r, c, w in errors.head(MAX_ERRORS).iter_rows()]
    more = f" (and {errors.height - MAX_ERRORS} more)" if errors.height > MAX_ERRORS else ""
    raise InputError(f"{errors.height} bad row(s): " + "; ".join(shown) + more, file=name)
