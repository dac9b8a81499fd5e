"""Spreadsheet formula injection: text cells of CSV/XLSX outputs neutralised, and undone.

OWASP's CSV-injection rule: a text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return may be run as a formula by a spreadsheet program, so it is written with one
single quote in front. A text cell that already begins with quotes followed by one of those
characters gets one more quote, which makes the change reversible: :func:`restore` removes one
leading quote wherever quotes are followed by a formula character, and gives back every
original value exactly. Only text columns change; numbers, dates and booleans stay typed.
"""

from __future__ import annotations

from typing import Final

import polars as pl

#: Characters that make a spreadsheet program read a cell as a formula (OWASP).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
QUOTE: Final = "'"
_CLASS: Final = r"[=+\-@\t\r]"
_ESCAPE: Final = rf"^('*{_CLASS})"
_ESCAPED: Final = rf"^'('*{_CLASS})"
#: xlsxwriter options for every workbook we write: text is never turned into a formula, a
#: hyperlink or a number.
XLSX_OPTIONS: Final = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def neutralise_expr(expr: pl.Expr) -> pl.Expr:
    """``expr`` (text) with a quote before each value that a spreadsheet would run."""
    return expr.str.replace(_ESCAPE, f"{QUOTE}${{1}}")


def restore_expr(expr: pl.Expr) -> pl.Expr:
    """The inverse of :func:`neutralise_expr`."""
    return expr.str.replace(_ESCAPED, "${1}")


def neutralise_text(value: str) -> str:
    """One value (a header, a metadata cell) neutralised like the columns."""
    return QUOTE + value if is_unsafe(value.lstrip(QUOTE)) else value


def restore_text(value: str) -> str:
    """The inverse of :func:`neutralise_text`."""
    escaped = value.startswith(QUOTE) and is_unsafe(value.lstrip(QUOTE))
    return value[1:] if escaped else value


def _columns_matching(frame: pl.DataFrame, pattern: str) -> list[str]:
    """The text (or categorical) columns with at least one cell matching ``pattern``: one
    scan, so that columns with nothing to change (most of them) are not copied."""
    text = [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    if not text:
        return []
    found = frame.select(pl.col(c).cast(pl.String).str.contains(pattern).any() for c in text)
    return [c for c, hit in zip(text, found.row(0), strict=True) if hit]


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` ready for a CSV or XLSX file: text cells and column names neutralised
    (a categorical column with such cells becomes text); other columns are left as they are."""
    hit = _columns_matching(frame, _ESCAPE)
    out = frame.with_columns(neutralise_expr(pl.col(c).cast(pl.String)) for c in hit)
    return out.rename({c: neutralise_text(c) for c in out.columns})


def restore(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame read back from one of our CSV or XLSX files, with the original text."""
    hit = _columns_matching(frame, _ESCAPED)
    out = frame.with_columns(restore_expr(pl.col(c).cast(pl.String)) for c in hit)
    return out.rename({c: restore_text(c) for c in out.columns})


def is_unsafe(value: str) -> bool:
    """True when a spreadsheet program could run ``value`` as a formula."""
    return value[:1] in FORMULA_STARTS
