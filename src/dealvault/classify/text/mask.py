"""Free-text masks: the shape-keeping masked form of each span type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import polars as pl

from dealvault.classify.spans import (
    BANK_CARD,
    CN_ADDRESS,
    CN_LANDLINE,
    CN_MOBILE,
    CN_NAME,
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
from dealvault.classify.text.lexicon import _admin_pattern
from dealvault.classify.text.locate import _fold_width
from dealvault.classify.text.shapes import _OBF_DOT, _OBF_EMAIL_DOMAIN

_STARS: Final = "*" * 64


def _stars(n: pl.Expr) -> pl.Expr:
    return pl.lit(_STARS).str.slice(0, n.clip(lower_bound=0))


def _admin_prefix(value: pl.Expr) -> pl.Expr:
    """The leading run of region names of an address (up to province + city + county)."""
    prefix = pl.lit("")
    for _ in range(3):
        rest = value.str.slice(prefix.str.len_chars())
        prefix = prefix + rest.str.extract(f"^({_admin_pattern()})", 1).fill_null("")
    return prefix


def mask_name_expr(v: pl.Expr) -> pl.Expr:
    """张*明: first and last character kept (one shared rule for columns and free text)."""
    n = v.str.len_chars()
    return (
        pl.when(n <= 1)
        .then(pl.lit("*"))
        .when(n == 2)
        .then(v.str.slice(0, 1) + "*")
        .otherwise(v.str.slice(0, 1) + _stars(n - 2) + v.str.slice(-1))
    )


def _digits(v: pl.Expr) -> pl.Expr:
    return v.str.replace_all(r"[^0-9Xx]", "").str.to_uppercase()


def _mask_mobile(v: pl.Expr) -> pl.Expr:
    national = _digits(v).str.slice(-11)
    return national.str.slice(0, 3) + "****" + national.str.slice(-4)


def _mask_ric(v: pl.Expr) -> pl.Expr:
    d = _digits(v)
    return d.str.slice(0, 6) + _stars(d.str.len_chars() - 10) + d.str.slice(-4)


def _mask_landline(v: pl.Expr) -> pl.Expr:
    area = v.str.extract(r"^[(（]?(0(?:10|2[0-9]|[3-9][0-9]{2}))", 1)
    local = v.str.extract(r"^[(（]?0(?:10|2[0-9]|[3-9][0-9]{2})[)）]?[ \-]?([0-9]{7,8})", 1)
    return (
        pl.when(area.is_not_null() & local.is_not_null())
        .then(area + "-" + _stars(local.str.len_chars() - 4) + local.str.slice(-4))
        .otherwise(_stars(v.str.len_chars() - 4) + _digits(v).str.slice(-4))
    )


def _mask_email(v: pl.Expr) -> pl.Expr:
    """a***@example.com, for disguised addresses too (name(at)example[dot]com)."""
    plain = v.str.extract(r"@(.*)$", 1)
    disguised = v.str.extract(_OBF_EMAIL_DOMAIN, 1).str.replace_all(_OBF_DOT, ".")
    return v.str.slice(0, 1) + "***@" + pl.coalesce(plain, disguised)


def _keep(head: int, tail: int) -> Callable[[pl.Expr], pl.Expr]:
    """Keep ``head`` leading and ``tail`` trailing characters, star the rest."""

    def mask(v: pl.Expr) -> pl.Expr:
        return v.str.slice(0, head) + _stars(v.str.len_chars() - head - tail) + v.str.slice(-tail)

    return mask


def _mask_all(v: pl.Expr) -> pl.Expr:
    return _stars(v.str.len_chars())


# Masked form of a span value per type: keeps the shape, never the whole value.
_MASKERS: Final[dict[str, Callable[[pl.Expr], pl.Expr]]] = {
    CN_MOBILE: _mask_mobile,
    CN_RIC: _mask_ric,
    EMAIL: _mask_email,
    CN_RIC_INVALID: _mask_ric,
    BANK_CARD: lambda v: "**** **** **** " + _digits(v).str.slice(-4),
    CN_LANDLINE: _mask_landline,
    INTL_PHONE: lambda v: v.str.slice(0, 3) + "****" + _digits(v).str.slice(-4),
    CN_NAME: mask_name_expr,
    CN_ADDRESS: lambda v: _admin_prefix(v) + "***",
    IPV4: lambda v: v.str.extract(r"^([0-9]+\.[0-9]+)\.", 1) + ".*.*",
    IPV6: lambda v: v.str.extract(r"^([0-9A-Fa-f]*:[0-9A-Fa-f]*)", 1) + ":****",
    USCC: _keep(8, 1),
    LICENSE_PLATE: _keep(2, 2),
    CN_PASSPORT: _keep(1, 2),
    CN_TRAVEL_PERMIT: _keep(1, 2),
    IBAN: _keep(4, 4),
}


def _replacements(spans: pl.DataFrame) -> pl.Series:
    """Masked form of each ``value`` by its ``pii_type``, in the frame's order."""
    indexed = spans.select("value", "pii_type").with_row_index("i")
    parts = []
    for (pii_type,), group in indexed.group_by("pii_type"):
        masker = _MASKERS.get(str(pii_type), _mask_all)
        value = pl.col("value")
        parts.append(group.select("i", rep=masker(value).fill_null(_stars(value.str.len_chars()))))
    return pl.concat(parts).sort("i")["rep"]


def _mask_frame(texts: pl.Series, spans: pl.DataFrame) -> pl.Series:
    """Replace every span (non-overlapping) in ``texts`` by its masked form."""
    if spans.height == 0:
        return texts
    f = spans.sort("row", "start")
    folded = _fold_width(texts).gather(f["row"])
    f = f.with_columns(text=texts.gather(f["row"]))
    f = f.with_columns(
        prev_end=pl.when(pl.col("row") == pl.col("row").shift(1))
        .then(pl.col("end").shift(1))
        .otherwise(0),
        value=folded.str.slice(f["start"], f["end"] - f["start"]),
    )
    f = f.with_columns(rep=_replacements(f))
    f = f.with_columns(
        piece=pl.col("text").str.slice(pl.col("prev_end"), pl.col("start") - pl.col("prev_end"))
        + pl.col("rep")
    )
    joined = f.group_by("row", maintain_order=True).agg(
        pl.col("piece").str.join(""),
        tail=pl.col("text").first().str.slice(pl.col("end").last()),
    )
    masked = joined.select(pl.col("piece") + pl.col("tail")).to_series()
    return texts.clone().scatter(joined["row"], masked)
