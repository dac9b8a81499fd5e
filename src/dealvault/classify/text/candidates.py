"""Free-text token spans: candidates, plausible shapes and smaller sub-candidates."""

from __future__ import annotations

from functools import cache

import polars as pl

from dealvault.classify.spans import (
    SPAN_SCHEMA,
)
from dealvault.classify.text.locate import _LOCATED, _locate, _with_context
from dealvault.classify.text.shapes import (
    _CARD_SHAPE,
    _GROUP_RE,
    _IBAN_SHAPE,
    _IPV4_SHAPE,
    _LANDLINE_SHAPE,
    _LOCAL_LANDLINE_SHAPE,
    _MIN_PHONE_DIGITS,
    _MIN_TOKEN,
    _MOBILE_SHAPE,
    _OBF_EMAIL_SHAPE,
    _PASSPORT_SHAPE,
    _PERMIT_SHAPE,
    _PLATE_PROVINCES,
    _PLATE_SHAPE,
    _RIC15_SHAPE,
    _RIC18_SHAPE,
    _TOKEN_RE,
    _USCC_SHAPE,
)
from dealvault.classify.text.tokens import _classify_tokens


def _sub_candidates(failed: pl.DataFrame, texts: pl.Series) -> pl.DataFrame:
    """Smaller candidates inside tokens that did not validate as a whole.

    * separated numbers ("2024-01-01 13812345678", "13812345678 13912345678"): every run
      of up to 5 consecutive digit groups;
    * a plate-like token ("新E12345678") or letters glued to digits ("ID110105..."): the
      token without its first character / leading letters.
    """
    parts: list[pl.DataFrame] = []
    separated = failed.filter(
        pl.col("m").str.contains(r"[0-9][ \-]+[0-9+]")
        & (pl.col("m").str.count_matches("[0-9]") >= _MIN_PHONE_DIGITS)
    )
    if separated.height:
        groups = (
            _locate(separated["m"], _GROUP_RE)
            .join(
                separated.select(
                    token=pl.int_range(pl.len(), dtype=pl.Int64),
                    row=pl.col("row"),
                    base=pl.col("start"),
                    tok_end=pl.col("end"),
                ),
                left_on="row",
                right_on="token",
                suffix="_t",
            )
            .sort("row", "start")
        )
        for k in range(5):
            combos = groups.with_columns(
                sub_end=pl.col("end").shift(-k).over("row"),
            ).filter(pl.col("sub_end").is_not_null())
            parts.append(
                combos.select(
                    row=pl.col("row_t"),
                    start=pl.col("base") + pl.col("start"),
                    end=pl.col("base") + pl.col("sub_end"),
                    tok_start=pl.col("base"),
                    tok_end=pl.col("tok_end"),
                ).filter(
                    (pl.col("start") != pl.col("tok_start")) | (pl.col("end") != pl.col("tok_end"))
                )
            )
    prefixed = failed.filter(
        pl.col("m").str.contains(f"^(?:[{_PLATE_PROVINCES}]|[A-Z]{{1,5}}[0-9])")
    )
    if prefixed.height:
        lead = prefixed["m"].str.extract(f"^([{_PLATE_PROVINCES}]|[A-Z]{{1,5}})", 1).str.len_chars()
        parts.append(
            prefixed.select(
                row="row",
                start=pl.col("start") + lead.cast(pl.Int64),
                end="end",
                tok_start="start",
                tok_end="end",
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={"row": pl.Int64, "m": pl.String, "start": pl.Int64, "end": pl.Int64}
        )
    subs = pl.concat(parts).select("row", "start", "end").unique(maintain_order=True)
    text = texts.gather(subs["row"])
    return subs.with_columns(m=text.str.slice(subs["start"], subs["end"] - subs["start"]))


def _token_spans(texts: pl.Series) -> pl.DataFrame:
    located = _locate(texts, _TOKEN_RE)
    # Nothing shorter than 6 characters is PII here (a@b.cn, 1.1.1.1, 京A12345, ...), and
    # only tokens of a plausible shape are worth the full classification.
    located = located.filter(pl.col("m").str.len_chars() >= _MIN_TOKEN)
    plausible = pl.col("m").str.contains(_plausible_pattern())
    first = _classify_tokens(_with_context(located.filter(plausible), texts))
    failed = pl.concat(
        [
            located.filter(~plausible),
            first.filter(pl.col("pii_type").is_null()).select(list(_LOCATED)),
        ]
    )
    found = [first.filter(pl.col("pii_type").is_not_null()).select(list(SPAN_SCHEMA))]
    subs = _sub_candidates(failed, texts)
    if subs.height:
        subs = subs.filter(plausible)
        second = _classify_tokens(_with_context(subs, texts))
        found.append(second.filter(pl.col("pii_type").is_not_null()).select(list(SPAN_SCHEMA)))
    return pl.concat(found)


@cache
def _plausible_pattern() -> str:
    """Any shape :func:`_classify_tokens` can accept (one regex pass to skip the rest)."""
    shapes = (
        _RIC18_SHAPE,
        _RIC15_SHAPE,
        _MOBILE_SHAPE,
        _LANDLINE_SHAPE,
        _LOCAL_LANDLINE_SHAPE,
        _OBF_EMAIL_SHAPE,
        _CARD_SHAPE,
        _USCC_SHAPE,
        _IBAN_SHAPE,
        _PASSPORT_SHAPE,
        _PERMIT_SHAPE,
        _IPV4_SHAPE,
        _PLATE_SHAPE,
        r"^(?:\+|00)",  # international numbers
        "@",
        ":",
    )
    return "|".join(f"(?:{shape})" for shape in shapes)
