"""Tables of the vault: datasets, their tables and columns, imports, encrypted records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow

CATEGORY_COLUMNS = (
    "enc_identity",
    "enc_contact",
    "enc_transaction",
    "enc_preference",
    "enc_sensitive",
    "enc_free_text",
)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("deal_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    grade: Mapped[str] = mapped_column(String(20), default="general")
    status: Mapped[str] = mapped_column(String(20), default="active")
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    data_key_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DatasetTable(Base):
    __tablename__ = "dataset_tables"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))


class DatasetColumn(Base):
    __tablename__ = "dataset_columns"
    __table_args__ = (UniqueConstraint("table_id", "source_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("dataset_tables.id"), index=True)
    source_name: Mapped[str] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    category: Mapped[str] = mapped_column(String(20))
    pii_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sensitive: Mapped[bool] = mapped_column(default=False)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    override: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    non_null: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    distinct_est: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ImportRun(Base):
    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("dataset_tables.id"))
    source_name: Mapped[str] = mapped_column(String(500))
    fmt: Mapped[str] = mapped_column(String(16))
    encoding: Mapped[str | None] = mapped_column(String(32), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(80), index=True)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_merged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    minors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sensitive_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reject_file: Mapped[str | None] = mapped_column(String(500), nullable=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CustomerRecord(Base):
    """One customer. ``subject_id`` is random, never derived from personal data."""

    __tablename__ = "customer_records"
    #: a view's pages: the dataset's active customers counted and read in record order
    __table_args__ = (Index("ix_customer_records_dataset_status_id", "dataset_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    subject_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"), nullable=True)
    enc_identity: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    enc_contact: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    enc_transaction: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    enc_preference: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    enc_sensitive: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    enc_free_text: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: bits of vault/flags.py (minor, EU data subject, abroad) set at import; NULL: imported
    #: before flags (migration 0024)
    flags: Mapped[int | None] = mapped_column(Integer, nullable=True)


#: Blind-indexed fields and their codes in ``blind_indexes.field``.
BLIND_FIELDS: dict[str, int] = {"id_number": 1, "phone": 2, "customer_key": 4}


class BlindIndex(Base):
    """A keyed hash of one normalised value of one customer, for look-ups without decrypting.

    One table (rather than a column per field) so each import batch is inserted in key order:
    one sorted merge into one B-tree instead of several random-order index updates. No foreign
    key and no index on ``record_id``: both would double the cost of the import's hottest
    insert; a shred finds a customer's rows with one scan instead (shreds are rare).
    """

    __tablename__ = "blind_indexes"
    __table_args__ = ({"sqlite_with_rowid": False},)

    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    field: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class ChildRecord(Base):
    """A row of a child table (orders, notes), encrypted under its customer's key."""

    __tablename__ = "child_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    record_id: Mapped[int] = mapped_column(ForeignKey("customer_records.id"), index=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("dataset_tables.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"), nullable=True)
    category: Mapped[str] = mapped_column(String(20))
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    envelope: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class ShredRecord(Base):
    """What was destroyed, when, by whom and how (NIST SP 800-88 cryptographic erase)."""

    __tablename__ = "shred_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    customers: Mapped[int] = mapped_column(Integer)
    keys_destroyed: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeyRotation(Base):
    """Progress of a key rotation, so a killed rotation resumes where it stopped."""

    __tablename__ = "key_rotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"), nullable=True)
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")
    last_record_id: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
