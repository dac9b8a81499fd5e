"""Incident drills: the record of each run, its steps and the time each took."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow
from dealvault.errors import NotFound
from dealvault.incidents.templating import ENV


class Drill(Base):
    """One run of ``dealvault drill run``: the drill deal it made, each step with its
    duration and outcome, and the alert and incident it led to."""

    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_by: Mapped[str] = mapped_column(String(254))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: JSON list of steps: {"step", "seconds", "ok", "detail"}
    steps: Mapped[str] = mapped_column(Text, default="[]")
    customers: Mapped[int] = mapped_column(Integer, default=0)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DrillStep(BaseModel):
    """One step of a drill: how long it took from the moment the leak was found (the
    response steps) or on its own (set-up), whether it did what it should, and what it found
    (counts and ids, never a personal value)."""

    model_config = ConfigDict(frozen=True)

    step: str
    seconds: float
    ok: bool
    detail: str = ""
    #: response steps: seconds from the moment the leak was found outside
    since_found: float | None = None


class DrillOut(BaseModel):
    id: int
    deal: str
    scenario: str
    status: str = Field(description="running, passed or failed")
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    customers: int = Field(description="Invented customers the drill deal held.")
    alert_id: int | None
    incident_id: int | None
    steps: list[DrillStep]


def start(session: Session, *, scenario: str, by: str, customers: int) -> Drill:
    """A new drill record (its deal code follows from its id)."""
    row = Drill(
        deal="", scenario=scenario, status="running", started_by=by, customers=customers,
        started_at=utcnow(), steps="[]",
    )  # fmt: skip
    session.add(row)
    session.flush()
    row.deal = f"drill-{row.id}"
    return row


def finish(
    session: Session,
    *,
    drill_id: int,
    steps: list[DrillStep],
    alert_id: int | None,
    incident_id: int | None,
) -> Drill:
    row = get(session, drill_id=drill_id)
    row.steps = json.dumps([s.model_dump() for s in steps])
    row.status = "passed" if steps and all(s.ok for s in steps) else "failed"
    row.alert_id, row.incident_id = alert_id, incident_id
    row.finished_at = utcnow()
    return row


def get(session: Session, *, drill_id: int) -> Drill:
    row = session.get(Drill, drill_id)
    if row is None:
        raise NotFound(f"no drill #{drill_id}")
    return row


def listed(session: Session) -> list[Drill]:
    return list(session.scalars(select(Drill).order_by(Drill.id.desc())))


def view(row: Drill) -> DrillOut:
    steps: list[dict[str, Any]] = json.loads(row.steps or "[]")
    return DrillOut(
        id=row.id, deal=row.deal, scenario=row.scenario, status=row.status,
        started_by=row.started_by, started_at=row.started_at, finished_at=row.finished_at,
        customers=row.customers, alert_id=row.alert_id, incident_id=row.incident_id,
        steps=[DrillStep.model_validate(s) for s in steps],
    )  # fmt: skip


_SCENARIOS = {
    "canary-found-outside": "a pseudonymized extract with canaries released to a recipient; "
    "one of its canaries is contacted outside (the seller's gateway reports it)",
}


def render_html(drill: DrillOut) -> str:
    """The drill's report: one self-contained HTML page."""
    return ENV.get_template("drill.html.j2").render(
        d=drill,
        scenario=_SCENARIOS.get(drill.scenario, drill.scenario),
        started=_when(drill.started_at),
        finished=_when(drill.finished_at),
    )


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
