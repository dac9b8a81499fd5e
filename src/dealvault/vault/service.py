"""Datasets, their tables and column metadata; key-store status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal
from dealvault.crypto.keyring import DATA, INDEX, KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, NotFound
from dealvault.ingest.fields import FIELDS, Category, TableRole
from dealvault.ingest.phones import SECOND, second_phone_column
from dealvault.vault.colstats import ColumnStats
from dealvault.vault.jobs import lock_dataset, refuse_during_rotation
from dealvault.vault.models import (
    ChildRecord,
    CustomerRecord,
    Dataset,
    DatasetColumn,
    DatasetTable,
    ImportRun,
)

ROLE_CATEGORY = {TableRole.ORDERS: Category.TRANSACTION, TableRole.NOTES: Category.FREE_TEXT}


def get_dataset(session: Session, *, deal: Deal, name: str) -> Dataset:
    ds = session.scalar(select(Dataset).where(Dataset.deal_id == deal.id, Dataset.name == name))
    if ds is None:
        raise NotFound(f"dataset {name!r} not found in deal {deal.code!r}")
    return ds


def list_datasets(session: Session, *, deal: Deal) -> list[Dataset]:
    return list(
        session.scalars(select(Dataset).where(Dataset.deal_id == deal.id).order_by(Dataset.id))
    )


def get_or_create_dataset(uow: UnitOfWork, keyring: KeyRing, *, deal: Deal, name: str) -> Dataset:
    """The named dataset, created with fresh data and index keys when new; held for the
    import (its job lock, ``vault.jobs``) until the transaction ends."""
    s = uow.records
    deal_id = deal.id
    ds = lock_dataset(uow, deal_id=deal_id, name=name, job="import")
    if ds is not None:
        if ds.status != "active":
            raise Conflict(f"dataset {name!r} is {ds.status}; it cannot take new data")
        refuse_during_rotation(uow, ds, job="import")
        return ds
    ds = Dataset(deal_id=deal_id, name=name)
    s.add(ds)
    s.flush()
    keyring.register_kek(uow.keys)
    keyring.create_dataset_key(uow.keys, dataset_id=ds.id, purpose=DATA, version=1)
    keyring.create_dataset_key(uow.keys, dataset_id=ds.id, purpose=INDEX, version=1)
    return ds


def get_or_create_table(
    session: Session, *, dataset: Dataset, name: str, role: TableRole
) -> DatasetTable:
    t = session.scalar(
        select(DatasetTable).where(DatasetTable.dataset_id == dataset.id, DatasetTable.name == name)
    )
    if t is None:
        if role is TableRole.CUSTOMERS and session.scalar(
            select(DatasetTable).where(
                DatasetTable.dataset_id == dataset.id,
                DatasetTable.role == TableRole.CUSTOMERS.value,
            )
        ):
            raise Conflict("this dataset already has a customers table; import more rows into it")
        t = DatasetTable(dataset_id=dataset.id, name=name, role=role.value)
        session.add(t)
        session.flush()
    elif t.role != role.value:
        raise Conflict(f"table {name!r} holds {t.role}, not {role.value}")
    return t


@dataclass(frozen=True)
class ColumnInfo:
    """What the classifier found for a column (values never included)."""

    pii_type: str | None
    category: str
    sensitive: bool
    confidence: float


def record_columns(
    session: Session,
    *,
    table: DatasetTable,
    mapping: Mapping[str, str | None],
    found: Mapping[str, ColumnInfo] | None = None,
) -> None:
    """Store what each source column is (field, PII type, category, sensitivity, confidence).

    The classifier's finding wins where there is one; a person's override is kept as it is.
    """
    existing = {
        c.source_name: c
        for c in session.scalars(select(DatasetColumn).where(DatasetColumn.table_id == table.id))
    }
    role = TableRole(table.role)
    for source, field in mapping.items():
        spec = FIELDS.get(field) if field else None
        if spec is not None:
            category = (spec.category or Category.IDENTITY).value
        else:
            category = ROLE_CATEGORY.get(role, Category.FREE_TEXT).value
        col = existing.get(source)
        if col is None:
            col = DatasetColumn(table_id=table.id, source_name=source)
            session.add(col)
        elif col.override is not None:
            continue  # a person's classification survives re-classification
        col.field = field
        info = (found or {}).get(source)
        if info is not None:
            col.category = category if spec is not None else info.category
            col.pii_type = info.pii_type
            col.sensitive = info.sensitive or bool(spec and spec.sensitive)
            col.confidence = info.confidence
        else:
            col.category = category
            col.pii_type = spec.kind if spec is not None else None
            col.sensitive = bool(spec and spec.sensitive)
            col.confidence = 1.0 if spec is not None else 0.0
    session.flush()


def record_second_phone(
    session: Session,
    *,
    table: DatasetTable,
    mapping: Mapping[str, str | None],
    stats: Mapping[str, ColumnStats],
) -> None:
    """List ``phone_2`` among the table's columns once an import found second numbers in
    phone cells, classified like the phone column (stored values never hold an unlisted key)."""
    name = second_phone_column(columns=mapping)
    st = stats.get(name) if name is not None else None
    if name is None or st is None or st.non_null == 0:
        return
    phone = session.scalar(
        select(DatasetColumn).where(
            DatasetColumn.table_id == table.id, DatasetColumn.field == "phone"
        )
    )
    info = (
        ColumnInfo(phone.pii_type, phone.category, phone.sensitive, phone.confidence)
        if phone is not None and phone.pii_type is not None
        else None
    )
    record_columns(
        session,
        table=table,
        mapping={name: SECOND},
        found={name: info} if info is not None else None,
    )


def update_column_stats(
    session: Session, *, table: DatasetTable, stats: Mapping[str, ColumnStats]
) -> None:
    """Add an import's fill counts to the table's columns; distinct counts are estimates."""
    for col in session.scalars(select(DatasetColumn).where(DatasetColumn.table_id == table.id)):
        st = stats.get(col.source_name)
        if st is None:
            continue
        col.rows += st.rows
        col.non_null += st.non_null
        col.distinct_est = max(col.distinct_est, st.distinct)
    session.flush()


def find_previous_import(
    session: Session, *, dataset: Dataset, content_hash: str
) -> ImportRun | None:
    return session.scalar(
        select(ImportRun)
        .where(ImportRun.dataset_id == dataset.id, ImportRun.content_hash == content_hash)
        .where(ImportRun.finished_at.is_not(None))
        .order_by(ImportRun.id)
    )


def dataset_counts(session: Session, *, dataset: Dataset) -> dict[str, int]:
    by_status: dict[str, int] = {
        status: int(n)
        for status, n in session.execute(
            select(CustomerRecord.status, func.count())
            .where(CustomerRecord.dataset_id == dataset.id)
            .group_by(CustomerRecord.status)
        )
    }
    children = session.scalar(
        select(func.count())
        .select_from(ChildRecord)
        .join(CustomerRecord, ChildRecord.record_id == CustomerRecord.id)
        .where(CustomerRecord.dataset_id == dataset.id)
    )
    return {
        "customers": sum(by_status.values()),
        "active": by_status.get("active", 0),
        "shredded": by_status.get("shredded", 0),
        "child_rows": int(children or 0),
    }
