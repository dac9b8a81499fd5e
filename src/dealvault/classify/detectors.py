"""Detectors: a "validated match" mask per PII type over a whole column of strings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Final

import numpy.typing as npt
import polars as pl

from dealvault.classify import intl
from dealvault.classify import patterns as p
from dealvault.classify import validators as v
from dealvault.classify.cells import Cells, as_mask, matches, scatter, validated
from dealvault.classify.dates import date_, date_of_birth, datetime_
from dealvault.classify.gazetteer import place_names
from dealvault.classify.names import COMMON_WORDS
from dealvault.errors import Invalid

BoolArray = v.BoolArray


# --- identity documents ------------------------------------------------------------------


def cn_ric(c: Cells) -> BoolArray:
    """18-digit resident ID (MOD 11-2, birth date, region code) or legacy 15-digit form."""
    s = c.compact
    shaped = matches(s, p.RIC)
    if not shaped.any():
        return shaped
    long = shaped & as_mask(s.str.len_bytes() == 18)
    short = shaped & ~long
    out = shaped.copy()
    if long.any():
        out[long] = v.ric18_valid(s.filter(pl.Series(long)), c.today)
    if short.any():
        out[short] = v.ric15_valid(s.filter(pl.Series(short)), c.today)
    return out


def cn_passport(c: Cells) -> BoolArray:
    return matches(c.upper, p.PASSPORT)


def hk_macau_permit(c: Cells) -> BoolArray:
    return matches(c.upper, p.HK_MACAU_PERMIT)


def tw_permit(c: Cells) -> BoolArray:
    return matches(c.upper, p.TW_PERMIT)


def uscc(c: Cells) -> BoolArray:
    return validated(c.upper, p.USCC, v.uscc_valid)


def license_plate(c: Cells) -> BoolArray:
    return matches(c.raw, "(?i)" + p.LICENSE_PLATE)


# --- contact -----------------------------------------------------------------------------


def cn_mobile(c: Cells) -> BoolArray:
    return matches(c.raw, p.MOBILE)


def cn_landline(c: Cells) -> BoolArray:
    return matches(c.raw, p.LANDLINE)


def intl_phone(c: Cells) -> BoolArray:
    mask = matches(c.raw, p.INTL_PHONE) & ~matches(c.raw, p.CN_INTL)
    if not mask.any():
        return mask
    return scatter(mask, v.on_unique(c.raw.filter(pl.Series(mask)), v.intl_phone_ok))


def email(c: Cells) -> BoolArray:
    return matches(c.raw, p.EMAIL) & as_mask(c.raw.str.len_bytes() <= 254)


def ipv4(c: Cells) -> BoolArray:
    return matches(c.raw, p.IPV4)


def ipv6(c: Cells) -> BoolArray:
    mask = matches(c.raw, p.IPV6_LIKE) & matches(c.raw, ":.*:")
    if not mask.any():
        return mask
    return scatter(mask, v.on_unique(c.raw.filter(pl.Series(mask)), v.ipv6_ok))


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
    mask = matches(s, p.CARD_DIGITS)
    if not mask.any():
        return mask, mask.copy()
    cand = s.filter(pl.Series(mask))
    luhn = v.luhn_valid(cand)
    n = as_mask(cand.str.len_bytes())
    bank = luhn & (n >= 16) & (n <= 19) & matches(cand, _CARD_IIN)
    credit = luhn & matches(cand, _CREDIT)
    return scatter(mask, bank), scatter(mask, credit)


def bank_card(c: Cells) -> BoolArray:
    """16-19 digits, Luhn, a known issuer range (UnionPay 62 and international brands)."""
    return _cards(c)[0]


def credit_card(c: Cells) -> BoolArray:
    """Visa / Mastercard / Amex / JCB number ranges and lengths, Luhn."""
    return _cards(c)[1]


def unionpay(c: Cells) -> BoolArray:
    """Bank cards in the UnionPay 62 range (weighs towards ``bank_card``)."""
    return bank_card(c) & matches(c.compact, r"^62")


def iban(c: Cells) -> BoolArray:
    return validated(c.upper, p.IBAN, v.iban_valid)


# --- dates and numbers -------------------------------------------------------------------


def amount(c: Cells) -> BoolArray:
    """Money: decimals with at most two places or a currency marker."""
    return matches(c.raw, p.AMOUNT) & matches(c.raw, p.AMOUNT_MARKED)


def quantity(c: Cells) -> BoolArray:
    return matches(c.raw, p.QUANTITY)


# --- names, addresses, words -------------------------------------------------------------


def cn_name(c: Cells) -> BoolArray:
    """Surname + one or two common given-name characters (or 先生/女士), not a common word."""
    s = c.raw
    mask = matches(s, p.name_pattern()) | matches(s, p.DOTTED_NAME)
    return mask & ~as_mask(s.is_in(list(COMMON_WORDS)))


def cn_name_loose(c: Cells) -> BoolArray:
    """Surname + any one or two Han characters (column context must back it up)."""
    s = c.raw
    mask = matches(s, p.loose_name_pattern()) | matches(s, p.DOTTED_NAME)
    return mask & ~as_mask(s.is_in(list(COMMON_WORDS)))


def cn_address(c: Cells) -> BoolArray:
    """A gazetteer place name plus a road / number / building part."""
    s = c.raw
    mask = as_mask(c.nchars >= 6) & matches(s, p.ADDRESS_PARTS)
    if not mask.any():
        return mask
    cand = s.filter(pl.Series(mask))
    return scatter(mask, as_mask(cand.str.contains_any(list(place_names()))))


def product(c: Cells) -> BoolArray:
    """Short text with product vocabulary (units, goods nouns). Weak on its own."""
    return as_mask(c.nchars <= 40) & matches(c.raw, p.PRODUCT_HINT) & ~matches(c.raw, "@|://")


def _cased(words: frozenset[str]) -> list[str]:
    return sorted({f(w) for w in words for f in (str.lower, str.upper, str.title)})


def gender(c: Cells) -> BoolArray:
    """男 / 女, M / F, male / female and similar (any letter case)."""
    return as_mask(c.raw.is_in(_cased(p.GENDER_WORDS)))


def frequency(c: Cells) -> BoolArray:
    """Purchase-frequency words (每周, 每月, monthly...)."""
    return as_mask(c.raw.is_in(_cased(p.FREQUENCY_WORDS)))


def label(c: Cells) -> BoolArray:
    """A membership tier or customer level (金卡, 钻石会员, VIP3, Gold). The classifier also
    gives this type to any column of a few short labels repeated throughout (columns.py)."""
    return matches(c.raw, p.TIER)


def order_id(c: Cells) -> BoolArray:
    """Identifier with an order-style prefix (DD, ORD, SO...) or an embedded yyyymmdd."""
    s = c.raw
    return matches(s, p.IDENTIFIER) & (
        matches(s, "(?i)" + p.ORDER_PREFIX) | matches(s, p.EMBEDDED_DATE)
    )


def customer_id(c: Cells) -> BoolArray:
    """Identifier with a customer-style prefix (C, KH, VIP, UID...)."""
    s = c.raw
    return matches(s, p.IDENTIFIER) & matches(s, "(?i)" + p.CUSTOMER_PREFIX)


def free_text(c: Cells) -> BoolArray:
    """Sentence-like text: 12+ characters with CJK punctuation, or three words or more."""
    s = c.raw
    return as_mask(c.nchars >= 12) & (matches(s, p.CJK_PUNCT) | matches(s, p.WORDS))


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
    "label": label,
    "order_id": order_id,
    "customer_id": customer_id,
    "free_text": free_text,
    "us_ssn": intl.us_ssn,
    "passport": intl.passport,
    "driving_licence": intl.driving_licence,
    "vin": intl.vin,
    "person_name": intl.person_name,
    "street_address": intl.street_address,
    "contact_email": intl.contact_email,
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
    "date_of_birth": r"^\d{4}|^\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{4}",
    "date": r"^\d{4}|^\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{4}",
    "datetime": r"^\d{4}.*\d:\d",
    "amount": r"\d",
    "quantity": p.QUANTITY,
    "cn_name": r"^\p{Han}",
    "cn_address": r"\p{Han}{4}",
    "product": p.PRODUCT_HINT,
    "gender": r"^\S{1,12}$",
    "frequency": r"^\S{1,12}$",
    "label": r"^\S.{0,14}$",
    "order_id": r"^[A-Za-z]{0,8}[-_#]?\d",
    "customer_id": r"^[A-Za-z]{0,8}[-_#]?\d",
    "free_text": r"^.{12}",
    "us_ssn": p.SSN_GROUPED,
    "passport": r"^[A-Za-z]{0,2}\d",
    "driving_licence": r"\d",
    "vin": r"^[A-HJ-NPR-Za-hj-npr-z0-9]{17}$",
    "person_name": r"^\p{Lu}\p{L}",
    "street_address": intl.STREET_GATE,
    "contact_email": r"[<(\[].*@|@.*[>)\]]",
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
