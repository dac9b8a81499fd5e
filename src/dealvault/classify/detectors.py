"""Detectors: a "validated match" mask per PII type over a whole column of strings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from dealvault.classify import patterns as p
from dealvault.classify import validators as v
from dealvault.classify.gazetteer import place_names
from dealvault.classify.names import COMMON_WORDS
from dealvault.errors import Invalid

BoolArray = v.BoolArray


class Cells:
    """One column's values as stripped strings (null for blanks) with lazily built forms."""

    __slots__ = ("_compact", "_lower", "_nchars", "memo", "raw", "today")

    def __init__(
        self, values: pl.Series, *, today: date | None = None, drop_blank: bool = False
    ) -> None:
        s = values if values.dtype == pl.String else to_text(values)
        s = s.str.strip_chars()
        blank = s.str.len_bytes() == 0
        s = s.filter(~blank).drop_nulls() if drop_blank else s.set(blank, None)
        self.raw: pl.Series = s
        self.today: date = today or date.today()
        self._compact: pl.Series | None = None
        self._lower: pl.Series | None = None
        self._nchars: pl.Series | None = None
        self.memo: dict[str, tuple[npt.NDArray[Any], ...]] = {}

    def __len__(self) -> int:
        return len(self.raw)

    def subsample(self, k: int) -> Cells:
        """At most ``k`` evenly spaced values (deterministic)."""
        return Cells(even_sample(self.raw, k), today=self.today)

    @property
    def compact(self) -> pl.Series:
        """Spaces and dashes removed (card numbers, IDs and permits are often grouped)."""
        if self._compact is None:
            sep = self.raw.str.contains(r"[ \-\u3000\t]").fill_null(False)
            if sep.any():
                fixed = self.raw.filter(sep).str.replace_all(r"[ \-\u3000\t]", "")
                self._compact = self.raw.clone().scatter(sep.arg_true(), fixed)
            else:
                self._compact = self.raw
        return self._compact

    @property
    def lower(self) -> pl.Series:
        if self._lower is None:
            self._lower = self.raw.str.to_lowercase()
        return self._lower

    @property
    def nchars(self) -> pl.Series:
        if self._nchars is None:
            self._nchars = self.raw.str.len_chars()
        return self._nchars


def even_sample(values: pl.Series, k: int) -> pl.Series:
    """At most ``k`` values spread evenly over the series (first one included)."""
    n = len(values)
    if n <= k:
        return values
    return values.gather_every(-(-n // k)).head(k)


def to_text(values: pl.Series) -> pl.Series:
    """Text form of any column: ISO dates, whole floats without ``.0``, others cast."""
    if values.dtype == pl.Date:
        return values.dt.strftime("%Y-%m-%d")
    if isinstance(values.dtype, pl.Datetime):
        return values.dt.strftime("%Y-%m-%d %H:%M:%S")
    if values.dtype.is_float():
        whole = values.is_not_nan() & (values.round(0) == values) & (values.abs() < 1e18)
        as_int = values.cast(pl.Int64, strict=False).cast(pl.String)
        return pl.select(
            pl.when(pl.lit(whole)).then(pl.lit(as_int)).otherwise(pl.lit(values.cast(pl.String)))
        ).to_series()
    return values.cast(pl.String, strict=False)


def _np(mask: pl.Series) -> BoolArray:
    out: BoolArray = mask.fill_null(False).to_numpy()
    return out


def _match(s: pl.Series, pattern: str) -> BoolArray:
    return _np(s.str.contains(pattern))


def _scatter(mask: BoolArray, valid: BoolArray) -> BoolArray:
    out = mask.copy()
    out[mask] = valid
    return out


def _validated(s: pl.Series, pattern: str, check: Callable[[pl.Series], BoolArray]) -> BoolArray:
    mask = _match(s, pattern)
    if not mask.any():
        return mask
    return _scatter(mask, check(s.filter(pl.Series(mask))))


# --- identity documents ------------------------------------------------------------------


def cn_ric(c: Cells) -> BoolArray:
    """18-digit resident ID (MOD 11-2, birth date, region code) or legacy 15-digit form."""
    s = c.compact
    shaped = _match(s, p.RIC)
    if not shaped.any():
        return shaped
    long = shaped & _np(s.str.len_bytes() == 18)
    short = shaped & ~long
    out = shaped.copy()
    if long.any():
        out[long] = v.ric18_valid(s.filter(pl.Series(long)), c.today)
    if short.any():
        out[short] = v.ric15_valid(s.filter(pl.Series(short)), c.today)
    return out


def cn_passport(c: Cells) -> BoolArray:
    return _match(c.compact.str.to_uppercase(), p.PASSPORT)


def hk_macau_permit(c: Cells) -> BoolArray:
    return _match(c.compact.str.to_uppercase(), p.HK_MACAU_PERMIT)


def tw_permit(c: Cells) -> BoolArray:
    return _match(c.compact.str.to_uppercase(), p.TW_PERMIT)


def uscc(c: Cells) -> BoolArray:
    return _validated(c.compact.str.to_uppercase(), p.USCC, v.uscc_valid)


def license_plate(c: Cells) -> BoolArray:
    return _match(c.raw, "(?i)" + p.LICENSE_PLATE)


# --- contact -----------------------------------------------------------------------------


def cn_mobile(c: Cells) -> BoolArray:
    return _match(c.raw, p.MOBILE)


def cn_landline(c: Cells) -> BoolArray:
    return _match(c.raw, p.LANDLINE)


def intl_phone(c: Cells) -> BoolArray:
    mask = _match(c.raw, p.INTL_PHONE) & ~_match(c.raw, p.CN_INTL)
    if not mask.any():
        return mask
    return _scatter(mask, v.on_unique(c.raw.filter(pl.Series(mask)), v.intl_phone_ok))


def email(c: Cells) -> BoolArray:
    return _match(c.raw, p.EMAIL) & _np(c.raw.str.len_bytes() <= 254)


def ipv4(c: Cells) -> BoolArray:
    return _match(c.raw, p.IPV4)


def ipv6(c: Cells) -> BoolArray:
    mask = _match(c.raw, p.IPV6_LIKE) & _match(c.raw, ":.*:")
    if not mask.any():
        return mask
    return _scatter(mask, v.on_unique(c.raw.filter(pl.Series(mask)), v.ipv6_ok))


# --- cards and accounts ------------------------------------------------------------------

# Issuer ranges: UnionPay 62 / 81, Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37,
# JCB 3528-3589, Diners 36/38, other domestic debit 60 / 9.
_CARD_IIN: Final = r"^(?:62|81|4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[4-8]|60|9)"
_CREDIT: Final = (
    r"^(?:4\d{12}(?:\d{3}){0,2}"  # Visa 13 / 16 / 19
    r"|(?:5[1-5]\d{2}|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))\d{12}"  # Mastercard
    r"|3[47]\d{13}"  # Amex
    r"|35(?:2[89]|[3-8]\d)\d{12,15})$"  # JCB 16-19
)


def _cards(c: Cells) -> tuple[npt.NDArray[Any], ...]:
    if "cards" not in c.memo:
        c.memo["cards"] = _card_masks(c)
    return c.memo["cards"]


def _card_masks(c: Cells) -> tuple[BoolArray, BoolArray]:
    s = c.compact
    mask = _match(s, p.CARD_DIGITS)
    if not mask.any():
        return mask, mask.copy()
    cand = s.filter(pl.Series(mask))
    luhn = v.luhn_valid(cand)
    n = _np(cand.str.len_bytes())
    bank = luhn & (n >= 16) & (n <= 19) & _match(cand, _CARD_IIN)
    credit = luhn & _match(cand, _CREDIT)
    return _scatter(mask, bank), _scatter(mask, credit)


def bank_card(c: Cells) -> BoolArray:
    """16-19 digits, Luhn, a known issuer range (UnionPay 62 and international brands)."""
    return _cards(c)[0]


def credit_card(c: Cells) -> BoolArray:
    """Visa / Mastercard / Amex / JCB number ranges and lengths, Luhn."""
    return _cards(c)[1]


def unionpay(c: Cells) -> BoolArray:
    """Bank cards in the UnionPay 62 range (weighs towards ``bank_card``)."""
    return bank_card(c) & _match(c.compact, r"^62")


def iban(c: Cells) -> BoolArray:
    return _validated(c.compact.str.to_uppercase(), p.IBAN, v.iban_valid)


# --- dates and numbers -------------------------------------------------------------------


def _ymd_fixed(
    s: pl.Series, mask: BoolArray, width: int, at: tuple[int, int, int]
) -> tuple[v.IntArray, v.IntArray, v.IntArray]:
    cols = v.byte_columns(s.filter(pl.Series(mask)), width)
    y, mo, d = at
    return v.digits_at(cols, y, y + 4), v.digits_at(cols, mo, mo + 2), v.digits_at(cols, d, d + 2)


def _ymd(
    s: pl.Series, fixed: tuple[tuple[str, int, tuple[int, int, int]], ...], general: str
) -> tuple[v.IntArray, v.IntArray, v.IntArray]:
    """Year, month, day (0 where no match): fixed-width layouts by byte position, the rest
    by regular expression."""
    n = len(s)
    y, mo, d = (np.zeros(n, dtype=np.int64) for _ in range(3))
    done = np.zeros(n, dtype=np.bool_)
    for pattern, width, at in fixed:
        mask = _match(s, pattern) & ~done
        if mask.any():
            y[mask], mo[mask], d[mask] = _ymd_fixed(s, mask, width, at)
            done |= mask
    rest = ~done & _np(s.is_not_null())
    if rest.any():
        parts = s.filter(pl.Series(rest)).str.extract_groups(general)
        for out, field in ((y, "1"), (mo, "2"), (d, "3")):
            out[rest] = parts.struct.field(field).cast(pl.Int64, strict=False).fill_null(0)
    return y, mo, d


_DATE_FIXED: Final = (
    (r"^\d{4}[-/.]\d{2}[-/.]\d{2}$", 10, (0, 5, 8)),
    (r"^\d{8}$", 8, (0, 4, 6)),
)
_DATETIME_FIXED: Final = ((r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$", 19, (0, 5, 8)),)


def parse_dates(s: pl.Series) -> tuple[BoolArray, v.IntArray]:
    """Mask of calendar-valid dates (several layouts, 1900-2100) and their day numbers."""
    y, mo, d = _ymd(s, _DATE_FIXED, p.DATE_PARTS)
    ok = v.valid_ymd(y, mo, d) & (y >= 1900) & (y <= 2100)
    days = np.where(ok, v.day_numbers(y, mo, d), 0)
    return ok, days


def _parsed(c: Cells) -> tuple[npt.NDArray[Any], ...]:
    if "dates" not in c.memo:
        c.memo["dates"] = parse_dates(c.raw)
    return c.memo["dates"]


def date_(c: Cells) -> BoolArray:
    """A calendar date without a time of day (2024-01-31, 2024/1/31, 2024年1月31日, 20240131)."""
    return _parsed(c)[0]


def date_of_birth(c: Cells) -> BoolArray:
    """A date between 1900-01-01 and today (column context decides)."""
    ok, days = _parsed(c)
    today = (c.today - date(1970, 1, 1)).days
    return ok & (days <= today) & (days >= (date(1900, 1, 1) - date(1970, 1, 1)).days)


def datetime_(c: Cells) -> BoolArray:
    """A date with a time of day."""
    y, mo, d = _ymd(c.raw, _DATETIME_FIXED, p.DATETIME_PARTS)
    return v.valid_ymd(y, mo, d) & (y >= 1900) & (y <= 2100)


def amount(c: Cells) -> BoolArray:
    """Money: decimals with at most two places or a currency marker."""
    return _match(c.raw, p.AMOUNT) & _match(c.raw, p.AMOUNT_MARKED)


def quantity(c: Cells) -> BoolArray:
    return _match(c.raw, p.QUANTITY)


# --- names, addresses, words -------------------------------------------------------------


def cn_name(c: Cells) -> BoolArray:
    """Surname + one or two common given-name characters (or 先生/女士), not a common word."""
    s = c.raw
    mask = _match(s, p.name_pattern()) | _match(s, p.DOTTED_NAME)
    return mask & ~_np(s.is_in(list(COMMON_WORDS)))


def cn_name_loose(c: Cells) -> BoolArray:
    """Surname + any one or two Han characters (column context must back it up)."""
    s = c.raw
    mask = _match(s, p.loose_name_pattern()) | _match(s, p.DOTTED_NAME)
    return mask & ~_np(s.is_in(list(COMMON_WORDS)))


def cn_address(c: Cells) -> BoolArray:
    """A gazetteer place name plus a road / number / building part."""
    s = c.raw
    mask = _np(c.nchars >= 6) & _match(s, p.ADDRESS_PARTS)
    if not mask.any():
        return mask
    cand = s.filter(pl.Series(mask))
    return _scatter(mask, _np(cand.str.contains_any(list(place_names()))))


def product(c: Cells) -> BoolArray:
    """Short text with product vocabulary (units, goods nouns). Weak on its own."""
    return _np(c.nchars <= 40) & _match(c.raw, p.PRODUCT_HINT) & ~_match(c.raw, "@|://")


def _cased(words: frozenset[str]) -> list[str]:
    return sorted({f(w) for w in words for f in (str.lower, str.upper, str.title)})


def gender(c: Cells) -> BoolArray:
    """男 / 女, M / F, male / female and similar (any letter case)."""
    return _np(c.raw.is_in(_cased(p.GENDER_WORDS)))


def frequency(c: Cells) -> BoolArray:
    """Purchase-frequency words (每周, 每月, monthly...)."""
    return _np(c.raw.is_in(_cased(p.FREQUENCY_WORDS)))


def order_id(c: Cells) -> BoolArray:
    """Identifier with an order-style prefix (DD, ORD, SO...) or an embedded yyyymmdd."""
    s = c.raw
    return _match(s, p.IDENTIFIER) & (
        _match(s, "(?i)" + p.ORDER_PREFIX) | _match(s, p.EMBEDDED_DATE)
    )


def customer_id(c: Cells) -> BoolArray:
    """Identifier with a customer-style prefix (C, KH, VIP, UID...)."""
    s = c.raw
    return _match(s, p.IDENTIFIER) & _match(s, "(?i)" + p.CUSTOMER_PREFIX)


def free_text(c: Cells) -> BoolArray:
    """Sentence-like text: 12+ characters with CJK punctuation, or three words or more."""
    s = c.raw
    return _np(c.nchars >= 12) & (_match(s, p.CJK_PUNCT) | _match(s, p.WORDS))


Detector = Callable[[Cells], BoolArray]

DETECTORS: Final[dict[str, Detector]] = {
    "cn_ric": cn_ric,
    "cn_passport": cn_passport,
    "hk_macau_permit": hk_macau_permit,
    "tw_permit": tw_permit,
    "uscc": uscc,
    "license_plate": license_plate,
    "cn_mobile": cn_mobile,
    "cn_landline": cn_landline,
    "intl_phone": intl_phone,
    "email": email,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "bank_card": bank_card,
    "credit_card": credit_card,
    "iban": iban,
    "date_of_birth": date_of_birth,
    "date": date_,
    "datetime": datetime_,
    "amount": amount,
    "quantity": quantity,
    "cn_name": cn_name,
    "cn_address": cn_address,
    "product": product,
    "gender": gender,
    "frequency": frequency,
    "order_id": order_id,
    "customer_id": customer_id,
    "free_text": free_text,
}
PII_TYPES: Final = tuple(DETECTORS)

# A necessary condition per detector (every validated match also matches its gate). All
# gates run in one pass over a small sample; only detectors whose gate matches enough
# values run at all.
GATES: Final[dict[str, str]] = {
    "cn_ric": r"^\d{6}",
    "cn_passport": r"^[A-Za-z]{1,2}[\s\-]?\d",
    "hk_macau_permit": r"^[A-Za-z]{1,2}[\s\-]?\d",
    "tw_permit": r"^[A-Za-z]?[\s\-]?\d",
    "uscc": r"^\d",
    "license_plate": rf"^[{p.PLATE_PROVINCES}]",
    "cn_mobile": r"1[\s\-]?\d",
    "cn_landline": r"\d{3}",
    "intl_phone": r"^\(?(?:\+|00)",
    "email": "@",
    "ipv4": r"^\d{1,3}\.",
    "ipv6": ":",
    "bank_card": r"^\d{4}",
    "credit_card": r"^\d{4}",
    "iban": r"^[A-Za-z]{2}\d{2}",
    "date_of_birth": r"^\d{4}",
    "date": r"^\d{4}",
    "datetime": r"^\d{4}.*\d:\d",
    "amount": r"\d",
    "quantity": p.QUANTITY,
    "cn_name": r"^\p{Han}",
    "cn_address": r"\p{Han}{4}",
    "product": p.PRODUCT_HINT,
    "gender": r"^\S{1,12}$",
    "frequency": r"^\S{1,12}$",
    "order_id": r"^[A-Za-z]{0,8}[-_#]?\d",
    "customer_id": r"^[A-Za-z]{0,8}[-_#]?\d",
    "free_text": r"^.{12}",
}


def gate_shares(c: Cells) -> dict[str, float]:
    """Share of values passing each detector's gate, in one pass."""
    if len(c) == 0:
        return dict.fromkeys(GATES, 0.0)
    patterns = sorted(set(GATES.values()))
    row = (
        pl.DataFrame({"v": c.raw})
        .select(
            pl.col("v").str.contains(g).fill_null(False).mean().alias(str(i))
            for i, g in enumerate(patterns)
        )
        .row(0)
    )
    by_pattern = dict(zip(patterns, row, strict=True))
    return {t: float(by_pattern[g] or 0.0) for t, g in GATES.items()}


def detect(pii_type: str, values: pl.Series, *, today: date | None = None) -> pl.Series:
    """Boolean mask, aligned with ``values``: True where the value is a validated match.

    Nulls and blanks are False. Non-string columns are matched on their text form.
    """
    detector = DETECTORS.get(pii_type)
    if detector is None:
        raise Invalid(f"unknown PII type {pii_type!r}; known: {', '.join(PII_TYPES)}")
    cells = Cells(values, today=today)
    return pl.Series(values.name, detector(cells), dtype=pl.Boolean)


def detect_all(
    values: pl.Series, *, types: tuple[str, ...] = PII_TYPES, today: date | None = None
) -> dict[str, pl.Series]:
    """Masks for several types, sharing the normalised forms of the column."""
    unknown = [t for t in types if t not in DETECTORS]
    if unknown:
        raise Invalid(f"unknown PII types: {', '.join(map(repr, unknown))}")
    cells = Cells(values, today=today)
    return {t: pl.Series(values.name, DETECTORS[t](cells), dtype=pl.Boolean) for t in types}
