"""Tables of bulk notices: a batch, its deliveries (one per customer, by subject id), and the
count of deliveries per status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class NoticeBatch(Base):
    """One batch of per-customer notices of a deal, for one purpose (``incident:3``) and
    channel, rendered from one template set."""

    __tablename__ = "notice_batches"
    __table_args__ = (Index("ix_notice_batches_ref", "ref", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(100))
    template_set: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))
    customers: Mapped[int] = mapped_column(Integer, default=0)
    file_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NoticeDelivery(Base):
    """One customer's message in a batch: its delivery id (in the delivery file), the
    customer's subject id, the language, and the gateway's last status."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (Index("ix_notice_deliveries_batch", "batch_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("notice_batches.id"))
    subject_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: when the gateway said it was delivered (kept when a later status, an objection, comes)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NoticeBatchCount(Base):
    """How many deliveries of a batch are in each status (kept after each import)."""

    __tablename__ = "notice_batch_counts"

    batch_id: Mapped[int] = mapped_column(ForeignKey("notice_batches.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
