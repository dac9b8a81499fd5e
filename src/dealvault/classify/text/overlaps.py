"""Free-text overlap resolution: non-overlapping spans per row, vectorised."""

from __future__ import annotations

from typing import Final

import polars as pl

from dealvault.classify.spans import (
    SPAN_SCHEMA,
    Span,
    resolve_overlaps,
)

# ---------------------------------------------------------------------------------------
# Overlaps


_ROW_SCALE: Final = 1 << 31  # row * scale + offset: per-row running maxima without group-by


def _resolve(frame: pl.DataFrame) -> pl.DataFrame:
    """Non-overlapping spans per row, exactly as :func:`resolve_overlaps` would keep them.

    Vectorised for the usual case, where overlapping spans are nested (an address found
    twice, a number inside an e-mail): the outermost span wins (ties: more confident,
    then type name). Rows with crossing spans go through :func:`resolve_overlaps`.
    """
    f = frame.select(list(SPAN_SCHEMA)).sort(
        ["row", "start", "end", "confidence", "pii_type"],
        descending=[False, False, True, True, False],
    )
    row, end = pl.col("row"), pl.col("end")
    reached = (row * _ROW_SCALE + end).cum_max().shift(1)
    reach = pl.when(reached // _ROW_SCALE == row).then(reached % _ROW_SCALE).otherwise(-1)
    outer = f.filter(end > reach)  # drop spans nested in an earlier, longer one
    crossing = outer.filter((row == row.shift(1)) & (pl.col("start") < end.shift(1)))["row"]
    if len(crossing) == 0:
        return outer
    rows = crossing.unique().implode()
    by_row: dict[int, list[Span]] = {}
    for r, start, stop, pii_type, confidence in f.filter(row.is_in(rows)).iter_rows():
        by_row.setdefault(r, []).append(Span(start, stop, pii_type, confidence))
    kept = [
        (r, s.start, s.end, s.pii_type, s.confidence)
        for r, spans in by_row.items()
        for s in resolve_overlaps(spans)
    ]
    resolved = pl.DataFrame(kept, schema=SPAN_SCHEMA, orient="row")
    clean = outer.filter(~row.is_in(rows))
    return pl.concat([clean, resolved]).sort("row", "start")
