"""Tables of the audit log; all append-only (database triggers reject UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime

APPEND_ONLY_TABLES = (
    "audit_events",
    "audit_event_subjects",
    "audit_nodes",
    "audit_checkpoints",
    "audit_cosignatures",
    "audit_keys",
)


class AuditEvent(Base):
    """One event. ``body`` is its RFC 8785 canonical JSON, the Merkle leaf; the other columns
    repeat fields of the body for filtering (a deep verify checks they agree)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_actor", "actor"),
        Index("ix_audit_events_action", "action"),
        Index("ix_audit_events_deal_seq", "deal", "seq"),  # a deal's events in log order
        Index("ix_audit_events_at", "at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str | None] = mapped_column(String(254), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    deal: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(8), nullable=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEventSubjects(Base):
    """Subject ids of the customers an event touched, compressed; their digest is in the body."""

    __tablename__ = "audit_event_subjects"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    packed: Mapped[bytes] = mapped_column(LargeBinary)


class AuditNode(Base):
    """A complete subtree hash: (level, index) covers leaves [index*2^level, (index+1)*2^level)."""

    __tablename__ = "audit_nodes"
    #: SQLite: the rows live in the primary key's B-tree (migration 0029)
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed tree head in the C2SP tlog-checkpoint format (a C2SP signed note)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditCosignature(Base):
    """A signature line another party added to a checkpoint (e.g. a bidder countersigns)."""

    __tablename__ = "audit_cosignatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(200))
    line: Mapped[str] = mapped_column(Text)
    verifier_key: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditKey(Base):
    """Public verifier keys of the log and of cosigners (C2SP signed-note vkey strings)."""

    __tablename__ = "audit_keys"

    verifier_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
