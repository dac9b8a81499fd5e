"""Free-text names and addresses found from cue words, titles and region names."""

from __future__ import annotations

import polars as pl

from dealvault.classify.spans import (
    CN_ADDRESS,
    CN_NAME,
    SPAN_SCHEMA,
)
from dealvault.classify.text.lexicon import (
    _ADDRESS_CUE_TAIL,
    _ADDRESS_CUES,
    _ADDRESS_DETAIL,
    _ADDRESS_WINDOW,
    _COMPOUND_SURNAMES,
    _NAME_CUE_TAIL,
    _NAME_CUES,
    _NAME_STOPWORDS,
    _TITLES,
    TITLE_ZONG_WORDS,
    _admin_pattern,
    _cue_pattern,
)
from dealvault.classify.text.locate import _locate

# ---------------------------------------------------------------------------------------
# Names and addresses


def _cue_spans(texts: pl.Series) -> pl.DataFrame:
    cands = _locate(texts, _cue_pattern())
    if cands.height == 0:
        return pl.DataFrame(schema=SPAN_SCHEMA)
    after = texts.gather(cands["row"]).str.slice(cands["end"], 1)
    cands = cands.filter(
        ~(
            cands["m"].str.ends_with("总")
            & after.str.contains(f"^[{TITLE_ZONG_WORDS}]").fill_null(False)
        )
    )
    m = pl.col("m")
    name_cue = f"^(?:{_NAME_CUES}){_NAME_CUE_TAIL}"
    address_cue = f"^(?:{_ADDRESS_CUES}){_ADDRESS_CUE_TAIL}"
    f = cands.with_columns(
        is_address=m.str.contains(f"^(?:{_ADDRESS_CUES})"),
        is_cued=m.str.contains(f"^(?:{_NAME_CUES})"),
    )
    f = f.with_columns(
        body=pl.when(pl.col("is_address"))
        .then(m.str.replace(address_cue, ""))
        .when(pl.col("is_cued"))
        .then(m.str.replace(name_cue, ""))
        .otherwise(m)
    )
    f = f.with_columns(value=pl.col("body").str.replace(f"(?:{_TITLES})$", ""))
    f = f.with_columns(
        start=pl.col("start") + m.str.len_chars() - pl.col("body").str.len_chars(),
        end=pl.col("end") - pl.col("body").str.len_chars() + pl.col("value").str.len_chars(),
        n=pl.col("value").str.len_chars(),
        compound=pl.col("value").str.contains(f"^(?:{'|'.join(_COMPOUND_SURNAMES)})"),
    )
    given_chars = pl.col("n") - pl.when(pl.col("compound")).then(2).otherwise(1)
    f = f.with_columns(
        pii_type=pl.when(pl.col("is_address")).then(pl.lit(CN_ADDRESS)).otherwise(pl.lit(CN_NAME)),
        confidence=pl.when(pl.col("is_address"))
        .then(0.75)
        .when(pl.col("is_cued"))
        .then(pl.when(given_chars >= 2).then(0.8).otherwise(0.7))
        .otherwise(pl.when(given_chars >= 1).then(0.85).otherwise(0.5)),
    ).filter(
        (pl.col("n") > 0)
        & ~(
            pl.col("pii_type").eq(CN_NAME)
            & pl.col("value").is_in(pl.Series(sorted(_NAME_STOPWORDS), dtype=pl.String).implode())
        )
    )
    return f.select(list(SPAN_SCHEMA))


def _address_spans(texts: pl.Series) -> pl.DataFrame:
    """Runs of region names ("吉林省长春市宽城区") followed by a street-level detail."""
    names = _locate(texts, _admin_pattern())
    if names.height == 0:
        return pl.DataFrame(schema=SPAN_SCHEMA)
    chains = (
        names.with_columns(
            chain=(pl.col("start") != pl.col("end").shift(1).over("row")).fill_null(True).cum_sum()
        )
        .group_by("row", "chain", maintain_order=True)
        .agg(pl.col("start").first(), pl.col("end").last())
    )
    tail = texts.gather(chains["row"]).str.slice(chains["end"], _ADDRESS_WINDOW)
    detail = tail.str.extract(f"^({_ADDRESS_DETAIL})", 1).str.len_chars().cast(pl.Int64)
    return (
        chains.with_columns(detail=detail)
        .filter(pl.col("detail").is_not_null())
        .select(
            "row",
            "start",
            end=pl.col("end") + pl.col("detail"),
            pii_type=pl.lit(CN_ADDRESS),
            confidence=pl.lit(0.9),
        )
    )
