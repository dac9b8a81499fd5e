"""The post-incident report (HTML; PDF through documents.py): what happened, the timeline,
the impact, the notices sent, the lessons learnt and the follow-up tasks. It names people,
deals, counts and ids, never a customer's personal value (nor a subject id: those stay with
``incident impact --json``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, Field

from dealvault.incidents.schemas import ImpactOut, IncidentOut
from dealvault.incidents.templating import ENV

#: timeline entries the report lists at most (the newest; the CLI lists them all)
TIMELINE_ROWS: Final = 400


class AlertLine(BaseModel):
    id: int
    rule: str
    severity: str
    title: str
    explanation: str
    froze: bool


class NoticeLine(BaseModel):
    """A notice of the incident: to an authority, to customers or to partners."""

    kind: str
    status: str = Field(description="draft, final, sent; a batch: delivered N of M")
    audience: str = ""
    sent_at: datetime | None = None
    channel: str | None = None
    count: int | None = Field(default=None, description="Messages (per-customer notices).")


class IncidentReport(BaseModel):
    incident: IncidentOut
    impact: ImpactOut
    alerts: list[AlertLine] = Field(default_factory=list)
    notices: list[NoticeLine] = Field(default_factory=list)
    generated_at: datetime
    generated_by: str


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_html(report: IncidentReport) -> str:
    """The report as one self-contained HTML page."""
    i, found = report.incident, report.impact
    timeline = list(i.timeline or [])
    shown = timeline[-TIMELINE_ROWS:]
    tasks = sorted(i.tasks, key=lambda t: (t.status != "open", t.due))
    context: dict[str, Any] = {
        "r": report,
        "i": i,
        "impact": found,
        "when": _when,
        "lessons": [n for n in i.notes if n.kind == "lesson"],
        "notes": [n for n in i.notes if n.kind != "lesson"],
        "tasks": tasks,
        "open_tasks": sum(1 for t in tasks if t.status == "open"),
        "timeline": shown,
        "timeline_left_out": len(timeline) - len(shown),
        "duration": _duration(i.opened_at, i.closed_at),
    }
    return ENV.get_template("incident_report.html.j2").render(**context)


def _duration(start: datetime, end: datetime | None) -> str:
    if end is None:
        return "still open"
    hours = (end - start).total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 72 else f"{hours / 24:.1f} days"
