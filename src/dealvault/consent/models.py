"""Table of consent records: one per (customer, purpose, time given), with its withdrawal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class ConsentRecord(Base):
    """A customer's consent to one purpose, as the seller's records hold it.

    ``scope``: the categories it covers, comma-separated (empty: every category). ``separate``:
    given on its own, apart from other terms (单独同意, PIPL art. 14, 23, 29, 39). ``source``:
    the system or form it was collected through (never a personal value)."""

    __tablename__ = "consent_records"
    __table_args__ = (
        UniqueConstraint("dataset_id", "subject_id", "purpose", "given_at"),
        Index("ix_consent_records_purpose", "dataset_id", "purpose", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    subject_id: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(Text, default="")
    separate: Mapped[bool] = mapped_column(Boolean, default=False)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    source: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
