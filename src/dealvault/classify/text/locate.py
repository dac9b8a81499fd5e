"""Free-text matches with character offsets, context windows and width folding."""

from __future__ import annotations

from typing import Final

import polars as pl

from dealvault.classify.text.shapes import _CONTEXT_CHARS, _FAR_CONTEXT_CHARS

# ---------------------------------------------------------------------------------------
# Locating matches with character offsets


_MARK: Final = "\x00"
_LOCATED: Final = {"row": pl.Int64, "m": pl.String, "start": pl.Int64, "end": pl.Int64}


def _locate(texts: pl.Series, pattern: str) -> pl.DataFrame:
    """Every leftmost-first, non-overlapping match of ``pattern``: row, m, start, end.

    Polars' regex functions give matches but no offsets. So each match is wrapped in a
    NUL mark (``replace_all`` with ``\x00${0}\x00``, the Rust regex engine's own
    match iteration) and the text is split on the marks: pieces alternate between the
    text between matches and the matches, and cumulative ``len_chars`` gives offsets.
    Offsets are Python ``str`` indices (characters), not UTF-8 bytes. A NUL already in
    a text is first replaced by another single character, which keeps offsets.
    """
    rows = texts.str.contains(pattern).fill_null(False).arg_true()
    if len(rows) == 0:
        return pl.DataFrame(schema=_LOCATED)
    sub = texts.gather(rows)
    if sub.str.contains(_MARK, literal=True).any():
        sub = sub.str.replace_all(_MARK, "\x01", literal=True)
    parts = sub.str.replace_all(pattern, f"{_MARK}${{0}}{_MARK}").str.split(_MARK)
    frame = pl.DataFrame({"row": rows.cast(pl.Int64), "m": parts}).explode("m")
    length = pl.col("m").str.len_chars().cast(pl.Int64)
    first = (pl.col("row") != pl.col("row").shift(1)).fill_null(True)
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    ends = length.cum_sum()
    frame = frame.with_columns(
        piece=index - pl.when(first).then(index).forward_fill(),
        end=ends - pl.when(first).then(ends - length).forward_fill(),
    )
    return frame.filter(pl.col("piece") % 2 == 1).select(
        "row", "m", start=pl.col("end") - length, end="end"
    )


def _with_context(cands: pl.DataFrame, texts: pl.Series) -> pl.DataFrame:
    """Add ``pre`` (up to 10 characters before), ``post`` (1 character after) and ``far``.

    ``far`` is up to 160 characters before, for list continuations after a cue.
    """
    text = texts.gather(cands["row"])
    lo = (cands["start"] - _CONTEXT_CHARS).clip(lower_bound=0)
    far = (cands["start"] - _FAR_CONTEXT_CHARS).clip(lower_bound=0)
    return cands.with_columns(
        pre=text.str.slice(lo, cands["start"] - lo),
        post=text.str.slice(cands["end"], 1),
        far=text.str.slice(far, cands["start"] - far),
    )


_HALF_WIDTH: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@.-+#"
_FULL_WIDTH: Final = "".join(chr(ord(c) + 0xFEE0) for c in _HALF_WIDTH) + "\u3000"
_HALF_WIDTH_SPACE: Final = _HALF_WIDTH + " "


def _fold_width(texts: pl.Series) -> pl.Series:
    """Full-width digits, letters and ``@.-+#`` and the ideographic space as ASCII.

    Character for character, so offsets into the folded text are offsets into the original.
    """
    rows = texts.str.contains(f"[{_FULL_WIDTH}]", literal=False).fill_null(False).arg_true()
    if len(rows) == 0:
        return texts
    folded = texts.gather(rows).str.replace_many(list(_FULL_WIDTH), list(_HALF_WIDTH_SPACE))
    return texts.clone().scatter(rows, folded)
