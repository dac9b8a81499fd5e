"""Incidents of a deal for the people who handle them (its seller stewards and security
officers): opened by hand or from alerts, a team, notes, a timeline, the impact analysis,
closed with a resolution. Each use case decided with its own action and recorded; the records
name ids, roles and counts, never a title, note or resolution text."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision, decide
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import acting, audit, authorize, completed, enforce
from dealvault.incidents import impact as analysis
from dealvault.incidents import notice_records as records
from dealvault.incidents import service as registry
from dealvault.incidents.models import Incident
from dealvault.incidents.schemas import ImpactOut, IncidentOut, TimelineEntry
from dealvault.incidents.timeline import timeline as build_timeline

#: audit events a timeline shows at most (the newest)
TIMELINE_EVENTS = 2_000


def open_incident(
    stores: AppStores,
    *,
    actor: Principal,
    title: str,
    deal: str | None = None,
    alert_ids: Sequence[int] = (),
    severity: str | None = None,
    people: Sequence[str] = (),
    datasets: Sequence[str] = (),
    since: datetime | None = None,
) -> IncidentOut:
    """Open an incident of ``deal``, or of the deal of ``alert_ids`` (all of one deal)."""
    if deal is None and not alert_ids:
        raise Invalid("name the deal (--deal) or the alerts (--from-alert)")
    with stores.unit_of_work() as uow:
        s = uow.records
        alerts = registry.load_alerts(s, alert_ids=alert_ids) if alert_ids else []
        code = registry.deal_of_alerts(alerts, deal=deal) if alerts else str(deal)
        d = access.get_deal(s, code=code)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="incident.open",
            deal=d,
            event=EventIn(
                action="incident.open",
                objects={"alert_ids": ",".join(str(a.id) for a in alerts) or None},
            ),
        )
        row = registry.open_incident(
            s,
            deal=d.code,
            title=title,
            severity=severity,
            alerts=alerts,
            people=people,
            datasets=datasets,
            since=since,
            by=actor.email,
            now=utcnow(),
        )
        out = registry.incident_view(s, row)
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects) | {"incident": row.id, "severity": row.severity},
                counts={
                    "alerts": len(alerts),
                    "people": len(out.people),
                    "datasets": len(out.datasets),
                },
            ),
        )
        return out


def _authorized(
    stores: AppStores,
    uow_records: Session,
    *,
    actor: Principal,
    incident_id: int,
    action: str,
    event_action: str,
) -> tuple[Incident, EventIn]:
    """The incident and the allowed event of ``action`` on its deal."""
    row = registry.get_incident(uow_records, incident_id=incident_id)
    d = access.get_deal(uow_records, code=row.deal)
    _, event = authorize(
        stores,
        uow_records,
        actor=actor,
        action=action,
        deal=d,
        event=EventIn(action=event_action, objects={"incident": row.id}),
    )
    return row, event


def show_incident(
    stores: AppStores, *, actor: Principal, incident_id: int, with_timeline: bool = True
) -> IncidentOut:
    """One incident with its team, notes and (by default) its timeline."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.read",
            event_action="incident.show",
        )
        out = registry.incident_view(s, row)
        if with_timeline:
            out.timeline = timeline_of(s, row, out.people)
        out.clocks = records.clocks_of(s, row, now=utcnow())
        out.partner_notices = records.partner_notices(s, incident_id=row.id)
        audit(stores, uow, event)
        return out


def incident_timeline(
    stores: AppStores, *, actor: Principal, incident_id: int
) -> list[TimelineEntry]:
    """The incident's alerts, notes and the audit events of its deal and people in its window,
    in time order."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.read",
            event_action="incident.timeline",
        )
        entries = timeline_of(s, row, registry.people_involved(s, row))
        audit(stores, uow, replace(event, counts={"entries": len(entries)}))
        return entries


def timeline_of(s: Session, row: Incident, people: Sequence[str]) -> list[TimelineEntry]:
    return build_timeline(
        s,
        incident_id=row.id,
        deal=row.deal,
        people=people,
        start=row.window_start,
        end=row.window_end or utcnow(),
        limit=TIMELINE_EVENTS,
    )


def list_incidents(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[IncidentOut]:
    """The incidents of ``deal``, or of every deal the actor may read incidents of; newest
    first."""
    with stores.unit_of_work() as uow:
        s = uow.records
        event = EventIn(action="incident.list", objects={"status": status})
        if deal is not None:
            d = access.get_deal(s, code=deal)
            _, event = authorize(
                stores, s, actor=actor, action="incident.read", deal=d, event=event
            )
            codes = [d.code]
        else:
            event = completed(event, actor=actor, deal=None)
            person = acting(stores, s, actor, event)
            codes = [
                d.code
                for d in access.list_deals(s)
                if access.member_roles(s, deal=d, person=person)
                and decide(s, actor=person, deal=d, action="incident.read").allowed
            ]
            if not codes:
                why = f"{person.email} may read the incidents of no deal"
                enforce(stores, Decision(False, "none", (why,)), event)
            event = replace(event, decision="allow", reasons=("may read incidents",))
        rows = registry.list_incidents(s, deals=codes, status=status, limit=limit)
        out = [registry.incident_view(s, r) for r in rows]
        audit(stores, uow, replace(event, counts={"incidents": len(out)}))
        return out


def assign(
    stores: AppStores, *, actor: Principal, incident_id: int, email: str, role: str
) -> IncidentOut:
    """Put a member of the deal on the incident's team in ``role``."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.assign",
            event_action="incident.assign",
        )
        d = access.get_deal(s, code=row.deal)
        m = registry.assign(s, row, deal=d, email=email, role=role, by=actor.email, now=utcnow())
        audit(
            stores,
            uow,
            replace(event, objects=dict(event.objects) | {"role": m.role, "member": m.email}),
        )
        return registry.incident_view(s, row)


def add_note(
    stores: AppStores, *, actor: Principal, incident_id: int, text: str, kind: str = "note"
) -> IncidentOut:
    """Add a note, or a lesson learnt (``kind``); recorded as its id, kind and length (the
    text stays with the incident)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.note",
            event_action="incident.note",
        )
        note = registry.add_note(s, row, author=actor.email, text=text, now=utcnow(), kind=kind)
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects)
                | {"note": note.id, **({"kind": kind} if kind != "note" else {})},
                counts={"chars": len(note.text)},
            ),
        )
        return registry.incident_view(s, row)


def close_incident(
    stores: AppStores, *, actor: Principal, incident_id: int, resolution: str
) -> IncidentOut:
    """Close the incident with its resolution; its window ends now."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.close",
            event_action="incident.close",
        )
        registry.close(s, row, by=actor.email, resolution=resolution, now=utcnow())
        audit(stores, uow, replace(event, counts={"chars": len(row.resolution or "")}))
        return registry.incident_view(s, row)


def impact(stores: AppStores, *, actor: Principal, incident_id: int) -> ImpactOut:
    """The customers whose data reached the people or files of the incident in its window,
    from the disclosure events' subject lists: counts by category, sensitivity and level, and
    which recipients hold them."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.read",
            event_action="incident.impact",
        )
        out = compute_impact(s, row)
        audit(
            stores,
            uow,
            replace(
                event,
                counts={
                    "events": out.events,
                    "customers": out.customers,
                    "recipients": len(out.recipients),
                },
            ),
        )
        return out


def compute_impact(s: Session, row: Incident, *, started: float | None = None) -> ImpactOut:
    """The impact analysis of ``row`` (decided by the caller)."""
    started = time.perf_counter() if started is None else started
    d = access.get_deal(s, code=row.deal)
    end = row.window_end or utcnow()
    people = registry.people_involved(s, row)
    datasets = json.loads(row.datasets)
    events = analysis.with_plan_categories(
        s, analysis.load_disclosures(s, deal=row.deal, start=row.window_start, end=end)
    )
    keep = analysis.select_involved(
        events,
        people=people,
        organisations=analysis.organisations_of(s, people=people),
        datasets=datasets,
    )
    subjects = analysis.load_subjects(s, seqs=keep.get_column("seq").to_list())
    found = analysis.analyse(keep, subjects, analysis.dataset_categories(s, deal=d))
    files = datasets or keep.get_column("dataset").drop_nulls().unique().to_list()
    held = analysis.minors_imported(s, deal=d, datasets=files) if files else 0
    bound = min(held, int(found["customers"]))
    found |= {"minors": 0 if bound == 0 else None, "minors_at_most": bound}
    out = ImpactOut.model_validate(
        {
            "incident": row.id,
            "deal": row.deal,
            "window_start": row.window_start,
            "window_end": end,
            **found,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    return out
