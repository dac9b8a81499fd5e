"""Tables of the personal information impact assessment (PIPL art. 55-56): each assessment of
a transfer plan with its canonical inputs, and the sign-offs of counsel and the security
officer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class ComplianceImpactAssessment(Base):
    """One assessment of a plan (``version`` counts per plan). ``inputs`` is the canonical
    JSON of the facts it was built from (counts and names of organisations, never a personal
    value), ``sha256`` its digest. Kept at least until ``kept_until`` (PIPL art. 56: three
    years); there is no delete."""

    __tablename__ = "compliance_pias"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("transfer_plans.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    generated_by: Mapped[str] = mapped_column(String(254))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kept_until: Mapped[datetime] = mapped_column(UTCDateTime())


class ComplianceImpactSignoff(Base):
    """A sign-off of an assessment: ``role`` counsel or security_officer, once each."""

    __tablename__ = "compliance_pia_signoffs"
    __table_args__ = (UniqueConstraint("pia_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pia_id: Mapped[int] = mapped_column(ForeignKey("compliance_pias.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    person: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
