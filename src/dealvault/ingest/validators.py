"""Polars expressions that normalise and validate one column per field kind (no Python per row)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import phonenumbers
import polars as pl

Rule = Callable[[pl.Expr], tuple[pl.Expr, pl.Expr]]
"""Takes the stripped, blank-as-null column; returns (normalised value, reject reason or null)."""
FastRule = Callable[[pl.Expr], tuple[pl.Expr, pl.Expr, pl.Expr]]
"""Like ``Rule`` plus a flag of the rows the matching ``SlowRule`` must finish."""
SlowRule = Callable[[pl.Series], tuple[pl.Series, pl.Series]]
"""Runs on the flagged rows only: values in, (normalised value, reason) out."""
Col = Callable[[str], pl.Expr]
"""Looks up a column materialised by a ``prepare`` step, by its key."""
Prepare = Callable[[pl.Expr], dict[str, pl.Expr]]

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MOBILE = r"^(?:\+?86|0086)?(1[3-9]\d{9})$"
_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_TIME = (
    r"(?:(?:\s+|T|\s*T\s*)(\d{1,2})\s*[:时]\s*(\d{1,2})"
    r"(?:\s*[:分]\s*(\d{1,2})(?:\.(\d{1,9}))?)?\s*秒?)?"
)
_TZ = r"\s*(Z|[+-]\d{2}:?\d{2})?"
DATETIME_RE = f"^{_DATE}{_TIME}{_TZ}$"
COMPACT_RE = r"^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2})(\d{2})(\d{2})?)?$"
# A month without a day (2024年3月, 2024-03): the first of that month, as spreadsheets do.
MONTH_RE = r"^(\d{4})\s*(?:年|[-/])\s*(\d{1,2})\s*月?$"
# An Excel serial date: days since 1899-12-30, the fraction a time of day (45321, 44927.5).
# From 61 (1900-03-01; Excel counts a 29 February 1900 that never was) to 9999-12-31.
SERIAL_RE = r"^(\d{2,7})(\.\d+)?$"
SERIAL_MIN, SERIAL_MAX = 61, 2_958_465
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
GENDERS = {
    "男": "M", "m": "M", "male": "M", "男性": "M", "先生": "M", "1": "M",
    "女": "F", "f": "F", "female": "F", "女性": "F", "女士": "F", "2": "F",
    "未知": "", "保密": "", "unknown": "", "u": "", "x": "", "0": "", "其他": "", "other": "",
}  # fmt: skip


def blank_to_null(e: pl.Expr) -> pl.Expr:
    """Strip whitespace; an empty string becomes null."""
    s = e.cast(pl.String).str.strip_chars()
    return pl.when(s.str.len_bytes() == 0).then(None).otherwise(s)


def _reason(*pairs: tuple[pl.Expr, str]) -> pl.Expr:
    """First matching reason as text, null when none matches."""
    expr = pl.lit(None, dtype=pl.String)
    for cond, text in reversed(pairs):
        expr = pl.when(cond).then(pl.lit(text)).otherwise(expr)
    return expr


def _digit(x: pl.Expr, i: int) -> pl.Expr:
    """The decimal digit at position ``i`` (from the left) of a digit string, as Int32."""
    return x.str.slice(i, 1).cast(pl.Int32, strict=False)


def cn_ric_prepare(e: pl.Expr) -> dict[str, pl.Expr]:
    """Spaces removed, upper case; pattern flags computed once."""
    x = e.str.replace_all(r"\s", "").str.to_uppercase()
    return {"x": x, "is18": x.str.contains(r"^\d{17}[\dX]$"), "is15": x.str.contains(r"^\d{15}$")}


def cn_ric(c: Col) -> tuple[pl.Expr, pl.Expr]:
    """PRC resident ID: 18 digits with ISO 7064 MOD 11-2 check (X upper case); 15-digit kept."""
    x, is18, is15 = c("x"), c("is18"), c("is15")
    total = pl.sum_horizontal([_digit(x, i) * w for i, w in enumerate(ID_WEIGHTS)])
    expected = (total % 11).replace_strict(
        dict(enumerate(ID_CHECK)), default=None, return_dtype=pl.String
    )
    birth = (
        pl.when(is18)
        .then(x.str.slice(6, 8))
        .otherwise(pl.lit("19") + x.str.slice(6, 6))
        .str.to_date("%Y%m%d", strict=False)
    )
    bad_birth = birth.is_null() | (birth < dt.date(1900, 1, 1)) | (birth > dt.date.today())
    reason = _reason(
        (x.is_null(), ""),
        (~(is18 | is15), "invalid ID number format"),
        (bad_birth, "invalid birth date in ID number"),
        (is18 & (x.str.slice(17, 1) != expected), "invalid ID number checksum"),
    )
    return x, pl.when(reason != "").then(reason)


def phone_fast(e: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Mainland mobiles to E.164; other values pass through (the caller checks them further)."""
    p = e.str.replace_all(r"[\s\-()（）.]", "")
    m = p.str.extract(MOBILE, 1)
    value = pl.when(m.is_not_null()).then(pl.lit("+86") + m).otherwise(p)
    return value, pl.lit(None, dtype=pl.String), m.is_null() & p.is_not_null()


def email(e: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Lower-case; one @, no spaces, a dotted domain."""
    x = e.str.to_lowercase()
    ok = x.str.contains(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")
    return x, _reason((x.is_not_null() & ~ok, "invalid e-mail address"))


def bank_card_prepare(e: pl.Expr) -> dict[str, pl.Expr]:
    """Digits only; also left-padded to 19 for the Luhn sum."""
    d = e.str.replace_all(r"[\s\-]", "")
    return {"d": d, "z": d.str.zfill(19), "ok": d.str.contains(r"^\d{12,19}$")}


def bank_card(c: Col) -> tuple[pl.Expr, pl.Expr]:
    """12-19 digits with a valid Luhn check digit."""
    d, z, ok_len = c("d"), c("z"), c("ok")
    terms = []
    for k in range(19):  # k-th digit from the right
        digit = _digit(z, 18 - k)
        terms.append(digit if k % 2 == 0 else digit * 2 - (digit >= 5).cast(pl.Int32) * 9)
    luhn_ok = pl.sum_horizontal(terms) % 10 == 0
    reason = _reason(
        (d.is_not_null() & ~ok_len, "invalid bank card number (length)"),
        (d.is_not_null() & ~luhn_ok, "invalid bank card number (checksum)"),
    )
    return d, reason


def _iso_date(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
    return pl.concat_str([y, pl.lit("-"), m.str.zfill(2), pl.lit("-"), d.str.zfill(2)])


def _serial_parts(e: pl.Expr) -> dict[str, pl.Expr]:
    """y, m, d, H, M, S (text) of Excel serial dates in ``e``; null elsewhere."""
    g = e.str.extract_groups(SERIAL_RE).struct.field
    days = g("1").cast(pl.Int64, strict=False)
    fraction = g("2").cast(pl.Float64, strict=False).fill_null(0.0)
    # the day is the whole part; the time is rounded to the second, never into the next day
    seconds = (fraction * 86_400).round(0).clip(upper_bound=86_399).cast(pl.Int64)
    ok = days.is_between(SERIAL_MIN, SERIAL_MAX)
    at = pl.when(ok).then(pl.lit(EXCEL_EPOCH) + pl.duration(days=days, seconds=seconds))
    parts = (at.dt.year(), at.dt.month(), at.dt.day(), at.dt.hour(), at.dt.minute(), at.dt.second())
    return {k: v.cast(pl.String) for k, v in zip("ymdHMS", parts, strict=True)}


def _parts(values: pl.Series) -> pl.DataFrame:
    """y, m, d, hh, mi, ss, frac, tz of every accepted date/time form (regexes run once):
    ISO and Chinese layouts, compact digits, a month without a day, Excel serial numbers."""
    a = pl.col("a").struct.field
    b = pl.col("b").struct.field
    c = pl.col("c").struct.field
    serial = _serial_parts(pl.col("v"))
    month = {"y": c("1"), "m": c("2"), "d": pl.when(c("1").is_not_null()).then(pl.lit("1"))}
    return (
        pl.DataFrame({"v": values})
        .with_columns(
            a=pl.col("v").str.extract_groups(DATETIME_RE),
            b=pl.col("v").str.extract_groups(COMPACT_RE),
            c=pl.col("v").str.extract_groups(MONTH_RE),
        )
        .select(
            *[
                pl.coalesce(
                    a(str(i)), b(str(i)), *([month[k]] if k in month else []), serial[k]
                ).alias(k)
                for i, k in enumerate("ymdHMS", 1)
            ],
            a("7").alias("f"),
            a("8").alias("z"),
        )
    )


def date_fast(e: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """ISO dates pass; everything else is flagged for ``date_slow``."""
    ok = (
        e.str.contains(r"^\d{4}-\d{2}-\d{2}$")
        & e.str.to_date("%Y-%m-%d", strict=False).is_not_null()
    )
    return e, pl.lit(None, dtype=pl.String), e.is_not_null() & ~ok


def date_slow(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """ISO YYYY-MM-DD from 2020/1/2, 2020.1.2, 2020年1月2日, 20200102, 2020年1月 (the 1st),
    Excel serials such as 43832 (a time part or fraction is dropped)."""
    out = _parts(values).select(iso=_iso_date(pl.col("y"), pl.col("m"), pl.col("d")))
    out = out.with_columns(ok=pl.col("iso").str.to_date("%Y-%m-%d", strict=False).is_not_null())
    value = out.select(pl.when(pl.col("ok")).then(pl.col("iso"))).to_series()
    reason = out.select(pl.when(~pl.col("ok")).then(pl.lit("invalid date"))).to_series()
    return value, reason


def datetime_fast(e: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """``YYYY-MM-DD[ T]HH:MM:SS`` becomes ISO here; everything else goes to ``datetime_slow``."""
    x = e.str.replace(" ", "T", literal=True)
    ok = (
        x.str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
        & x.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False).is_not_null()
    )
    return pl.when(ok).then(x).otherwise(e), pl.lit(None, dtype=pl.String), e.is_not_null() & ~ok


def datetime_slow(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """ISO YYYY-MM-DDTHH:MM:SS[.f][zone] from the date forms plus a time; bare date: 00:00:00."""
    p = _parts(values)
    hh, mi, ss = (pl.col(k).fill_null("0") for k in "HMS")
    day = _iso_date(pl.col("y"), pl.col("m"), pl.col("d"))
    ok = (
        day.str.to_date("%Y-%m-%d", strict=False).is_not_null()
        & (hh.cast(pl.Int32, strict=False) < 24)
        & (mi.cast(pl.Int32, strict=False) < 60)
        & (ss.cast(pl.Int32, strict=False) < 60)
    ).fill_null(False)
    iso = pl.concat_str(
        [
            day,
            pl.lit("T"),
            hh.str.zfill(2),
            pl.lit(":"),
            mi.str.zfill(2),
            pl.lit(":"),
            ss.str.zfill(2),
            (pl.lit(".") + pl.col("f")).fill_null(""),
            pl.col("z").str.replace(r"^([+-]\d{2})(\d{2})$", "$1:$2").fill_null(""),
        ]
    )
    out = p.select(
        value=pl.when(ok).then(iso), reason=pl.when(~ok).then(pl.lit("invalid date/time"))
    )
    return out["value"], out["reason"]


def phone_slow(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """phonenumbers (default region CN) for the few values the mobile pattern did not match."""
    out: list[str | None] = []
    reasons: list[str | None] = []
    for v in values.to_list():
        try:
            num = phonenumbers.parse(v or "", "CN")
            ok = phonenumbers.is_valid_number(num)
        except phonenumbers.NumberParseException:
            ok = False
        if ok:
            out.append(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))
            reasons.append(None)
        else:
            out.append(None)
            reasons.append("invalid phone number")
    return pl.Series(out, dtype=pl.String), pl.Series(reasons, dtype=pl.String)


def amount(e: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Decimal text: currency signs, 元/RMB/CNY, commas and spaces removed."""
    x = e.str.replace_all(r"(?i)[¥￥,，\s]|元|rmb|cny", "")
    ok = x.str.contains(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
    return pl.when(ok).then(x.str.strip_prefix("+")), _reason(
        (e.is_not_null() & ~ok, "not a number")
    )


def integer(e: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Whole number text (thousands separators and a .0 tail removed)."""
    x = e.str.replace_all(r"[,，\s]", "")
    ok = x.str.contains(r"^[+-]?\d+(?:\.0*)?$")
    v = x.str.replace(r"\.0*$", "").str.strip_prefix("+")
    return pl.when(ok).then(v), _reason((e.is_not_null() & ~ok, "not an integer"))


def gender(e: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """男/女/M/F/male/female/先生/女士 -> M/F; 未知/保密/unknown -> null; anything else rejected."""
    v = e.str.to_lowercase().replace_strict(GENDERS, default=None, return_dtype=pl.String)
    return pl.when(v != "").then(v), _reason(
        (e.is_not_null() & v.is_null(), "unknown gender value")
    )


def text(e: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Stripped text; never rejected."""
    return e, pl.lit(None, dtype=pl.String)


PREPARED: dict[str, tuple[Prepare, Callable[[Col], tuple[pl.Expr, pl.Expr]]]] = {
    "cn_ric": (cn_ric_prepare, cn_ric),
    "bank_card": (bank_card_prepare, bank_card),
}
"""Kinds whose intermediate columns are materialised first (Polars does not share them)."""

RULES: dict[str, Rule] = {
    "email": email,
    "amount": amount,
    "integer": integer,
    "gender": gender,
    "name": text,
    "text": text,
    "key": text,
}

TWO_STAGE: dict[str, tuple[FastRule, SlowRule]] = {
    "phone": (phone_fast, phone_slow),
    "date": (date_fast, date_slow),
    "datetime": (datetime_fast, datetime_slow),
}
