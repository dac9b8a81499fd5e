"""A use restricted per customer at the buyer's store: a copy made for ``marketing`` keeps
only the customers whose transfer package carried a marketing consent (the seller's consent
records, ``marketing_consent`` = yes); a dataset without that column permits nobody."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.errors import Forbidden, Invalid
from dealvault.ingest.fields import TableRole
from dealvault.transfer.manifest import MARKETING_COLUMN
from dealvault.vault.models import Dataset, DatasetColumn, DatasetTable

#: the uses restricted per customer, and the column that permits each
USES: Final = {"marketing": MARKETING_COLUMN}


@dataclass(frozen=True)
class Restriction:
    use: str
    column: str
    #: the category the column's values are stored under (read with the rest)
    category: str

    def keep(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows whose customer permits the use (the column says yes)."""
        if self.column not in frame.columns:  # pragma: no cover - read with its category
            return frame.clear()
        return frame.filter(pl.col(self.column).str.strip_chars().str.to_lowercase() == "yes")


def use_restriction(session: Session, *, dataset: Dataset, use: str | None) -> Restriction | None:
    """The restriction ``use`` puts on reading ``dataset`` (None: no use named). Refused when
    the dataset carries no per-customer permission for it."""
    if use is None:
        return None
    if use not in USES:
        raise Invalid(f"--use: one of {', '.join(USES)}, not {use!r}")
    column = USES[use]
    category = session.scalar(
        select(DatasetColumn.category)
        .join(DatasetTable, DatasetTable.id == DatasetColumn.table_id)
        .where(
            DatasetTable.dataset_id == dataset.id,
            DatasetTable.role == TableRole.CUSTOMERS.value,
            (DatasetColumn.source_name == column) | (DatasetColumn.field == column),
        )
        .limit(1)
    )
    if category is None:
        raise Forbidden(
            f"dataset {dataset.name} carries no per-customer {use} consent (a {column} column, "
            f"as a transfer package brings it): none of its customers may be used for {use}"
        )
    return Restriction(use=use, column=column, category=str(category))
