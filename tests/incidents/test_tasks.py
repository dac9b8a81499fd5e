"""An incident's tasks: added with an owner of the deal and a due time, flagged when overdue in
show and list, marked done, in the timeline; refused to a role without the action and to an
owner who is not a person of the incident; recorded with ids, never the title or note."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from dealvault.audit.models import AuditEvent
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound
from dealvault.flows import incident_tasks, incidents
from dealvault.flows.context import AppStores
from dealvault.incidents.models import IncidentTask
from dealvault.incidents.tasks import parse_due
from tests.conftest import P
from tests.incidents.conftest import ANALYST, COUNSEL, SECURITY, Scene

SECRET_TITLE = "ring the caller back at 13800138000"


def test_tasks_owners_overdue_done_and_timeline(stores: AppStores, scene: Scene) -> None:
    sec, steward = P(SECURITY), P(scene.world.steward)
    inc = incidents.open_incident(stores, actor=sec, title="refusals", alert_ids=[scene.alert])
    soon = utcnow() + timedelta(hours=4)
    first = incident_tasks.add_task(stores, actor=sec, incident_id=inc.id, title=SECRET_TITLE,
                                    owner=scene.world.steward.upper(), due=soon)  # fmt: skip
    assert (first.owner, first.status, first.overdue) == (scene.world.steward, "open", False)
    # counsel may own a task once on the team, not before
    with pytest.raises(Invalid, match="cannot own a task"):
        incident_tasks.add_task(stores, actor=sec, incident_id=inc.id, title="review notices",
                                owner=COUNSEL, due=soon)  # fmt: skip
    incidents.assign(stores, actor=sec, incident_id=inc.id, email=COUNSEL, role="legal")
    second = incident_tasks.add_task(stores, actor=steward, incident_id=inc.id,
                                     title="review notices", owner=COUNSEL, due=soon)  # fmt: skip
    with pytest.raises(Invalid, match="in the future"):
        incident_tasks.add_task(stores, actor=sec, incident_id=inc.id, title="late",
                                owner=SECURITY, due=utcnow() - timedelta(minutes=1))  # fmt: skip
    with pytest.raises(Invalid, match="needs a title"):
        incident_tasks.add_task(stores, actor=sec, incident_id=inc.id, title=" ",
                                owner=SECURITY, due=soon)  # fmt: skip
    # the first task's due time passes: flagged in show and list
    with stores.unit_of_work() as uow:
        uow.records.execute(
            update(IncidentTask).where(IncidentTask.id == first.id)
            .values(due=utcnow() - timedelta(hours=1))
        )  # fmt: skip
    shown = incidents.show_incident(stores, actor=sec, incident_id=inc.id)
    assert shown.overdue == 1
    assert [(t.id, t.overdue) for t in shown.tasks] == [(first.id, True), (second.id, False)]
    listed = incidents.list_incidents(stores, actor=steward)
    assert [(i.id, i.overdue) for i in listed] == [(inc.id, 1)]
    done = incident_tasks.complete_task(stores, actor=steward, incident_id=inc.id,
                                        task_id=first.id, note="called back")  # fmt: skip
    assert (done.status, done.overdue, done.done_by, done.note) == (
        "done", False, scene.world.steward, "called back"
    )  # fmt: skip
    with pytest.raises(Conflict, match="already done"):
        incident_tasks.complete_task(stores, actor=sec, incident_id=inc.id, task_id=first.id)
    tasks = incident_tasks.list_tasks(stores, actor=sec, incident_id=inc.id)
    assert [(t.id, t.status) for t in tasks] == [(first.id, "done"), (second.id, "open")]
    kinds = [(e.kind, e.ref) for e in incidents.incident_timeline(
        stores, actor=sec, incident_id=inc.id) if e.kind == "task"]  # fmt: skip
    assert kinds == [("task", first.id), ("task", second.id), ("task", first.id)]
    with pytest.raises(NotFound, match="task 999"):
        incident_tasks.complete_task(stores, actor=sec, incident_id=inc.id, task_id=999)
    # recorded with ids and the owner, never the title or the note
    with stores.records_session() as s:
        bodies = [json.loads(b) for b in s.scalars(
            select(AuditEvent.body).where(AuditEvent.action.startswith("incident.task."))
        )]  # fmt: skip
    assert [b["action"] for b in bodies] == [
        "incident.task.add", "incident.task.add", "incident.task.done", "incident.task.list"
    ]  # fmt: skip
    assert bodies[0]["objects"] == {"incident": inc.id, "task": first.id,
                                    "owner": scene.world.steward}  # fmt: skip
    assert bodies[2]["objects"]["late"] is True
    text = json.dumps(bodies, ensure_ascii=False)
    assert "13800138000" not in text and "called back" not in text


def test_a_bidder_is_refused_tasks(stores: AppStores, scene: Scene) -> None:
    sec = P(SECURITY)
    inc = incidents.open_incident(stores, actor=sec, title="refusals", alert_ids=[scene.alert])
    due = utcnow() + timedelta(days=1)
    with pytest.raises(Forbidden):
        incident_tasks.add_task(stores, actor=P(ANALYST), incident_id=inc.id, title="x",
                                owner=SECURITY, due=due)  # fmt: skip
    task = incident_tasks.add_task(stores, actor=sec, incident_id=inc.id, title="x",
                                   owner=SECURITY, due=due)  # fmt: skip
    with pytest.raises(Forbidden):
        incident_tasks.complete_task(stores, actor=P(ANALYST), incident_id=inc.id,
                                     task_id=task.id)  # fmt: skip
    with pytest.raises(Forbidden):
        incident_tasks.list_tasks(stores, actor=P(COUNSEL), incident_id=inc.id)
    with stores.records_session() as s:
        denied = list(
            s.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.decision == "deny", AuditEvent.action.startswith("incident.task")
                )
            )
        )
    assert sorted(denied) == ["incident.task.add", "incident.task.done", "incident.task.list"]


def test_due_times() -> None:
    now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert parse_due("4h", now=now) == now + timedelta(hours=4)
    assert parse_due("+2d", now=now) == now + timedelta(days=2)
    assert parse_due("2026-12-08T18:00:00+08:00", now=now) == datetime(2026, 12, 8, 10, 0,
                                                                       tzinfo=UTC)  # fmt: skip
    assert parse_due("2026-12-08T18:00", now=now) == datetime(2026, 12, 8, 18, 0, tzinfo=UTC)
    with pytest.raises(Invalid, match="not a date"):
        parse_due("tomorrow", now=now)
