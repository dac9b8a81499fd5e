"""Table of the content review: what each review of a transfer plan's free text counted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class ComplianceReview(Base):
    """One content review of a plan: counts only (never a word's context nor a value), the
    word list it used and a fingerprint of the dataset's state it read (a later import or a
    change of customers' statuses makes it stale)."""

    __tablename__ = "compliance_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("transfer_plans.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: e-mail of the person who ran it
    by: Mapped[str] = mapped_column(String(254))
    words_version: Mapped[str] = mapped_column(String(40))
    words_sha256: Mapped[str] = mapped_column(String(64))
    #: JSON object: customers with a listed word, per word category
    words: Mapped[str] = mapped_column(Text, default="{}")
    #: JSON object: customers whose notes hold another person's data, per PI type
    third_party: Mapped[str] = mapped_column(Text, default="{}")
    #: note columns scanned and customers scanned (active, those the plan would hand over)
    columns: Mapped[int] = mapped_column(Integer, default=0)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    #: customers with a listed word or another person's data in their notes
    affected: Mapped[int] = mapped_column(Integer, default=0)
    #: counted at import, reported with the review (their own rules judge them)
    minors: Mapped[int] = mapped_column(Integer, default=0)
    sensitive_rows: Mapped[int] = mapped_column(Integer, default=0)
    #: sha256 of the dataset's state reviewed: last finished import and customers per status
    fingerprint: Mapped[str] = mapped_column(String(80))
