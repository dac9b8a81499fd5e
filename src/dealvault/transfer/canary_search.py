"""Finding canary customers in a leaked file: every cell in normalised forms, matched against
the canaries' contact points, names and tokens."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

import polars as pl

from dealvault.deidentify.masking import mask_field
from dealvault.transfer.canaries import CanaryRecord

_YMD: Final = r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})"
_TOKEN: Final = r"^[0-9a-f]{32}$"  # noqa: S105 - a pattern


def _key(form: str) -> pl.Expr:
    """One normalised form of a cell's text: trimmed, lower or upper case, an 11-digit mobile
    (from +86, spaces, dashes, a trailing .0 of a spreadsheet number), or a YYYYMMDD date."""
    text = pl.col("value").str.strip_chars()
    if form == "text":
        return text
    if form == "lower":
        return text.str.to_lowercase()
    if form == "upper":
        return text.str.to_uppercase()
    if form == "phone":
        digits = text.str.replace(r"\.0$", "").str.replace_all(r"\D", "")
        n = digits.str.len_chars()
        return (
            pl.when(n == 11)
            .then(digits)
            .when((n == 13) & digits.str.starts_with("86"))
            .then(digits.str.slice(2))
        )
    ymd = pl.concat_str(
        text.str.extract(_YMD, 1),
        text.str.extract(_YMD, 2).str.zfill(2),
        text.str.extract(_YMD, 3).str.zfill(2),
    )
    return pl.coalesce(ymd, text.str.extract(r"^(\d{8})$", 1))


FORMS: Final = ("text", "lower", "upper", "phone", "date")


def column_cells(frames: Sequence[pl.DataFrame]) -> Iterator[pl.LazyFrame]:
    """Each column of each frame as (``row``, ``value``) text, rows numbered across frames
    (sheets); columns that cannot be text (nested data) are skipped. One column at a time, so
    a big file never needs a long copy of all its cells."""
    offset = 0
    for frame in frames:
        rows = pl.int_range(offset, offset + frame.height, dtype=pl.Int64, eager=True)
        for name in frame.columns:
            try:
                values = frame.get_column(name).cast(pl.String)
            except pl.exceptions.PolarsError:
                continue
            yield (
                pl.DataFrame({"row": rows, "value": values})
                .lazy()
                .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
            )
        offset += frame.height


def cell_count(frames: Sequence[pl.DataFrame]) -> int:
    """Non-empty cells of the frames (those that are compared)."""
    return sum(int(c.select(pl.len()).collect().item()) for c in column_cells(frames))


def tokens_in(frames: Sequence[pl.DataFrame]) -> pl.Series:
    """Distinct 32-hex values (candidate recipient tokens) in any cell, lower case."""
    parts = [
        cells.select(_key("lower").alias("token"))
        .filter(pl.col("token").str.contains(_TOKEN))
        .collect()
        .get_column("token")
        for cells in column_cells(frames)
    ]
    if not parts:
        return pl.Series("token", [], dtype=pl.String)
    return pl.concat(parts).unique().sort()


def _probes(records: Sequence[CanaryRecord]) -> pl.DataFrame:
    """(canary, field, form, key): what each canary looks like in clear and masked files."""
    rows: list[tuple[int, str, str, str | None]] = []
    for r in records:
        rows += [
            (r.id, "email", "lower", r.email.lower()),
            (r.id, "phone", "phone", r.phone[-11:]),
            (r.id, "name", "text", r.name),
            (r.id, "m_name", "text", mask_field("name", r.name)),
            (r.id, "m_phone", "text", mask_field("phone", r.phone)),
            (r.id, "m_email", "lower", (mask_field("email", r.email) or "").lower()),
        ]
        if r.rebuilt and r.id_number and r.birth_date:
            rows += [
                (r.id, "id_number", "upper", r.id_number.upper()),
                (r.id, "birth_date", "date", r.birth_date.replace("-", "")),
                (r.id, "m_id", "upper", mask_field("id_number", r.id_number)),
            ]
    schema = {"canary": pl.Int64, "field": pl.String, "form": pl.String, "key": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row").drop_nulls()


def find_canaries(frames: Sequence[pl.DataFrame], records: Sequence[CanaryRecord]) -> pl.DataFrame:
    """Which canaries a file's frames hold and by which rule (``canary``, ``rule``). Column
    names and order do not matter: every cell is compared with every canary field.

    Rules: the e-mail, the phone or the ID number anywhere; the name and birth date in one row;
    two masked fields (张*明, 170****0101, z***@canary.invalid, 110105********002X) in one row,
    one of them the masked phone or ID number.
    """
    empty = pl.DataFrame(schema={"canary": pl.Int64, "rule": pl.String})
    if not records:
        return empty
    probes = _probes(records)
    by_form = {f: probes.filter(pl.col("form") == f).drop("form") for f in FORMS}
    # normalising every cell to a phone number is slow: only cells that may match are
    ends = by_form["phone"].get_column("key").str.slice(-4).unique().to_list()
    parts: list[pl.DataFrame] = []
    for cells in column_cells(frames):
        for form, wanted in by_form.items():
            if wanted.height == 0:
                continue
            source = cells
            if form == "phone":
                source = cells.filter(pl.col("value").str.contains_any(ends))
            parts.append(
                source.select("row", _key(form).alias("key"))
                .filter(pl.col("key").is_in(wanted.get_column("key").implode()))
                .join(wanted.lazy(), on="key", how="inner")
                .select("row", "canary", "field")
                .collect()
            )
    if not parts:
        return empty
    hits = pl.concat(parts)
    direct = hits.filter(pl.col("field").is_in(["email", "phone", "id_number"])).select(
        "canary", pl.col("field").alias("rule")
    )
    field = pl.col("field")
    per_row = hits.group_by("row", "canary").agg(
        field.filter(field.is_in(["name", "birth_date"])).n_unique().alias("nb"),
        field.filter(field.str.starts_with("m_")).n_unique().alias("masked"),
        field.is_in(["m_phone", "m_id"]).any().alias("anchored"),
    )
    name_birth = per_row.filter(pl.col("nb") == 2).select("canary", rule=pl.lit("name_birth"))
    # e-mail initial and masked name both follow the surname: alone they are one clue, so a
    # masked match needs the masked phone or ID number (seller's number, 10 known characters)
    masked = per_row.filter((pl.col("masked") >= 2) & pl.col("anchored")).select(
        "canary", rule=pl.lit("masked")
    )
    return pl.concat([direct, name_birth, masked]).unique().sort("canary", "rule")
