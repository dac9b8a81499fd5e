"""The post-incident report of one incident: what happened, its timeline, its impact, the
notices sent, the lessons learnt and the follow-up tasks; read in one use case
(``incident.read``, recorded as ``incident.report``) and rendered by incidents/report.py."""

from __future__ import annotations

from dataclasses import replace

from dealvault.access.principal import Principal
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit
from dealvault.flows.incidents import _authorized, compute_impact, timeline_of
from dealvault.incidents import service as registry
from dealvault.incidents.notice_records import notice_lines
from dealvault.incidents.report import AlertLine, IncidentReport, NoticeLine


def incident_report(stores: AppStores, *, actor: Principal, incident_id: int) -> IncidentReport:
    """Everything the report shows, gathered in one transaction."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.read",
            event_action="incident.report",
        )
        incident = registry.incident_view(s, row)
        incident.timeline = timeline_of(s, row, incident.people)
        alerts = registry.load_alerts(s, alert_ids=incident.alerts) if incident.alerts else []
        found = compute_impact(s, row)
        out = IncidentReport(
            incident=incident,
            impact=found,
            alerts=[
                AlertLine(
                    id=a.id,
                    rule=a.rule,
                    severity=a.severity,
                    title=a.title,
                    explanation=a.explanation,
                    froze=bool(a.froze),
                )
                for a in alerts
            ],
            notices=[
                NoticeLine.model_validate(line) for line in notice_lines(s, incident_id=row.id)
            ],
            generated_at=utcnow(),
            generated_by=actor.email,
        )
        audit(
            stores,
            uow,
            replace(
                event,
                counts={
                    "customers": found.customers,
                    "entries": len(incident.timeline),
                    "tasks": len(incident.tasks),
                },
            ),
        )
        return out
