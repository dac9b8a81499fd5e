"""Record-level disclosures (full, masked, pseudonymized) built from a decrypted frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Final

import polars as pl

from dealvault.classify.types import TYPES
from dealvault.deidentify.derive import DERIVED
from dealvault.deidentify.masking import (
    FIELD_TYPES,
    PASS_THROUGH_TYPES,
    mask_column,
    mask_expr,
)
from dealvault.ingest.fields import FIELDS


class Level(StrEnum):
    """Disclosure levels, least to most revealing (docs/design.md §2)."""

    METADATA = "metadata"
    AGGREGATE = "aggregate"
    ANONYMIZED = "anonymized"
    PSEUDONYMIZED = "pseudonymized"
    MASKED = "masked"
    FULL = "full"


#: PII types that name a person on their own: never released below ``masked``.
DIRECT_TYPES: Final = frozenset(
    {
        "cn_name", "cn_ric", "cn_mobile", "cn_landline", "intl_phone", "email", "bank_card",
        "credit_card", "iban", "cn_passport", "hk_macau_permit", "tw_permit", "license_plate",
        "ipv4", "ipv6", "customer_id", "uscc",
    }
)  # fmt: skip
#: Quasi-identifiers replaced by a coarser derived column in pseudonymized output.
REPLACED_TYPES: Final = frozenset({"date_of_birth", "cn_address"})
#: Internal columns of a decrypted frame, never released as such.
INTERNAL: Final = ("record_id", "subject_id")
TOKEN_COLUMN: Final = "token"  # noqa: S105 - a column name


#: Types the classifier finds that are not personal on their own: released as they are.
NOT_PERSONAL: Final = frozenset(
    {"date", "datetime", "amount", "quantity", "product", "frequency", "label", "order_id",
     "gender"}
)  # fmt: skip


def column_types(
    columns: Sequence[str], *, stored: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The PII type of each frame column (None: not personal on its own).

    Canonical fields have a fixed type; a column kept under its source name has the type the
    classifier found, and one the classifier could not type is treated as free text, so any
    personal data inside it is still masked.
    """
    out: dict[str, str | None] = {}
    for c in columns:
        if c in INTERNAL:
            continue
        if c in FIELD_TYPES:
            out[c] = FIELD_TYPES[c]
        elif c in FIELDS or c in DERIVED:
            out[c] = None
        else:
            found = stored.get(c)
            if found in NOT_PERSONAL:
                out[c] = None
            else:
                out[c] = found if found in TYPES else "free_text"
    return out


def is_direct(column: str, pii_type: str | None) -> bool:
    return pii_type in DIRECT_TYPES or column == "customer_key"


def direct_columns(types: Mapping[str, str | None]) -> list[str]:
    return [c for c, t in types.items() if is_direct(c, t)]


def full_view(frame: pl.DataFrame) -> pl.DataFrame:
    """Clear values with the subject id (seller stewards; the buyer through a package)."""
    return frame.drop("record_id", strict=False)


def masked_view(
    frame: pl.DataFrame, *, types: Mapping[str, str | None], tokens: pl.Series
) -> pl.DataFrame:
    """Every personal column in its masked form (张*明, 138****5678 …), keyed by token."""
    kept = [
        name
        for name in frame.columns
        # the token stands in for the seller's own customer number
        if name not in INTERNAL and name not in DERIVED and name != "customer_key"
    ]
    exprs: list[pl.Expr] = []
    free: dict[str, pl.Series] = {}
    for name in kept:
        pii = types.get(name)
        if not pii:
            exprs.append(pl.col(name))
        elif pii in PASS_THROUGH_TYPES:
            exprs.append(pl.col(name).cast(pl.String))
        elif pii == "free_text":  # the scanner works on the series
            free[name] = mask_column(frame.get_column(name).cast(pl.String), pii_type=pii)
            exprs.append(pl.lit(None).alias(name))
        else:  # one expression per column, all evaluated in one pass
            exprs.append(mask_expr(pl.col(name).cast(pl.String), pii_type=pii).alias(name))
    masked = frame.lazy().select(exprs).collect()
    if free:
        masked = masked.with_columns(*free.values())
    return masked.insert_column(0, tokens.alias(TOKEN_COLUMN))


def pseudonymized_view(
    frame: pl.DataFrame, *, types: Mapping[str, str | None], tokens: pl.Series
) -> pl.DataFrame:
    """Direct identifiers replaced by the recipient's token; birth date and address replaced
    by age and region names; personal data inside free text masked."""
    cols: list[pl.Series] = [tokens.alias(TOKEN_COLUMN)]
    for name in frame.columns:
        pii = types.get(name)
        if name in INTERNAL or is_direct(name, pii) or pii in REPLACED_TYPES:
            continue
        series = frame.get_column(name)
        if pii == "free_text":
            series = mask_column(series.cast(pl.String), pii_type="free_text")
        elif name == "region_code":
            continue  # names by level are released instead of the 6-digit code
        cols.append(series)
    return pl.DataFrame(cols)


def masked_linkage(masked: pl.DataFrame, *, types: Mapping[str, str | None]) -> dict[str, Any]:
    """What an attacker holding the customer list can do with a masked extract: the share of
    its rows whose masked value of a direct identifier (phone, ID number, e-mail, name, card
    ...) no other row of the extract shares — masking their own list the same way, they match
    each such row to one named customer. Measured on the released rows; shares only, never a
    value."""
    direct = [c for c in masked.columns if c != TOKEN_COLUMN and is_direct(c, types.get(c))]
    if not direct or masked.is_empty():
        return {"columns": direct, "unique_share": {}, "unique_share_any": 0.0}
    flags = masked.select(
        (pl.col(c).is_not_null() & pl.col(c).is_unique()).alias(c) for c in direct
    )
    shares = flags.mean().row(0, named=True)
    any_share = float(flags.select(pl.any_horizontal(pl.all()).mean()).item())
    columns = ", ".join(direct)
    return {
        "columns": direct,
        "unique_share": {c: round(float(v), 4) for c, v in shares.items()},
        "unique_share_any": round(any_share, 4),
        "measured_on": "the released rows",
        "statement": (
            f"{any_share:.0%} of these rows carry a masked {columns} that no other row here"
            " shares: anyone holding the customer list can mask it the same way and match"
            " those rows to named customers. Masking hides the digits, it does not"
            " anonymise; the row cap of the grant is the main protection of this extract."
        ),
    }
