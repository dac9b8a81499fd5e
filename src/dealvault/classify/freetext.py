"""Free-text PII scanner (public API): scan and mask texts; the parts live in classify/text/."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from dealvault.classify.spans import (
    SPAN_SCHEMA,
    Span,
    resolve_overlaps,
    spans_from_frame,
    spans_to_frame,
)
from dealvault.classify.text.candidates import _token_spans
from dealvault.classify.text.cues import _address_spans, _cue_spans
from dealvault.classify.text.locate import _fold_width
from dealvault.classify.text.mask import _mask_frame, mask_name_expr
from dealvault.classify.text.model import model_spans
from dealvault.classify.text.overlaps import _resolve
from dealvault.errors import Invalid

__all__ = ["mask_name_expr", "mask_series", "mask_text", "scan", "scan_series"]

# ---------------------------------------------------------------------------------------
# Public API


def _as_text_series(texts: pl.Series) -> pl.Series:
    """Strings as they are; numbers, categoricals and all-null columns cast to strings."""
    dtype = texts.dtype
    if dtype == pl.String:
        return texts.rechunk()
    if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
        raise Invalid(f"a column of type {dtype} cannot be scanned as text")
    try:
        return texts.cast(pl.String).rechunk()
    except pl.exceptions.PolarsError:
        raise Invalid(f"a column of type {dtype} cannot be scanned as text") from None


_CHUNK_ROWS: Final = 100_000  # rows scanned at a time (bounds the intermediate frames)


def scan_series(*, texts: pl.Series, model: bool = True) -> pl.DataFrame:
    """Find PII spans in a whole column at once.

    Returns one row per span, sorted by row then start, with columns ``row`` (position in
    ``texts``), ``start`` and ``end`` (character offsets), ``pii_type`` and
    ``confidence``. Null and empty rows simply have no spans. Spans never overlap. With
    ``model`` (default) names and addresses are also found by the statistical model
    (``classify/ner.py``), without a cue word; without it only by patterns and cues (faster).
    """
    series = _as_text_series(texts)
    frames = [
        _scan_chunk(series.slice(offset, _CHUNK_ROWS), model=model).with_columns(
            pl.col("row") + offset
        )
        for offset in range(0, len(series), _CHUNK_ROWS)
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=SPAN_SCHEMA)


def _scan_chunk(texts: pl.Series, *, model: bool = True) -> pl.DataFrame:
    series = _fold_width(texts)
    parts = [_token_spans(series), _cue_spans(series), _address_spans(series)]
    found = pl.concat([p.cast(pl.Schema(SPAN_SCHEMA)) for p in parts], how="vertical")
    if model:
        found = pl.concat([found, model_spans(series, found=found)], how="vertical")
    return _resolve(found)


def scan(text: str, *, model: bool = True) -> list[Span]:
    """PII spans in one text, sorted by start (see :func:`scan_series`)."""
    frame = scan_series(texts=_one(text), model=model)
    return spans_from_frame(frame, rows=1)[0]


def _one(text: str) -> pl.Series:
    """A one-row series; a text that is not valid Unicode is refused without quoting it."""
    try:
        return pl.Series([text], dtype=pl.String)
    except UnicodeEncodeError as exc:
        raise Invalid(f"text is not valid Unicode (at character {exc.start})") from None


def mask_series(*, texts: pl.Series, model: bool = True) -> pl.Series:
    """Scan a whole column and replace every span by its masked form (nulls stay null)."""
    series = _as_text_series(texts)
    chunks = [
        _mask_frame(chunk, _scan_chunk(chunk, model=model))
        for chunk in (
            series.slice(offset, _CHUNK_ROWS) for offset in range(0, len(series), _CHUNK_ROWS)
        )
    ]
    return (pl.concat(chunks) if chunks else series).alias(texts.name)


def mask_text(text: str, spans: Sequence[Span]) -> str:
    """``text`` with each span replaced by a masked form that keeps its shape.

    138****5678, 110105********002X, a***@example.com, 张*明, "**** **** **** 1234",
    an address cut after its district. Overlapping spans are resolved first (longer,
    then more confident, wins).
    """
    for span in spans:
        if span.end > len(text):
            raise Invalid(f"span {span.start}..{span.end} outside a text of {len(text)} characters")
    kept = resolve_overlaps(spans)
    series = _one(text)
    out = _mask_frame(series, spans_to_frame(kept))
    return str(out.item())
