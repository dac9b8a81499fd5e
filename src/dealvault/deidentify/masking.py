"""Masked display forms of whole columns per PII type (张*明, 138****5678, a***@example.com)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import polars as pl

from dealvault.classify.freetext import mask_name_expr, mask_series
from dealvault.errors import Invalid

# Canonical ingest field -> PII type whose masked form it is shown in.
FIELD_TYPES: Final[dict[str, str]] = {
    "name": "cn_name",
    "phone": "cn_mobile",
    "phone_2": "cn_mobile",
    "id_number": "cn_ric",
    "email": "email",
    "bank_card": "bank_card",
    "address": "cn_address",
    "birth_date": "date_of_birth",
    "note": "free_text",
}

# Canonical fields shown as they are at the masked level (no direct identifier in them).
PASS_THROUGH_FIELDS: Final = frozenset(
    {"gender", "customer_key", "registered_at", "purchase_frequency", "favourite_product",
     "habits", "order_id", "order_time", "product", "amount", "quantity", "note_time"}
)  # fmt: skip

# Classifier types that are not personal on their own and are shown unchanged.
PASS_THROUGH_TYPES: Final = frozenset(
    {"gender", "customer_id", "order_id", "date", "datetime", "amount", "quantity",
     "product", "frequency", "label"}
)  # fmt: skip

# An address is cut after the first of these markers (in this priority order) that occurs
# at character position 1..15; an address without one keeps its first 6 characters.
_ADDRESS_MARKERS: Final = ("区", "县", "市")
_ADDRESS_CUT: Final = 16


def _stars(n: pl.Expr) -> pl.Expr:
    """``n`` asterisks (none for n <= 0)."""
    return pl.lit("").str.pad_end(n.clip(lower_bound=0), "*")


def _len(v: pl.Expr) -> pl.Expr:
    # Signed, so that ``n - 2`` below is negative rather than wrapping round (UInt32).
    return v.str.len_chars().cast(pl.Int64)


def _digits(v: pl.Expr) -> pl.Expr:
    # \D is Unicode-aware, so full-width digits count as digits (as Python's re does).
    return v.str.replace_all(r"\D", "")


def _mask_phone(v: pl.Expr) -> pl.Expr:
    d = _digits(v)
    n = _len(d)
    local = d.str.slice(-11)
    return (
        pl.when(n >= 11)
        .then(local.str.slice(0, 3) + "****" + local.str.slice(-4))
        .otherwise(_stars(n - 2) + d.str.slice(-2))
    )


def _keep(head: int, tail: int) -> Callable[[pl.Expr], pl.Expr]:
    """Keep ``head`` leading and ``tail`` trailing characters and star the rest.

    A value of ``head + tail`` characters or fewer becomes all stars (same length), since
    keeping both ends would show all of it.
    """

    def mask(v: pl.Expr) -> pl.Expr:
        n = _len(v)
        end = v.str.slice(-tail) if tail else pl.lit("")
        return (
            pl.when(n > head + tail)
            .then(v.str.slice(0, head) + _stars(n - head - tail) + end)
            .otherwise(_stars(n))
        )

    return mask


def _mask_email(v: pl.Expr) -> pl.Expr:
    # Split at the first "@" (as str.partition does): a byte offset from a literal search,
    # the domain cut as bytes (just after an ASCII "@", so on a char boundary). Faster than
    # str.splitn, which builds a struct.
    at = v.str.find("@", literal=True)
    domain = v.cast(pl.Binary).bin.slice(at + 1).cast(pl.String)
    first = pl.when(at > 0).then(v.str.slice(0, 1)).otherwise(pl.lit(""))
    return (
        pl.when(domain.str.len_bytes() > 0).then(first + "***@" + domain).otherwise(pl.lit("***"))
    )


def _mask_card(v: pl.Expr) -> pl.Expr:
    d = _digits(v)
    return pl.when(d.str.len_chars() >= 4).then("**** " + d.str.slice(-4)).otherwise(pl.lit("****"))


def _mask_address(v: pl.Expr) -> pl.Expr:
    # The scalar rule: cut after the first marker of the highest priority whose first
    # occurrence is at character position 1..15 (``0 < value.find(marker) < 16``). Found by
    # a literal search in the 16-character prefix (byte offsets; a regex per marker is 2x
    # slower) and cut as bytes: the cut falls just after a marker, so on a char boundary.
    prefix = v.str.slice(0, _ADDRESS_CUT)
    found = [prefix.str.find(marker, literal=True) for marker in _ADDRESS_MARKERS]
    cut = pl.coalesce(
        pl.when(at > 0).then(at + len(marker.encode()))
        for at, marker in zip(found, _ADDRESS_MARKERS, strict=True)
    )
    head = prefix.cast(pl.Binary).bin.head(cut).cast(pl.String)
    return pl.coalesce(head, v.str.slice(0, 6)) + "***"


def _mask_birth_date(v: pl.Expr) -> pl.Expr:
    return (
        pl.when(v.str.len_chars() >= 4).then(v.str.slice(0, 4) + "-**-**").otherwise(pl.lit("****"))
    )


def _mask_plate(v: pl.Expr) -> pl.Expr:
    # 京A12345 -> 京A***5: province character and issuing-office letter stay.
    return (
        pl.when(v.str.len_chars() >= 4)
        .then(v.str.slice(0, 2) + "***" + v.str.slice(-1))
        .otherwise(pl.lit("***"))
    )


def _mask_ipv4(v: pl.Expr) -> pl.Expr:
    head = v.str.extract(r"^\s*([0-9]{1,3}\.[0-9]{1,3})\.", 1)
    return pl.when(head.is_not_null()).then(head + ".*.*").otherwise(pl.lit("***"))


def _mask_ipv6(v: pl.Expr) -> pl.Expr:
    head = v.str.extract(r"^\s*([0-9A-Fa-f]{0,4}):", 1)
    return pl.when(head.is_not_null()).then(head + ":*").otherwise(pl.lit("***"))


def _mask_length(v: pl.Expr) -> pl.Expr:
    return pl.format("[{} characters]", v.str.len_chars())


_MASKERS: Final[dict[str, Callable[[pl.Expr], pl.Expr]]] = {
    "cn_name": mask_name_expr,
    "cn_mobile": _mask_phone,
    "cn_landline": _mask_phone,
    "intl_phone": _mask_phone,
    # 110105********002X. Up to 10 characters: all stars (6 + 4 kept would show all of it).
    "cn_ric": _keep(6, 4),
    # Passport and permit numbers are only 8-11 characters: 6 + 4 kept would show nearly
    # all of them, so only the letter prefix and the last 2 stay (E*******78).
    "cn_passport": _keep(1, 2),
    "hk_macau_permit": _keep(1, 2),
    "tw_permit": _keep(1, 2),
    "email": _mask_email,
    "bank_card": _mask_card,
    "credit_card": _mask_card,
    "iban": _mask_card,
    "cn_address": _mask_address,
    "date_of_birth": _mask_birth_date,
    "license_plate": _mask_plate,
    "ipv4": _mask_ipv4,
    "ipv6": _mask_ipv6,
    "uscc": _keep(8, 0),
}


def _as_text(values: pl.Series) -> pl.Series:
    if values.dtype == pl.String:
        return values
    try:
        return values.cast(pl.String)
    except pl.exceptions.PolarsError:
        raise Invalid(
            f"column {values.name!r}: values of type {values.dtype} cannot be masked"
        ) from None


def mask_expr(value: pl.Expr, *, pii_type: str) -> pl.Expr:
    """Masked form of a String expression for one PII type (nulls stay null).

    Types in :data:`PASS_THROUGH_TYPES` come back unchanged; a type without a masker shows
    only its length (``[N characters]``). ``free_text`` needs the scanner: use
    :func:`mask_column`.
    """
    if pii_type in PASS_THROUGH_TYPES:
        return value
    if pii_type == "free_text":
        raise Invalid("free_text is masked by the free-text scanner: use mask_column")
    masker = _MASKERS.get(pii_type, _mask_length)
    return pl.when(value.is_not_null()).then(masker(value))


def mask_column(values: pl.Series, *, pii_type: str) -> pl.Series:
    """Masked form of every value of ``values`` as PII type ``pii_type``; keeps the name.

    ``free_text`` masks the PII spans found inside each text (the free-text scanner).
    Non-text columns (dates, numbers) are masked on their string form.
    """
    if pii_type in PASS_THROUGH_TYPES:
        return values
    text = _as_text(values)
    if pii_type == "free_text":
        return mask_series(texts=text).alias(values.name)
    return (
        text.to_frame("v")
        .lazy()
        .select(mask_expr(pl.col("v"), pii_type=pii_type))
        .collect()
        .to_series()
    ).alias(values.name)


def mask_frame(frame: pl.DataFrame, *, types: Mapping[str, str]) -> pl.DataFrame:
    """``frame`` with each column named in ``types`` (column -> PII type) masked."""
    missing = [c for c in types if c not in frame.columns]
    if missing:
        raise Invalid(f"columns to mask are not in the frame: {', '.join(map(repr, missing))}")
    return frame.with_columns(
        mask_column(frame.get_column(column), pii_type=pii_type)
        for column, pii_type in types.items()
    )


def mask_field(field: str, value: str | None) -> str | None:
    """Masked form of one value of a canonical field (see :data:`FIELD_TYPES`).

    Pass-through fields (gender, amounts, order data, ...) come back unchanged; an unknown
    field shows only its length.
    """
    if value is None or field in PASS_THROUGH_FIELDS:
        return value
    try:
        one = pl.Series(field, [value], dtype=pl.String)
    except UnicodeEncodeError as exc:
        raise Invalid(f"field {field!r}: value is not valid Unicode (at {exc.start})") from None
    out = mask_column(one, pii_type=FIELD_TYPES.get(field, "unknown")).item()
    return None if out is None else str(out)
