"""Cells that say "no value" (无, 暂无, N/A, -, null, 不详 …): empty for every validated field."""

from __future__ import annotations

import re
from typing import Final

import polars as pl

#: Compared after lower-casing and removing surrounding brackets and spaces: ``（无）``,
#: ``[N/A]`` and ``<null>`` count too. Only words that never are a real phone number, e-mail,
#: ID or card number, date, amount or gender are listed; digits are not (``0`` is an amount).
PLACEHOLDERS: Final = frozenset(
    {
        # Chinese: none / not yet / empty / unknown / not given / withheld / omitted
        "无", "暂无", "没有", "空", "空白", "无数据", "暂无数据", "不详", "未知", "不明",
        "未填", "未填写", "未提供", "未登记", "待定", "待补充", "待完善", "缺失", "保密", "略",
        "无号码", "无电话", "无手机", "无手机号", "无邮箱", "无身份证", "无证件",
        # English, and what spreadsheets and databases write for a missing value
        "n/a", "na", "n.a.", "none", "null", "nil", "nan", "unknown", "tbd", "empty", "missing",
        "not available", "#n/a", "#null!",
        # dashes, slashes, dots, question marks, stars
        "-", "--", "---", "—", "——", "－", "_", "/", "\\", ".", "..", "...", "…", "……",
        "?", "？", "??", "？？", "*", "**", "***", "#",
    }
)  # fmt: skip
_ALTERNATIVES: Final = "|".join(re.escape(w) for w in sorted(PLACEHOLDERS, key=len, reverse=True))
# One anchored, case-insensitive regex: a run of brackets and spaces around at most one
# placeholder (an order of magnitude faster than lower-casing and looking words up).
_PLACEHOLDER_RE: Final = rf"(?i)^[\s(（\[【<《]*(?:{_ALTERNATIVES})?[\s)）\]】>》]*$"

#: Field kinds whose values are validated; a placeholder there becomes empty instead of a
#: reject. Free text (names, addresses, notes) keeps what was written.
VALIDATED_KINDS: Final = frozenset(
    {"phone", "email", "cn_ric", "bank_card", "date", "datetime", "amount", "integer", "gender"}
)


def is_placeholder(e: pl.Expr) -> pl.Expr:
    """True where a (stripped, non-null) text says there is no value."""
    return e.str.contains(_PLACEHOLDER_RE)


def placeholder_to_null(e: pl.Expr) -> pl.Expr:
    """``e`` with placeholder cells as null."""
    return pl.when(is_placeholder(e).fill_null(False)).then(None).otherwise(e)
