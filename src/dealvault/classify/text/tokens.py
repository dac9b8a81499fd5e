"""Free-text token classification: number, code, e-mail and address-like tokens typed."""

from __future__ import annotations

from datetime import date
from functools import cache

import polars as pl
from stdnum import iban as stdnum_iban
from stdnum.cn import uscc as stdnum_uscc

from dealvault.classify.spans import (
    BANK_CARD,
    CN_LANDLINE,
    CN_MOBILE,
    CN_PASSPORT,
    CN_RIC,
    CN_RIC_INVALID,
    CN_TRAVEL_PERMIT,
    EMAIL,
    IBAN,
    INTL_PHONE,
    IPV4,
    IPV6,
    LICENSE_PLATE,
    USCC,
)
from dealvault.classify.text.lexicon import _regions
from dealvault.classify.text.shapes import (
    _ASCII_ALNUM_AFTER,
    _ASCII_LETTER_BEFORE,
    _CARD_CUE,
    _CARD_ISSUER,
    _CARD_SHAPE,
    _DOC_CUE,
    _IBAN_SHAPE,
    _ID_CUE,
    _IPV4_SHAPE,
    _LANDLINE_CUE,
    _LANDLINE_SHAPE,
    _LIST_CUE,
    _LOCAL_LANDLINE_SHAPE,
    _MOBILE_SHAPE,
    _NEW_ENERGY_PLATE,
    _OBF_EMAIL_SHAPE,
    _ORDER_CUE,
    _PASSPORT_SHAPE,
    _PERMIT_SHAPE,
    _PHONE_CUE,
    _PLATE_CUE,
    _PLATE_SHAPE,
    _RIC15_SHAPE,
    _RIC18_SHAPE,
    _USCC_SHAPE,
    _VERSION_CUE,
)
from dealvault.classify.text.validate import (
    _MIN_DATE,
    _ipv6_valid,
    _luhn_valid,
    _phone_kind,
    _python_check,
    _ric15_valid,
    _ric18_valid,
    _subset,
)
from dealvault.synth.idnumbers import MOBILE_PREFIXES

# ---------------------------------------------------------------------------------------
# Token classification (numbers, codes, e-mails, IP addresses, plates)


def _classify_tokens(cands: pl.DataFrame) -> pl.DataFrame:
    """Validated token candidates with ``pii_type`` (null when not PII) and ``confidence``."""
    m, pre, post = pl.col("m"), pl.col("pre"), pl.col("post")
    f = cands.with_columns(norm=m.str.replace_all(r"[ \-.()（）]", ""))
    norm = pl.col("norm")
    f = f.with_columns(
        ric18=m.str.contains(_RIC18_SHAPE),
        ric15=m.str.contains(_RIC15_SHAPE),
        mobile=m.str.contains(_MOBILE_SHAPE)
        & norm.str.slice(-11, 3).cast(pl.Int64, strict=False).is_in(_mobile_prefixes().implode()),
        landline=m.str.contains(_LANDLINE_SHAPE),
        local_landline=m.str.contains(_LOCAL_LANDLINE_SHAPE) & pre.str.contains(_LANDLINE_CUE),
        obf_email=m.str.contains(_OBF_EMAIL_SHAPE) & ~post.str.contains(_ASCII_ALNUM_AFTER),
        card=m.str.contains(_CARD_SHAPE),
        plus=(m.str.starts_with("+") | m.str.starts_with("00")) & (norm.str.len_chars() >= 9),
        uscc=m.str.contains(_USCC_SHAPE),
        iban=m.str.contains(_IBAN_SHAPE),
        passport=m.str.contains(_PASSPORT_SHAPE),
        permit=m.str.contains(_PERMIT_SHAPE),
        ipv4=m.str.contains(_IPV4_SHAPE)
        & ~m.str.contains(r"^(?:0|127)\.")
        & ~pre.str.contains(_VERSION_CUE),
        ipv6=m.str.contains(":") & (m.str.contains("::") | (m.str.count_matches(":") == 7)),
        plate=m.str.contains(_PLATE_SHAPE) & m.str.contains("[0-9]"),
        order_cue=pre.str.contains(_ORDER_CUE) | pl.col("far").str.contains(_LIST_CUE),
        card_cue=pre.str.contains(_CARD_CUE),
        phone_cue=pre.str.contains(_PHONE_CUE),
        id_cue=pre.str.contains(_ID_CUE),
        doc_cue=pre.str.contains(_DOC_CUE),
        plate_cue=pre.str.contains(_PLATE_CUE),
        glued=(pre.str.contains(_ASCII_LETTER_BEFORE) | post.str.contains(_ASCII_ALNUM_AFTER)),
    )
    f = f.with_columns(
        ric18_shape=pl.col("ric18"),
        ric18=_subset(f, "ric18", "norm", _ric18_valid),
        ric15=_subset(f, "ric15", "norm", _ric15_valid),
        card=_subset(f, "card", "norm", _luhn_valid),
    )
    f = f.with_columns(uscc=pl.col("uscc") & ~pl.col("ric18"))  # most are ID numbers
    f = f.with_columns(
        uscc=_subset(f, "uscc", "norm", lambda s: _python_check(s, stdnum_uscc.is_valid)),
        iban=_subset(f, "iban", "norm", lambda s: _python_check(s, stdnum_iban.is_valid)),
        ipv6=_subset(f, "ipv6", "m", lambda s: _python_check(s, _ipv6_valid)),
    )
    plus_idx = f["plus"].arg_true().to_numpy()
    plus_kind: list[str | None] = [None] * f.height
    for i, value in zip(plus_idx.tolist(), f["norm"].gather(plus_idx).to_list(), strict=True):
        plus_kind[i] = _phone_kind(value)
    f = f.with_columns(plus_kind=pl.Series(plus_kind, dtype=pl.String))
    region_known = norm.str.slice(0, 6).is_in(_regions()[1].implode())
    glued = pl.col("glued") & ~pl.col("phone_cue") & ~pl.col("card_cue")
    unionpay = norm.str.starts_with("62")
    # Without a card cue, only numbers with a plausible issuer prefix and length are cards,
    # and an 18-digit number shaped like a resident ID (region + birth date) is not one.
    issuer = norm.str.contains(_CARD_ISSUER)
    id_like = (
        norm.str.contains(r"^[1-9][0-9]{16}[0-9Xx]$")
        & region_known
        & norm.str.slice(6, 8).str.to_date("%Y%m%d", strict=False).is_not_null()
    )
    # Region and birth date right but the check digit wrong: a possible ID (mistyped or
    # altered), never a company code.
    born = norm.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    ric_invalid = (
        pl.col("ric18_shape")
        & ~pl.col("ric18")
        & id_like
        & (born >= _MIN_DATE).fill_null(False)
        & (born <= date.today()).fill_null(False)
        & ~pl.col("order_cue")
    )
    card_ok = pl.col("card") & ~pl.col("order_cue") & (pl.col("card_cue") | (issuer & ~id_like))
    kind = (
        pl.when(pl.col("ric18"))
        .then(pl.lit(CN_RIC))
        .when(pl.col("mobile") & ~pl.col("order_cue"))
        .then(pl.lit(CN_MOBILE))
        .when(card_ok)
        .then(pl.lit(BANK_CARD))
        .when(ric_invalid)
        .then(pl.lit(CN_RIC_INVALID))
        .when(pl.col("ric15") & ~pl.col("order_cue"))
        .then(pl.lit(CN_RIC))
        .when((pl.col("landline") | pl.col("local_landline")) & ~pl.col("order_cue"))
        .then(pl.lit(CN_LANDLINE))
        .when(pl.col("plus_kind").is_not_null())
        .then(pl.col("plus_kind"))
        .when(pl.col("uscc"))
        .then(pl.lit(USCC))
        .when(pl.col("iban"))
        .then(pl.lit(IBAN))
        .when(pl.col("passport"))
        .then(pl.lit(CN_PASSPORT))
        .when(pl.col("permit") & pl.col("doc_cue"))
        .then(pl.lit(CN_TRAVEL_PERMIT))
        .when(pl.col("ipv4"))
        .then(pl.lit(IPV4))
        .when(pl.col("ipv6"))
        .then(pl.lit(IPV6))
        .when(pl.col("plate"))
        .then(pl.lit(LICENSE_PLATE))
        .when(m.str.contains("@") | pl.col("obf_email"))
        .then(pl.lit(EMAIL))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    f = f.with_columns(pii_type=kind)
    t = pl.col("pii_type")
    conf = (
        pl.when(t == CN_RIC)
        .then(
            pl.when(pl.col("ric18"))
            .then(pl.when(region_known).then(0.99).otherwise(0.9))
            .otherwise(pl.when(pl.col("id_cue")).then(0.9).otherwise(0.7))
        )
        .when(t == CN_RIC_INVALID)
        .then(pl.when(pl.col("id_cue")).then(0.8).otherwise(0.6))
        .when(t == CN_MOBILE)
        .then(
            pl.when(glued)
            .then(0.6)
            .when(pl.col("phone_cue") | m.str.contains(r"^\+|^0086|[ \-]"))
            .then(0.98)
            .otherwise(0.95)
        )
        .when(t == BANK_CARD)
        .then(
            pl.when(glued)
            .then(0.5)
            .when(pl.col("card_cue"))
            .then(0.97)
            .when(unionpay)
            .then(0.9)
            .otherwise(0.8)
        )
        .when(t == CN_LANDLINE)
        .then(
            pl.when(glued)
            .then(0.5)
            .when(~pl.col("landline"))
            .then(0.8)
            .when(pl.col("phone_cue"))
            .then(0.95)
            .when(m.str.contains(r"[ \-()（）+]"))
            .then(0.85)
            .otherwise(0.7)
        )
        .when(t == INTL_PHONE)
        .then(pl.when(pl.col("phone_cue")).then(0.95).otherwise(0.85))
        .when(t == USCC)
        .then(0.95)
        .when(t == IBAN)
        .then(0.95)
        .when(t == CN_PASSPORT)
        .then(pl.when(pl.col("doc_cue")).then(0.95).otherwise(0.6))
        .when(t == CN_TRAVEL_PERMIT)
        .then(0.9)
        .when(t == IPV4)
        .then(0.8)
        .when(t == IPV6)
        .then(0.85)
        .when(t == LICENSE_PLATE)
        .then(
            pl.when(pl.col("plate_cue"))
            .then(0.95)
            .when(m.str.contains(_NEW_ENERGY_PLATE))
            .then(0.9)
            .otherwise(0.85)
        )
        .when(t == EMAIL)
        .then(pl.when(pl.col("obf_email")).then(0.85).otherwise(0.97))
        .otherwise(None)
    )
    return f.with_columns(confidence=conf.cast(pl.Float64))


@cache
def _mobile_prefixes() -> pl.Series:
    return pl.Series("prefix", sorted({*MOBILE_PREFIXES, 149}), dtype=pl.Int64)
