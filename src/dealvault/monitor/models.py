"""Tables of the monitor: alerts, its progress through the log, per-person profiles, rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class Alert(Base):
    """One alert: a rule fired for a subject (a person, a grant, a canary, the log) in a window.

    Firing again for the same rule, deal, subject and window adds to ``count`` instead of
    making another alert (``dedup_key`` is unique); ``last_seq`` is the newest event counted,
    so evaluating the same events again counts nothing twice."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_deal_id", "deal", "id"),
        Index("ix_alerts_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(10))
    #: the deal's code; None for an alert about the store as a whole (the log, store keys)
    deal: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject: Mapped[str] = mapped_column(String(254))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    explanation: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the figures behind it
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: this alert froze its deal (per its rule's ``freeze``)
    froze: Mapped[bool] = mapped_column(Boolean, default=False)
    rules_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acked_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class MonitorState(Base):
    """How far the monitor has read: the last event and checkpoint evaluated (one row, made by
    the migration; locked by each run so two runs never evaluate the same events at once)."""

    __tablename__ = "monitor_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=-1)
    last_checkpoint: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MonitorActivity(Base):
    """A person's events and records read, per deal, local day and hour: the baselines of the
    volume and unusual-hour rules, kept as the monitor reads the log (``deal`` '' for events
    outside any deal)."""

    __tablename__ = "monitor_activity"
    __table_args__ = (Index("ix_monitor_activity_day", "day"),)

    actor: Mapped[str] = mapped_column(String(254), primary_key=True)
    deal: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, local
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)


class MonitorClient(Base):
    """The first event in which a person acted from a client address."""

    __tablename__ = "monitor_clients"

    actor: Mapped[str] = mapped_column(String(254), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seq: Mapped[int] = mapped_column(Integer, index=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MonitorDevice(Base):
    """The first event in which a person acted from a device (its recorded id: a hash of the
    device's value, or the API token standing in for it)."""

    __tablename__ = "monitor_devices"

    actor: Mapped[str] = mapped_column(String(254), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seq: Mapped[int] = mapped_column(Integer, index=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MonitorRuleVersion(Base):
    """One stored version of the monitoring rules (TOML text); the newest is in force, else the
    shipped default (version 0)."""

    __tablename__ = "monitor_rule_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
