"""The security alerts for the people who act on them: a deal's (its seller stewards and
security officers) and the store's own (its operators); listed, shown, acknowledged."""

from __future__ import annotations

from dataclasses import replace

from dealvault.access import service as access
from dealvault.access.decision import Decision, decide
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import acting, audit, authorize, completed, enforce
from dealvault.monitor import alerts as registry
from dealvault.monitor.alerts import AlertOut, alert_view


def list_alerts(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str | None = None,
    status: str | None = None,
    severity: str | None = None,
    limit: int = 200,
) -> list[AlertOut]:
    """The alerts of ``deal``; without one, of every deal the actor may read alerts in and,
    for an operator, the store's own. Newest first."""
    filters = {"status": status, "severity": severity}
    with stores.unit_of_work() as uow:
        s = uow.records
        event = EventIn(action="alert.list", objects=filters)
        if deal is not None:
            d = access.get_deal(s, code=deal)
            _, event = authorize(stores, s, actor=actor, action="alert.read", deal=d, event=event)
            codes, store = [d.code], False
        else:
            event = completed(event, actor=actor, deal=None)
            person = acting(stores, s, actor, event)
            member_of = [
                d for d in access.list_deals(s) if access.member_roles(s, deal=d, person=person)
            ]
            codes = [
                d.code
                for d in member_of
                if decide(s, actor=person, deal=d, action="alert.read").allowed
            ]
            store = decide(s, actor=person, deal=None, action="store_alert.read").allowed
            if not codes and not store:
                why = f"{person.email} may read the alerts of no deal, nor the store's"
                enforce(stores, Decision(False, "none", (why,)), event)
            event = replace(event, decision="allow", reasons=("may read alerts",))
        rows = registry.list_alerts(
            s, deals=codes, store=store, status=status, severity=severity, limit=limit
        )
        audit(stores, uow, replace(event, counts={"alerts": len(rows)}))
        return [alert_view(r) for r in rows]


def show_alert(stores: AppStores, *, actor: Principal, alert_id: int) -> AlertOut:
    """One alert, for those who may read its deal's alerts (or the store's)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row = registry.get_alert(s, alert_id=alert_id)
        deal = access.get_deal(s, code=row.deal) if row.deal is not None else None
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="alert.read" if deal is not None else "store_alert.read",
            deal=deal,
            event=EventIn(action="alert.show", objects={"alert": row.id, "rule": row.rule}),
        )
        out = alert_view(row)
        audit(stores, uow, event)
        return out


def acknowledge(stores: AppStores, *, actor: Principal, alert_id: int, note: str) -> AlertOut:
    """Mark an alert as handled, saying what was done (the note is recorded as the purpose).
    Acknowledging does not unfreeze a deal: that is ``deal unfreeze``, decided on its own."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row = registry.get_alert(s, alert_id=alert_id)
        deal = access.get_deal(s, code=row.deal) if row.deal is not None else None
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="alert.ack" if deal is not None else "store_alert.ack",
            deal=deal,
            event=EventIn(
                action="alert.ack",
                purpose=note.strip()[:500] or None,
                objects={"alert": row.id, "rule": row.rule, "severity": row.severity},
            ),
        )
        registry.acknowledge(s, row, by=actor.email, note=note, now=utcnow())
        audit(stores, uow, replace(event, counts={"count": row.count}))
        return alert_view(row)
