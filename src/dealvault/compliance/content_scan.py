"""The content review's scan of one batch of customers, column-wise: listed words per category
and other people's personal data in the notes (the free-text scanner's spans that are not the
customer's own phone, ID number, e-mail or name). Counts only leave this module."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from dealvault.classify import spans as sp
from dealvault.classify.freetext import scan_series
from dealvault.compliance.content_words import WordList
from dealvault.transfer.manifest import ColumnSpec

#: the third-party PI types counted, and the scanner's span types behind each
PI_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "phone": (sp.CN_MOBILE, sp.CN_LANDLINE, sp.INTL_PHONE),
    "id_number": (sp.CN_RIC, sp.CN_RIC_INVALID, sp.CN_PASSPORT, sp.CN_TRAVEL_PERMIT),
    "email": (sp.EMAIL,),
    "name": (sp.CN_NAME,),
}
_GROUP_OF: Final = {t: g for g, types in PI_TYPES.items() for t in types}
#: the customer's own columns of each type: canonical fields, or the classifier's PII type
_OWN_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "phone": ("phone", "phone_2"),
    "id_number": ("id_number",),
    "email": ("email",),
    "name": ("name",),
}
_OWN_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "phone": ("cn_mobile", "cn_landline", "intl_phone"),
    "id_number": ("cn_ric", "cn_passport", "passport"),
    "email": ("email",),
    "name": ("cn_name", "person_name"),
}


@dataclass
class ScanCounts:
    """What the review counted over every batch: customers per word category, per
    third-party PI type, and in all."""

    scanned: int = 0
    words: Counter[str] = field(default_factory=Counter)
    third_party: Counter[str] = field(default_factory=Counter)
    word_customers: int = 0
    third_party_customers: int = 0
    affected: int = 0


def own_columns(columns: Sequence[ColumnSpec]) -> dict[str, list[str]]:
    """The columns holding the customer's own values, per PI type."""
    out: dict[str, list[str]] = {g: [] for g in PI_TYPES}
    for c in columns:
        for g in PI_TYPES:
            if c.name in _OWN_FIELDS[g] or (c.pii_type or "") in _OWN_TYPES[g]:
                out[g].append(c.name)
    return out


def normalised(value: pl.Expr, group: pl.Expr | str) -> pl.Expr:
    """A value in the form compared: NFKC; phones as digits without a +86/0086 prefix,
    ID numbers upper case without spaces or dashes, e-mails lower case, names without spaces."""
    v = value.str.normalize("NFKC").str.strip_chars()
    g = pl.lit(group) if isinstance(group, str) else group
    digits = v.str.replace_all(r"\D", "")
    phone = (
        pl.when(digits.str.starts_with("0086") & (digits.str.len_chars() == 15))
        .then(digits.str.slice(4))
        .when(digits.str.starts_with("86") & (digits.str.len_chars() == 13))
        .then(digits.str.slice(2))
        .otherwise(digits)
    )
    return (
        pl.when(g == "phone")
        .then(phone)
        .when(g == "id_number")
        .then(v.str.replace_all(r"[\s\-]", "").str.to_uppercase())
        .when(g == "email")
        .then(v.str.to_lowercase())
        .otherwise(v.str.replace_all(r"[\s·•.]", "").str.to_lowercase())
    )


def _texts(frame: pl.DataFrame, notes: Sequence[str]) -> pl.Series:
    """One text per customer: the note columns joined by a line break (null: no note)."""
    return frame.select(
        pl.concat_str(
            [pl.col(c).cast(pl.String) for c in notes], separator="\n", ignore_nulls=True
        ).alias("text")
    ).to_series()


def word_hits(texts: pl.Series, words: WordList) -> pl.DataFrame:
    """Per customer (row) and category: whether a listed word occurs (vectorised, Aho-Corasick)."""
    folded = texts.str.normalize("NFKC").str.to_lowercase().fill_null("")
    return pl.DataFrame(
        {cid: folded.str.contains_any(list(ws)) for cid, ws in words.words.items()},
        schema={cid: pl.Boolean for cid in words.words},
    )


def third_party_hits(
    frame: pl.DataFrame, texts: pl.Series, own: dict[str, list[str]]
) -> pl.DataFrame:
    """Spans of personal data in the notes that are not the same customer's own value: one row
    per (row, PI type) that has at least one."""
    spans = scan_series(texts=texts.fill_null(""))
    spans = spans.filter(pl.col("pii_type").is_in(list(_GROUP_OF)))
    if spans.height == 0:
        return pl.DataFrame(schema={"row": pl.Int64, "group": pl.String})
    text_frame = pl.DataFrame({"text": texts}).with_row_index("row").cast({"row": pl.Int64})
    found = (
        spans.join(text_frame, on="row", how="left")
        .select(
            "row",
            pl.col("pii_type").replace_strict(_GROUP_OF, return_dtype=pl.String).alias("group"),
            pl.col("text").str.slice(pl.col("start"), pl.col("end") - pl.col("start")).alias("v"),
        )
        .with_columns(normalised(pl.col("v"), pl.col("group")).alias("v"))
    )
    indexed = frame.with_row_index("row").cast({"row": pl.Int64})
    owned = [
        indexed.select(
            "row", pl.lit(g).alias("group"), normalised(pl.col(c).cast(pl.String), g).alias("v")
        )
        for g, cols in own.items()
        for c in cols
    ]
    if owned:
        mine = pl.concat(owned).drop_nulls()
        found = found.join(mine, on=["row", "group", "v"], how="anti")
    return found.filter(pl.col("v").str.len_chars() > 0).select("row", "group").unique()


def scan_batch(
    frame: pl.DataFrame,
    *,
    notes: Sequence[str],
    own: dict[str, list[str]],
    words: WordList,
    into: ScanCounts,
) -> None:
    """Count one batch of decrypted customers into ``into`` (nothing else is kept)."""
    if frame.height == 0:
        return
    texts = _texts(frame, notes)
    hits = word_hits(texts, words)
    third = third_party_hits(frame, texts, own)
    into.scanned += frame.height
    for cid in words.words:
        into.words[cid] += int(hits.get_column(cid).sum())
    word_rows = hits.select(pl.any_horizontal(pl.all()).alias("any")).to_series()
    for g, n in third.group_by("group").len().iter_rows():
        into.third_party[str(g)] += int(n)
    third_rows = pl.Series(range(frame.height), dtype=pl.Int64).is_in(
        third.get_column("row").implode()
    )
    into.word_customers += int(word_rows.sum())
    into.third_party_customers += int(third_rows.sum())
    into.affected += int((word_rows | third_rows).sum())
