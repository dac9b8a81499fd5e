"""Per-customer flags set at import (minor, EU/EEA data subject, abroad), for exact counts.

``customer_records.flags`` holds the bits below, computed from the normalised batch with Polars
expressions (no Python call per customer); NULL for customers imported before migration 0024
(:func:`unknown` counts them). The EU/EEA countries come from the cross-border rules file
(compliance/crossborder.toml), passed in by the import, never listed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.orm import Session

from dealvault.ingest.fields import normalise_header
from dealvault.vault.models import CustomerRecord

#: under 14 by ID number or birth date (PIPL art. 28, 31; classify/minors.py)
MINOR: Final = 1
#: an EU/EEA data subject (GDPR art. 3, 44-49): phone country code, address or country column
EU: Final = 2
#: outside mainland China: a phone with a country code other than +86, the rule the incident
#: notices use for "foreign customers" (notices/render.py ``language_of``)
ABROAD: Final = 4
BITS: Final = {"minor": MINOR, "eu": EU, "abroad": ABROAD}
#: the batch's column the flags travel in to the writer
COLUMN: Final = "__flags"
_META: Final = frozenset("\\.^$|?*+()[]{}")


class Country(Protocol):
    """An EU/EEA state as the rules file lists it."""

    @property
    def code(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def en(self) -> Sequence[str]: ...
    @property
    def zh(self) -> Sequence[str]: ...


def _escape(text: str) -> str:
    return "".join("\\" + c if c in _META else c for c in text)


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(_escape(n) for n in sorted(set(names), key=len, reverse=True))


def foreign_phone(phone: pl.Expr) -> pl.Expr:
    """A number with a country code other than +86 (numbers are normalised to E.164)."""
    p = phone.cast(pl.String).fill_null("")
    return p.str.starts_with("+") & ~p.str.starts_with("+86")


def eu_expr(
    columns: Sequence[str], *, eea: Sequence[Country], country_columns: Sequence[str]
) -> pl.Expr:
    """Whether each row names an EU/EEA state: the phone's country code, the last part of a
    western address ("..., France"), the start of a Chinese one ("法国巴黎..."), or a country
    column holding a state's name or code."""
    parts: list[pl.Expr] = []
    codes = "|".join(c.phone for c in eea)
    for phone in ("phone", "phone_2"):
        if phone in columns:
            parts.append(pl.col(phone).cast(pl.String).str.contains(rf"^\+(?:{codes})"))
    if "address" in columns:
        western = _alternatives(n for c in eea for n in c.en)
        chinese = _alternatives(n for c in eea for n in c.zh)
        addr = pl.col("address").cast(pl.String)
        parts.append(addr.str.contains(rf"(?i)(?:^|[,，])\s*(?:{western})\s*\.?\s*$"))
        parts.append(addr.str.contains(rf"^\s*(?:{chinese})"))
    wanted = {normalise_header(c) for c in country_columns}
    names = {n.lower() for c in eea for n in (c.code, *c.en, *c.zh)}
    for col in columns:
        if normalise_header(col) in wanted:
            value = pl.col(col).cast(pl.String).str.strip_chars().str.to_lowercase()
            parts.append(value.is_in(sorted(names)))
    if not parts:
        return pl.lit(False)
    return pl.any_horizontal([p.fill_null(False) for p in parts])


def with_flags(
    frame: pl.DataFrame,
    *,
    minors: npt.NDArray[np.bool_] | None,
    eea: Sequence[Country],
    country_columns: Sequence[str],
) -> pl.DataFrame:
    """``frame`` with its flags in :data:`COLUMN` (Int32); ``minors``: per-row mask."""
    cols = frame.columns
    abroad = foreign_phone(pl.col("phone")) if "phone" in cols else pl.lit(False)
    minor = pl.Series(COLUMN, minors) if minors is not None else pl.lit(False)
    bits = (
        pl.when(minor).then(MINOR).otherwise(0)
        + pl.when(eu_expr(cols, eea=eea, country_columns=country_columns)).then(EU).otherwise(0)
        + pl.when(abroad.fill_null(False)).then(ABROAD).otherwise(0)
    )
    return frame.with_columns(bits.cast(pl.Int32).alias(COLUMN))


def count_flags(
    session: Session, *, dataset_id: int, status: str | None = "active"
) -> dict[str, int]:
    """Customers of the dataset (of ``status``; None: any) per flag, with ``unknown`` (no
    flags: imported before them) and ``total``: one query."""
    f = CustomerRecord.flags

    def _n(cond: object) -> object:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)  # type: ignore[arg-type]

    where = [CustomerRecord.dataset_id == dataset_id]
    if status is not None:
        where.append(CustomerRecord.status == status)
    cols = [_n(and_(f.is_not(None), f.op("&", return_type=Integer())(bit) != 0))
            for bit in BITS.values()]  # fmt: skip
    row = session.execute(
        select(*cols, _n(f.is_(None)), func.count()).where(*where)  # type: ignore[call-overload]
    ).one()
    out = {name: int(n) for name, n in zip(BITS, row, strict=False)}
    out["unknown"], out["total"] = int(row[-2]), int(row[-1])
    return out


def unknown(session: Session, dataset_id: int) -> int:
    """Customers of the dataset (any status) imported before flags (NULL)."""
    return int(
        session.scalar(
            select(func.count()).where(
                CustomerRecord.dataset_id == dataset_id, CustomerRecord.flags.is_(None)
            )
        )
        or 0
    )
