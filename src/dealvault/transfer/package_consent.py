"""What a package carries of the customers' consents: the marketing consent counts for the
manifest, the per-customer ``marketing_consent`` column the buyer's store enforces, and the
canary records given the column at the package's own rate."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

import polars as pl
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from dealvault.consent.service import any_held, count_active, in_force
from dealvault.errors import Conflict
from dealvault.ingest.fields import Category
from dealvault.transfer.manifest import MARKETING_COLUMN, PackageSchema


def marketing_counts(
    s: Session, *, dataset_id: int, unconsented: dict[str, ColumnElement[bool]], at: datetime
) -> dict[str, int] | None:
    """Customers of the package with and without a marketing consent in force (None when the
    seller imported no consent records: nothing to tell)."""
    if not any_held(s, dataset_id=dataset_id):
        return None
    kept = [~cond for cond in unconsented.values()]
    yes = in_force(purpose="marketing", at=at)
    return {
        "permitted": count_active(s, dataset_id=dataset_id, where=[*kept, yes]),
        "not_permitted": count_active(s, dataset_id=dataset_id, where=[*kept, ~yes]),
    }


def marketing_flag(
    schema: PackageSchema,
    *,
    marketing: dict[str, int] | None,
    categories: Sequence[str],
    at: datetime,
) -> dict[str, ColumnElement[bool]]:
    """The per-customer marketing consent column a package carries (name -> SQL truth value)
    when the seller keeps consent records and the plan hands over contact details: the
    buyer's store enforces it (``disclose --use marketing``)."""
    if marketing is None or Category.CONTACT.value not in categories:
        return {}
    if MARKETING_COLUMN in schema.names:
        raise Conflict(
            f"the dataset has a column named {MARKETING_COLUMN}; rename it before a transfer "
            "(the package carries the marketing consents in a column of that name)"
        )
    return {MARKETING_COLUMN: in_force(purpose="marketing", at=at)}


def flag_canaries(frame: pl.DataFrame, *, marketing: dict[str, int] | None) -> pl.DataFrame:
    """The canary records with a marketing consent drawn at the package's own rate, so that
    the column tells a canary from a customer no better than chance."""
    if marketing is None or frame.is_empty():
        return frame
    total = marketing["permitted"] + marketing["not_permitted"]
    drawn = [
        "yes" if total and secrets.randbelow(total) < marketing["permitted"] else "no"
        for _ in range(frame.height)
    ]
    return frame.with_columns(pl.Series(MARKETING_COLUMN, drawn, dtype=pl.String))
