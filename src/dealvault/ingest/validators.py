"""Polars expressions that normalise and validate one column per field kind (no Python per row)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

import phonenumbers
import polars as pl

from dealvault.ingest.national_phones import read_national
from dealvault.ingest.options import DEFAULT_REGION, NO_OPTIONS, ColumnOptions, DateOrder

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
# Day and month in either order (03/07/1985, 3.7.1985, 03-07-1985 14:30): read only in the
# order the column's ``date_order`` gives (the classifier's finding, or the user's word).
DAY_MONTH_RE = rf"^(\d{{1,2}})\s*[-/.]\s*(\d{{1,2}})\s*[-/.]\s*(\d{{4}}){_TIME}{_TZ}$"
NO_ORDER = "day and month order not known (D/M/Y or M/D/Y): state date_order for the column"
COMPACT_RE = r"^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2})(\d{2})(\d{2})?)?$"
# A month without a day (2024年3月, 2024-03): the first of that month, as spreadsheets do.
MONTH_RE = r"^(\d{4})\s*(?:年|[-/])\s*(\d{1,2})\s*月?$"
# An Excel serial date: days since 1899-12-30, the fraction a time of day (45321, 44927.5).
# From 61 (1900-03-01; Excel counts a 29 February 1900 that never was) to 9999-12-31.
SERIAL_RE = r"^(\d{2,7})(\.\d+)?$"
SERIAL_MIN, SERIAL_MAX = 61, 2_958_465
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# M/F, and X for a gender other than male or female that the data states (X/O, other,
# diverse, non-binary): a known fact, which null (not known) would lose; the field is free
# text, so aggregates and releases treat X as one more value. ISO/IEC 5218 codes (1 male,
# 2 female, 0 not known, 9 not applicable) are read because the field is typed gender; W is
# the German weiblich. 其他 stays null as it always was (Chinese imports unchanged).
GENDERS = {
    "男": "M", "m": "M", "male": "M", "男性": "M", "先生": "M", "1": "M", "man": "M",
    "men": "M", "männlich": "M", "homme": "M", "hombre": "M",
    "女": "F", "f": "F", "female": "F", "女性": "F", "女士": "F", "2": "F", "w": "F",
    "woman": "F", "women": "F", "weiblich": "F", "femme": "F", "mujer": "F",
    "x": "X", "o": "X", "other": "X", "diverse": "X", "divers": "X", "non-binary": "X",
    "nonbinary": "X",
    "未知": "", "保密": "", "unknown": "", "u": "", "0": "", "9": "", "其他": "",
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


def _parts(values: pl.Series, order: DateOrder | None = None) -> pl.DataFrame:
    """y, m, d, hh, mi, ss, frac, tz of every accepted date/time form (regexes run once):
    ISO and Chinese layouts, compact digits, a month without a day, Excel serial numbers, and
    with ``order`` day and month in that order (03/07/1985); ``dm``: written day and month."""
    a = pl.col("a").struct.field
    b = pl.col("b").struct.field
    c = pl.col("c").struct.field
    e = pl.col("e").struct.field
    serial = _serial_parts(pl.col("v"))
    month = {"y": c("1"), "m": c("2"), "d": pl.when(c("1").is_not_null()).then(pl.lit("1"))}
    day, mon = ("1", "2") if order is DateOrder.DMY else ("2", "1")
    # day-and-month parts only with an order: y, m, d, H, M, S, then fraction and zone
    parts = (e("3"), e(mon), e(day), *(e(str(i)) for i in range(4, 9)))
    dm = dict(zip("ymdHMSfz", parts, strict=True)) if order is not None else {}

    def extra(k: str) -> list[pl.Expr]:
        return [dm[k]] if k in dm else []

    v = pl.col("v")
    frame = pl.DataFrame({"v": values}).with_columns(
        a=v.str.extract_groups(DATETIME_RE),
        b=v.str.extract_groups(COMPACT_RE),
        c=v.str.extract_groups(MONTH_RE),
        # without an order, only whether a value has the form (for the reason): cheaper
        e=v.str.extract_groups(DAY_MONTH_RE) if order is not None else v.str.contains(DAY_MONTH_RE),
    )
    return frame.select(
        *[
            pl.coalesce(
                a(str(i)), b(str(i)), *([month[k]] if k in month else []), serial[k], *extra(k)
            ).alias(k)
            for i, k in enumerate("ymdHMS", 1)
        ],
        pl.coalesce(a("7"), *extra("f")).alias("f"),
        pl.coalesce(a("8"), *extra("z")).alias("z"),
        (e("3").is_not_null() if order is not None else pl.col("e")).alias("dm"),
    )


def _date_reason(ok: pl.Expr, order: DateOrder | None, invalid: str) -> pl.Expr:
    """``invalid`` for a value no form reads; for one written day and month in a column
    without a ``date_order``, why (a guess would be wrong for every other customer)."""
    no_order = pl.col("dm") & pl.lit(order is None)
    return pl.when(~ok & no_order).then(pl.lit(NO_ORDER)).when(~ok).then(pl.lit(invalid))


def date_fast(e: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """ISO dates pass; everything else is flagged for ``date_slow``."""
    ok = (
        e.str.contains(r"^\d{4}-\d{2}-\d{2}$")
        & e.str.to_date("%Y-%m-%d", strict=False).is_not_null()
    )
    return e, pl.lit(None, dtype=pl.String), e.is_not_null() & ~ok


def date_slow(values: pl.Series, *, order: DateOrder | None = None) -> tuple[pl.Series, pl.Series]:
    """ISO YYYY-MM-DD from 2020/1/2, 2020.1.2, 2020年1月2日, 20200102, 2020年1月 (the 1st),
    Excel serials such as 43832 (a time part or fraction is dropped), and with ``order``
    03/07/1985 (D/M/Y: 1985-07-03; M/D/Y: 1985-03-07). Without an order such a value is
    refused as such, never guessed."""
    iso = _iso_date(pl.col("y"), pl.col("m"), pl.col("d"))
    out = _parts(values, order).select("dm", iso=iso)
    out = out.with_columns(ok=pl.col("iso").str.to_date("%Y-%m-%d", strict=False).is_not_null())
    out = out.select(
        value=pl.when("ok").then(pl.col("iso")),
        reason=_date_reason(pl.col("ok"), order, "invalid date"),
    )
    return out["value"], out["reason"]


def datetime_fast(e: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """``YYYY-MM-DD[ T]HH:MM:SS`` becomes ISO here; everything else goes to ``datetime_slow``."""
    x = e.str.replace(" ", "T", literal=True)
    ok = (
        x.str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
        & x.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False).is_not_null()
    )
    return pl.when(ok).then(x).otherwise(e), pl.lit(None, dtype=pl.String), e.is_not_null() & ~ok


def datetime_slow(
    values: pl.Series, *, order: DateOrder | None = None
) -> tuple[pl.Series, pl.Series]:
    """ISO YYYY-MM-DDTHH:MM:SS[.f][zone] from the date forms plus a time; bare date: 00:00:00.
    Day and month first (03/07/2024 14:30) with the column's ``order`` only."""
    p = _parts(values, order)
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
    p = p.with_columns(ok=ok)  # materialised once: value and reason both read it
    out = p.select(
        value=pl.when("ok").then(iso), reason=_date_reason(pl.col("ok"), order, "invalid date/time")
    )
    return out["value"], out["reason"]


def national_fast(e: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Numbers of a column read in another region than China: every value goes to
    ``phone_slow`` with the region, whose first pass is vectorised (``ingest.national_phones``)."""
    return e, pl.lit(None, dtype=pl.String), e.is_not_null()


def phone_slow(values: pl.Series, *, region: str = DEFAULT_REGION) -> tuple[pl.Series, pl.Series]:
    """phonenumbers (default region CN) for the few values the mobile pattern did not match.

    In another region (``phone_region``), the numbers written in its national layout are read
    by its metadata patterns first (``national_phones.read_national``); phonenumbers then
    parses the others (+CC numbers, unusual layouts) in that region."""
    settled = None
    if region != DEFAULT_REGION:
        settled = read_national(values=values, region=region)
        rest = settled.is_null() & values.is_not_null()
        if not rest.any():
            return settled, settled.is_null().replace_strict(
                {True: "invalid phone number", False: None}, return_dtype=pl.String
            )
        idx = rest.arg_true()
        values = values.gather(idx)
    out: list[str | None] = []
    reasons: list[str | None] = []
    for v in values.to_list():
        try:
            num = phonenumbers.parse(v or "", region)
            ok = phonenumbers.is_valid_number(num)
        except phonenumbers.NumberParseException:
            ok = False
        if ok:
            out.append(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))
            reasons.append(None)
        else:
            out.append(None)
            reasons.append("invalid phone number")
    value = pl.Series(out, dtype=pl.String)
    reason = pl.Series(reasons, dtype=pl.String)
    if settled is None:
        return value, reason
    return settled.scatter(idx, value), pl.Series([None] * len(settled), dtype=pl.String).scatter(
        idx, reason
    )


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
    """男/女/M/F/male/female/先生/女士, M/W, men/women, ISO/IEC 5218 1/2 (1.0/2.0 as
    spreadsheets store them) -> M/F; X/O/other/diverse/non-binary -> X (see ``GENDERS``);
    未知/保密/unknown/0/9 -> null; anything else rejected."""
    x = e.str.to_lowercase().str.replace(r"^(\d)\.0+$", "$1")
    v = x.replace_strict(GENDERS, default=None, return_dtype=pl.String)
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


def two_stage(*, kind: str, options: ColumnOptions = NO_OPTIONS) -> tuple[FastRule, SlowRule]:
    """The fast and slow rule of a ``TWO_STAGE`` kind, reading a column with its options: phone
    numbers in the column's region, dates in its day and month order. No options: as before
    (phones without +CC Chinese; day-and-month dates refused as such)."""
    region, order = options.phone_region, options.date_order
    if kind == "phone" and region is not None and region != DEFAULT_REGION:
        return national_fast, partial(phone_slow, region=region)
    if kind == "date" and order is not None:
        return date_fast, partial(date_slow, order=order)
    if kind == "datetime" and order is not None:
        return datetime_fast, partial(datetime_slow, order=order)
    return TWO_STAGE[kind]
