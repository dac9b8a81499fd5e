"""Erasing one category of a dataset at the end of its retention: its envelopes (customer
payloads and child rows) and the blind indexes of its fields are deleted. The key design has
one key per customer for all six categories, so no key is destroyed: the ciphertext goes, the
customer keys stay for the other categories."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from dealvault.db.stores import UnitOfWork
from dealvault.ingest.fields import FIELDS
from dealvault.vault.jobs import lock
from dealvault.vault.models import BLIND_FIELDS, BlindIndex, ChildRecord, CustomerRecord, Dataset

#: the certificate's method line for a category erased (deletion, not a key destroyed)
METHOD_NOTE: Final = (
    "ciphertext deleted; the customer keys remain for the other categories (one key per "
    "customer, no per-category key)"
)


def _column(category: str) -> Any:
    return getattr(CustomerRecord, f"enc_{category}")


def _children(dataset: Dataset, category: str) -> ColumnElement[bool]:
    return ChildRecord.record_id.in_(
        select(CustomerRecord.id).where(CustomerRecord.dataset_id == dataset.id)
    ) & (ChildRecord.category == category)


def counts(session: Session, *, dataset: Dataset, category: str) -> dict[str, int]:
    """What an erase of ``category`` would delete: customers holding it, child rows."""
    col = _column(category)
    customers = session.scalar(
        select(func.count())
        .select_from(CustomerRecord)
        .where(
            CustomerRecord.dataset_id == dataset.id,
            col.isnot(None),
        )
    )
    children = session.scalar(
        select(func.count())
        .select_from(ChildRecord)
        .where(
            _children(dataset, category),
            ChildRecord.envelope.isnot(None),
        )
    )
    return {"customers": int(customers or 0), "child_rows": int(children or 0)}


def blind_codes(category: str) -> list[int]:
    """The blind-index field codes whose values belong to ``category`` (e.g. phone: contact)."""
    return [
        code
        for name, code in BLIND_FIELDS.items()
        if (spec := FIELDS.get(name)) is not None
        and spec.category is not None
        and spec.category.value == category
    ]


def subject_ids(session: Session, *, dataset: Dataset, category: str) -> list[str]:
    """Subject ids of the customers holding ``category`` now, ascending."""
    col = _column(category)
    return list(
        session.scalars(
            select(CustomerRecord.subject_id)
            .where(CustomerRecord.dataset_id == dataset.id, col.isnot(None))
            .order_by(CustomerRecord.subject_id)
        )
    )


def erase_category(uow: UnitOfWork, *, dataset: Dataset, category: str) -> dict[str, int]:
    """Delete ``category``'s envelopes of every customer of ``dataset`` and the blind indexes
    of its fields, under the dataset's job lock. Returns the counts deleted."""
    s = uow.records
    dataset = lock(uow, dataset, job="shred")
    col = f"enc_{category}"
    found = counts(s, dataset=dataset, category=category)
    s.execute(
        update(CustomerRecord)
        .where(CustomerRecord.dataset_id == dataset.id, _column(category).isnot(None))
        .values({col: None})
    )
    s.execute(update(ChildRecord).where(_children(dataset, category)).values(envelope=None))
    codes = blind_codes(category)
    indexes = 0
    if codes:
        res = s.execute(
            delete(BlindIndex).where(
                BlindIndex.dataset_id == dataset.id, BlindIndex.field.in_(codes)
            )
        )
        indexes = int(getattr(res, "rowcount", 0) or 0)
    s.flush()
    return {**found, "blind_indexes": indexes}
