"""Tables of retention: one rule per (dataset, category or the whole dataset), its reviews."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class RetentionRule(Base):
    """How long a dataset (``category`` None) or one category of it is kept, why, and when
    it is reviewed next. ``status``: ``active``, ``destroyed`` (what it covers went at its
    end, ``certificate_id`` says how) or ``superseded`` (its dataset went as a whole)."""

    __tablename__ = "retention_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    #: None: the whole dataset; else one of the six categories
    category: Mapped[str | None] = mapped_column(String(20), nullable=True)
    #: the day the keeping counts from (the dataset's first import, or a date given)
    start: Mapped[date] = mapped_column(Date)
    keep_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the last day kept: destroyed from the day after
    end: Mapped[date] = mapped_column(Date)
    review_every: Mapped[int] = mapped_column(Integer)
    next_review: Mapped[date] = mapped_column(Date)
    basis: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="active")
    created_by: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("destruction_certificates.id"), nullable=True
    )


class RetentionReview(Base):
    """One periodic review of a rule: who, when, the note, and the next review it set."""

    __tablename__ = "retention_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("retention_rules.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_review: Mapped[date] = mapped_column(Date)
