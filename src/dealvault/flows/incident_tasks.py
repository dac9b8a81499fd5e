"""An incident's tasks for the people who handle it (the deal's seller stewards and security
officers): added with an owner and a due time, listed with the overdue ones flagged, marked
done. Each use case decided with its own action and recorded with ids, owner and lengths,
never a title or note text."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from dealvault.access import service as access
from dealvault.access.principal import Principal
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit
from dealvault.flows.incidents import _authorized
from dealvault.incidents import tasks as registry
from dealvault.incidents.schemas import TaskOut


def add_task(
    stores: AppStores,
    *,
    actor: Principal,
    incident_id: int,
    title: str,
    owner: str,
    due: datetime,
) -> TaskOut:
    """Give the incident a task: ``owner`` (on its team, or a seller steward or security
    officer of the deal) does it by ``due``."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.task.add",
            event_action="incident.task.add",
        )
        d = access.get_deal(s, code=row.deal)
        now = utcnow()
        task = registry.add_task(
            s, row, deal=d, title=title, owner=owner, due=due, by=actor.email, now=now
        )
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects) | {"task": task.id, "owner": task.owner},
                counts={"chars": len(task.title)},
            ),
        )
        return registry.task_view(task, now=now)


def complete_task(
    stores: AppStores, *, actor: Principal, incident_id: int, task_id: int, note: str | None = None
) -> TaskOut:
    """Mark the incident's task as done, with an optional note of what was done."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.task.done",
            event_action="incident.task.done",
        )
        task = registry.get_task(s, row, task_id=task_id)
        now = utcnow()
        late = task.due < now
        registry.complete(s, task, by=actor.email, note=note, now=now)
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects) | {"task": task.id, "late": late},
                counts={"chars": len(task.note or "")},
            ),
        )
        return registry.task_view(task, now=now)


def list_tasks(stores: AppStores, *, actor: Principal, incident_id: int) -> list[TaskOut]:
    """The incident's tasks by due time, the overdue ones flagged."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.read",
            event_action="incident.task.list",
        )
        now = utcnow()
        out = [registry.task_view(t, now=now) for t in registry.tasks_of(s, incident_ids=[row.id])]
        audit(
            stores,
            uow,
            replace(event, counts={"tasks": len(out), "overdue": sum(t.overdue for t in out)}),
        )
        return out
