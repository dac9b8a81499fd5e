"""Tables of incidents: the incident, the alerts it was opened from, its team, notes and tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class Incident(Base):
    """One incident of a deal: opened by hand or from alerts, handled by a team, closed with
    a resolution. Its window (``window_start`` to ``window_end``, or now while open) bounds
    the audit events its timeline and impact analysis read."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_deal_id", "deal", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: the people involved (JSON list of e-mail addresses), besides the alerts' subjects
    people: Mapped[str] = mapped_column(Text, default="[]")
    #: the files involved (JSON list of dataset names); empty: every dataset of the deal
    datasets: Mapped[str] = mapped_column(Text, default="[]")
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    opened_by: Mapped[str] = mapped_column(String(254))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


class IncidentAlert(Base):
    """An alert the incident was opened from (or linked to later)."""

    __tablename__ = "incident_alerts"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)


class IncidentMember(Base):
    """A member of the incident team: a person of the deal in one role."""

    __tablename__ = "incident_members"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    assigned_by: Mapped[str] = mapped_column(String(254))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IncidentNote(Base):
    """A note in the incident's record: what was found or done (the text stays here, never in
    the audit log, which records only that a note was added and its length)."""

    __tablename__ = "incident_notes"
    __table_args__ = (Index("ix_incident_notes_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    author: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    #: ``note`` (what was found or done) or ``lesson`` (a lesson learnt, for the report)
    kind: Mapped[str] = mapped_column(String(10), default="note")


class IncidentTask(Base):
    """A task of the incident: what must be done, by whom (a person of the deal), by when;
    done with an optional note. The title and note stay here, never in the audit log."""

    __tablename__ = "incident_tasks"
    __table_args__ = (Index("ix_incident_tasks_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    title: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str] = mapped_column(String(254))
    due: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class IncidentLegal(Base):
    """An incident's legal clock settings: when the store became aware of it (None: when it
    was opened), why that time was set, and the regimes whose clocks run (JSON list)."""

    __tablename__ = "incident_legal"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    aware_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    aware_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    regimes: Mapped[str] = mapped_column(Text, default='["pipl"]')
    #: the clocks file in force for this incident (its text; None: the shipped file)
    clocks: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IncidentNotice(Base):
    """A notice of an incident: to an authority or the affected customers (a legal text in
    draft, final, then sent), or to the partners (a signed note, final when issued). The text
    stays here, never in the audit log."""

    __tablename__ = "incident_notices"
    __table_args__ = (Index("ix_incident_notices_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    language: Mapped[str] = mapped_column(String(8))
    #: the team's answers (JSON object), the store's facts (JSON object), fields missing (JSON)
    answers: Mapped[str] = mapped_column(Text, default="{}")
    facts: Mapped[str] = mapped_column(Text, default="{}")
    missing: Mapped[str] = mapped_column(Text, default="[]")
    #: the rendered HTML (legal notices) or the signed note (partner notices)
    body: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: partner notices: the organisations it is addressed to (JSON list)
    addressees: Mapped[str] = mapped_column(Text, default="[]")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finalised_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PartnerAck(Base):
    """A partner organisation's acknowledgement of a partner notice, by one of its people."""

    __tablename__ = "incident_partner_acks"

    notice_id: Mapped[int] = mapped_column(ForeignKey("incident_notices.id"), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
