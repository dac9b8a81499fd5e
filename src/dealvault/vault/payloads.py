"""Build per-category JSON payloads from a normalised batch, column-wise with Polars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from dealvault.ingest.fields import FIELDS, Category

INTERNAL = frozenset({"__row", "__mk", "__existing", "__flags"})


def category_columns(
    frame_columns: Sequence[str],
    *,
    extra_category: Category = Category.FREE_TEXT,
    overrides: Mapping[str, Category] | None = None,
) -> dict[Category, list[str]]:
    """Which frame columns go into which category's payload.

    Canonical fields go to their category; unmapped source columns (kept under their own
    names) go to ``extra_category`` so nothing is stored in the clear or lost.
    """
    out: dict[Category, list[str]] = {}
    for col in frame_columns:
        if col in INTERNAL or col.startswith("__bi_"):
            continue
        if overrides and col in overrides:
            cat: Category | None = overrides[col]
        else:
            spec = FIELDS.get(col)
            if spec is None:
                cat = extra_category
            else:  # the structural customer key is kept with the identity
                cat = spec.category if spec.category is not None else Category.IDENTITY
        if cat is not None:
            out.setdefault(cat, []).append(col)
    return out


def payload_columns(
    frame: pl.DataFrame, cats: Mapping[Category, list[str]]
) -> dict[Category, list[bytes | None]]:
    """UTF-8 JSON per row and category; null where the row has nothing in that category."""
    exprs = []
    for cat, cols in cats.items():
        as_text = [pl.col(c).cast(pl.String) for c in cols]
        exprs.append(
            pl.when(pl.any_horizontal([pl.col(c).is_not_null() for c in cols]))
            .then(pl.struct(as_text).struct.json_encode().cast(pl.Binary))
            .otherwise(None)
            .alias(cat.value)
        )
    if not exprs:
        return {}
    built = frame.select(exprs)
    return {cat: built.get_column(cat.value).to_list() for cat in cats}
