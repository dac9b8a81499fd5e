"""Tables of the compliance gate: one finding per (transfer plan, rule), with its waiver."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class ComplianceFinding(Base):
    """What a rule found about a transfer plan the last time the plan was checked.

    ``status``: ``open`` (found at the last check), ``cleared`` (no longer found), ``waived``
    (counsel waived it with a written reason, for the counts shown then: a later check that
    finds other counts opens it again)."""

    __tablename__ = "compliance_findings"
    __table_args__ = (UniqueConstraint("plan_id", "rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("transfer_plans.id"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    blocking: Mapped[bool] = mapped_column(Boolean)
    #: the legal sources the rule rests on (e.g. "PIPL art. 31")
    source: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    #: JSON object of the counts behind the finding
    counts: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(12), default="open")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    waived_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
    waived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    waiver_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the counts the waiver was given for (JSON)
    waived_counts: Mapped[str | None] = mapped_column(Text, nullable=True)
