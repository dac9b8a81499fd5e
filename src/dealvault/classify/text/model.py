"""Free-text spans of the statistical model: names and addresses without a cue word."""

from __future__ import annotations

from typing import Final

import polars as pl

from dealvault.classify import ner
from dealvault.classify.spans import SPAN_SCHEMA
from dealvault.classify.text.lexicon import single_surnames

#: confidence of a model span (patterns with a validator or a cue rank above it)
CONFIDENCE: Final = {"cn_name": 0.8, "cn_address": 0.8}
#: what a model span must look like to be kept: a name is 2-8 Han characters, or Han runs
#: joined by a middle dot or dash (居来提·土尔地, 施特劳斯—卡恩), or a single surname (王 of
#: 王大娘, 杜 of 杜氏: a person reference); an address holds a place or street word and is at
#: least 40% Han characters (long digit runs after 单号 or 编号 are not addresses)
_NAME: Final = (
    r"^(?:[\u3400-\u9fff]{2,8}|[\u3400-\u9fff]{1,8}(?:[·•・．—\-][\u3400-\u9fff]{1,8}){1,3})$"
)
#: function words that never start a name (a run of them is filler, not a person)
_NOT_FIRST: Final = (
    r"^[的了是在和与或而把被对让给到就都也很又还这那我你他她它们得着过会要能吗呢吧啊哦嗯]"
)
_PLACE: Final = r"[省市区县镇乡村路街道巷弄楼栋室苑园里庄屯旗盟州]"
#: how an address the model reads past the patterns' end may end (a number, a building, a
#: room): otherwise the patterns' end stands
_ADDRESS_END: Final = r"[0-9０-９号楼栋室座层厦场心园苑元院区城馆店]"


def model_spans(series: pl.Series, *, found: pl.DataFrame) -> pl.DataFrame:
    """Spans (``SPAN_SCHEMA``) the model finds in each row of ``series`` (nulls: none) that
    overlap none of the spans ``found`` by patterns and cues: where both see something, the
    validated or cued span and its boundaries win. Only rows holding a Han character are
    tagged: the model knows Chinese names and addresses."""
    han = series.str.contains(r"[\u3400-\u9fff]").fill_null(False)
    rows = han.arg_true().to_list()
    if not rows:
        return pl.DataFrame(schema=SPAN_SCHEMA)
    texts = series.gather(rows).to_list()
    tagged = ner.tag([t or "" for t in texts])
    out = [
        (row, start, end, kind, CONFIDENCE[kind])
        for row, spans in zip(rows, tagged, strict=True)
        for start, end, kind in spans
    ]
    spans = _plausible(pl.DataFrame(out, schema=SPAN_SCHEMA, orient="row"), series)
    last = series.gather(spans.get_column("row")).str.slice(spans.get_column("end") - 1, 1)
    spans = spans.with_row_index("__id").with_columns(
        last.str.contains(_ADDRESS_END).fill_null(False).alias("__ends_well")
    )
    if found.height == 0 or spans.height == 0:
        return spans.drop("__id", "__ends_well")
    others = found.select(
        "row",
        pl.col("start").alias("__s"),
        pl.col("end").alias("__e"),
        pl.col("pii_type").alias("__t"),
    )
    # an address the model reads further than the patterns did (a building, a room; the
    # start of 江东区 where the patterns saw only 东区) keeps its length: a pattern address
    # inside a model address is no clash, unless it holds two of them (two addresses the
    # model ran together)
    longer_address = (
        pl.col("__ends_well")
        & (pl.col("pii_type") == "cn_address")
        & (pl.col("__t") == "cn_address")
        & (pl.col("start") <= pl.col("__s"))
        & (pl.col("__e") <= pl.col("end"))
    )
    overlapping = spans.join(others, on="row").filter(
        (pl.col("start") < pl.col("__e")) & (pl.col("__s") < pl.col("end"))
    )
    clash = (
        overlapping.group_by("__id")
        .agg(bad=(~longer_address).any(), held=longer_address.sum())
        .filter(pl.col("bad") | (pl.col("held") > 1))
        .get_column("__id")
    )
    return spans.filter(~pl.col("__id").is_in(clash.implode())).drop("__id", "__ends_well")


def _plausible(spans: pl.DataFrame, series: pl.Series) -> pl.DataFrame:
    """The model's spans that look like what they claim (see ``_NAME`` and ``_PLACE``)."""
    if spans.height == 0:
        return spans
    text = series.gather(spans.get_column("row")).str.slice(
        spans.get_column("start"), spans.get_column("end") - spans.get_column("start")
    )
    han = text.str.count_matches(r"[\u3400-\u9fff]")
    kind = spans.get_column("pii_type")
    name = (text.str.contains(_NAME) & ~text.str.contains(_NOT_FIRST)) | text.is_in(
        pl.Series(sorted(single_surnames()), dtype=pl.String).implode()
    )
    keep = ((kind == "cn_name") & name) | (
        (kind == "cn_address") & text.str.contains(_PLACE) & (han >= 0.4 * text.str.len_chars())
    )
    return spans.filter(keep.fill_null(False))
