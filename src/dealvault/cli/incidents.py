"""Commands: incident open, show, list, assign, note, close, timeline, impact and task
add|list|done (a deal's security incidents, for its seller stewards and security officers;
on the local store)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.incident_notices import CLOCK_COLUMNS, clock_rows
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import Invalid
from dealvault.files import check_output_file
from dealvault.incidents.schemas import ImpactOut, IncidentOut, TaskOut, TimelineEntry

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
IncidentArg = Annotated[int, typer.Argument(min=1, help="Incident id (see 'incident list').")]

incident_app = typer.Typer(
    help="Security incidents: open (by hand or from alerts), team, notes, timeline, impact, close.",
    no_args_is_help=True,
)


task_app = typer.Typer(
    help="An incident's tasks: what must be done, by whom, by when (overdue ones flagged).",
    no_args_is_help=True,
)
incident_app.add_typer(task_app, name="task")


def register(app: typer.Typer) -> None:
    from dealvault.cli import incident_notices

    incident_notices.register(incident_app)
    app.add_typer(incident_app, name="incident")


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at is not None else "-"


def _show(ctx: typer.Context, i: IncidentOut, json_out: bool) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, i)
        return
    c.console.print(
        kv_table(
            f"incident #{i.id} ({i.severity}, {i.status})",
            [
                ("title", i.title),
                ("deal", i.deal),
                ("alerts", ", ".join(f"#{a}" for a in i.alerts) or "-"),
                ("people involved", ", ".join(i.people) or "-"),
                ("files involved", ", ".join(i.datasets) or "(every dataset of the deal)"),
                ("window", f"{_when(i.window_start)} to {_when(i.window_end)}"),
                ("opened", f"{_when(i.opened_at)} by {i.opened_by}"),
                ("team", "; ".join(f"{m.role}: {m.email}" for m in i.team) or "-"),
                ("notes", len(i.notes)),
                ("tasks", _task_count(i)),
                (
                    "closed",
                    f"{_when(i.closed_at)} by {i.closed_by}: {i.resolution}"
                    if i.closed_at
                    else "-",
                ),
            ],
        )
    )
    if i.tasks:
        _tasks(ctx, i.tasks, f"tasks of incident #{i.id}")
    if i.clocks:
        c.console.print(table("legal clocks", CLOCK_COLUMNS, clock_rows(i.clocks)))
    for n in i.partner_notices:
        acked = ", ".join(f"{a.organisation} ({a.email})" for a in n.acknowledged) or "-"
        c.console.print(
            f"partner notice #{n.id}: acknowledged by {acked}; waiting for "
            f"{', '.join(n.waiting) or 'nobody'}"
        )
    if i.timeline is not None:
        _timeline(ctx, i.timeline, f"timeline of incident #{i.id}")


def _task_count(i: IncidentOut) -> str:
    done = sum(t.status == "done" for t in i.tasks)
    text = f"{len(i.tasks)} ({done} done)" if i.tasks else "-"
    return text + (f", {i.overdue} OVERDUE" if i.overdue else "")


def _tasks(ctx: typer.Context, tasks: list[TaskOut], title: str) -> None:
    get(ctx).console.print(
        table(
            title,
            ["task", "due (UTC)", "owner", "status", "what"],
            [
                (
                    t.id,
                    f"{t.due:%Y-%m-%d %H:%M}",
                    t.owner,
                    "OVERDUE" if t.overdue else t.status,
                    t.title + (f" (done: {t.note})" if t.note else ""),
                )
                for t in tasks
            ],
        )
    )


def _timeline(ctx: typer.Context, entries: list[TimelineEntry], title: str) -> None:
    get(ctx).console.print(
        table(
            f"{title}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}",
            ["at (UTC)", "kind", "ref", "actor", "what"],
            [
                (f"{e.at:%Y-%m-%d %H:%M:%S}", e.kind, e.ref, e.actor or "-", e.summary)
                for e in entries
            ],
        )
    )


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("--since: not a date and time (e.g. 2026-12-08T09:30:00+08:00)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@incident_app.command("open")
def open_cmd(
    ctx: typer.Context,
    title: Annotated[str, typer.Option(help="What happened, in a line.")],
    deal: Annotated[
        str | None, typer.Option(help="Deal code (default: the deal of the alerts).")
    ] = None,
    from_alert: Annotated[
        list[int] | None,
        typer.Option("--from-alert", min=1, help="An alert it is opened from (repeatable)."),
    ] = None,
    severity: Annotated[
        str | None,
        typer.Option(help="info, warning or critical (default: the alerts' highest)."),
    ] = None,
    person: Annotated[
        list[str] | None,
        typer.Option(help="A person involved, besides the alerts' (repeatable)."),
    ] = None,
    dataset: Annotated[
        list[str] | None, typer.Option(help="A file (dataset) involved (repeatable).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Start of its window (ISO 8601; default: its alerts' or now)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Open an incident of a deal, by hand or from alerts."""
    from dealvault.flows import incidents as flows

    c = get(ctx)
    i = flows.open_incident(
        c.stores(),
        actor=c.actor(),
        title=title,
        deal=deal,
        alert_ids=from_alert or [],
        severity=severity,
        people=person or [],
        datasets=dataset or [],
        since=_since(since),
    )
    _show(ctx, i, json_out)


@incident_app.command("show")
def show_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    timeline: Annotated[
        bool, typer.Option("--timeline/--no-timeline", help="With its timeline.")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """One incident: its alerts, people, team, notes and (by default) timeline."""
    from dealvault.flows import incidents as flows

    c = get(ctx)
    i = flows.show_incident(
        c.stores(), actor=c.actor(), incident_id=incident_id, with_timeline=timeline
    )
    _show(ctx, i, json_out)


@incident_app.command("timeline")
def timeline_cmd(ctx: typer.Context, incident_id: IncidentArg, json_out: JsonOpt = False) -> None:
    """The incident's alerts, notes and the audit events of its deal and people in its window,
    in time order."""
    from dealvault.flows import incidents as flows

    c = get(ctx)
    entries = flows.incident_timeline(c.stores(), actor=c.actor(), incident_id=incident_id)
    if json_out:
        print_json(c.console, entries)
        return
    _timeline(ctx, entries, f"timeline of incident #{incident_id}")


@incident_app.command("list")
def list_cmd(
    ctx: typer.Context,
    deal: Annotated[
        str | None,
        typer.Option(help="Deal code (default: every deal you may read incidents of)."),
    ] = None,
    status: Annotated[str | None, typer.Option(help="open or closed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 200,
    json_out: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    from dealvault.flows import incidents as flows

    c = get(ctx)
    rows = flows.list_incidents(c.stores(), actor=c.actor(), deal=deal, status=status, limit=limit)
    if json_out:
        print_json(c.console, rows)
        return
    c.console.print(
        table(
            f"{len(rows)} incident(s)",
            ["id", "deal", "severity", "status", "opened", "alerts", "tasks", "title"],
            [
                (
                    i.id,
                    i.deal,
                    i.severity,
                    i.status,
                    _when(i.opened_at),
                    len(i.alerts),
                    _task_count(i),
                    i.title,
                )
                for i in rows
            ],
        )
    )


@incident_app.command("assign")
def assign_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    person: Annotated[str, typer.Option(help="A member of the deal (e-mail).")],
    role: Annotated[str, typer.Option(help="lead, security, legal or communications.")],
    json_out: JsonOpt = False,
) -> None:
    """Put a member of the deal on the incident's team."""
    from dealvault.flows import incidents as flows

    c = get(ctx)
    i = flows.assign(c.stores(), actor=c.actor(), incident_id=incident_id, email=person, role=role)
    _show(ctx, i, json_out)


@incident_app.command("note")
def note_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    text: Annotated[str, typer.Option(help="What was found or done.")],
    lesson: Annotated[
        bool, typer.Option("--lesson", help="A lesson learnt (the report lists them apart).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Add a note to the incident, or a lesson learnt (--lesson); the audit log records that
    it was added, not its text."""
    from dealvault.flows import incidents as flows

    c = get(ctx)
    i = flows.add_note(
        c.stores(), actor=c.actor(), incident_id=incident_id, text=text,
        kind="lesson" if lesson else "note",
    )  # fmt: skip
    _show(ctx, i, json_out)


@incident_app.command("close")
def close_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    resolution: Annotated[str, typer.Option(help="How it was resolved.")],
    json_out: JsonOpt = False,
) -> None:
    """Close the incident with its resolution (its window ends now)."""
    from dealvault.flows import incidents as flows

    c = get(ctx)
    i = flows.close_incident(
        c.stores(), actor=c.actor(), incident_id=incident_id, resolution=resolution
    )
    _show(ctx, i, json_out)


@incident_app.command("impact")
def impact_cmd(ctx: typer.Context, incident_id: IncidentArg, json_out: JsonOpt = False) -> None:
    """The customers (subject ids) whose data reached the people or files involved, by
    category, sensitivity and level, minors, and which recipients hold them (--json lists the
    subject ids)."""
    from dealvault.flows import incidents as flows

    c = get(ctx)
    out: ImpactOut = flows.impact(c.stores(), actor=c.actor(), incident_id=incident_id)
    if json_out:
        print_json(c.console, out)
        return
    minors = str(out.minors) if out.minors is not None else f"at most {out.minors_at_most}"
    c.console.print(
        kv_table(
            f"impact of incident #{out.incident} (deal {out.deal})",
            [
                ("window", f"{_when(out.window_start)} to {_when(out.window_end)}"),
                ("disclosure events", out.events),
                ("customers reached", out.customers),
                ("canaries released too", out.canaries),
                ("by category", _pairs(out.by_category)),
                ("by sensitivity", _pairs(out.by_sensitivity)),
                ("by level", _pairs(out.by_level)),
                ("minors", minors),
                ("seconds", out.seconds),
            ],
        )
    )
    c.console.print(
        table(
            "recipients holding them",
            ["recipient", "customers", "events", "taken out by"],
            [(r.recipient, r.customers, r.events, ", ".join(r.people)) for r in out.recipients],
        )
    )


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


TaskArg = Annotated[int, typer.Argument(min=1, help="Task id (see 'incident task list').")]


@task_app.command("add")
def task_add_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    title: Annotated[str, typer.Option(help="What must be done, in a line.")],
    owner: Annotated[
        str,
        typer.Option(help="Who does it (e-mail): on the team, or a steward or security officer."),
    ],
    due: Annotated[
        str, typer.Option(help="By when: ISO 8601 (UTC unless an offset is given) or 4h, 2d.")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Give the incident a task with an owner and a due time."""
    from dealvault.db.base import utcnow
    from dealvault.flows import incident_tasks as flows
    from dealvault.incidents.tasks import parse_due

    c = get(ctx)
    t = flows.add_task(
        c.stores(),
        actor=c.actor(),
        incident_id=incident_id,
        title=title,
        owner=owner,
        due=parse_due(due, now=utcnow()),
    )
    if json_out:
        print_json(c.console, t)
        return
    _tasks(ctx, [t], f"task #{t.id} of incident #{incident_id} added")


@task_app.command("list")
def task_list_cmd(ctx: typer.Context, incident_id: IncidentArg, json_out: JsonOpt = False) -> None:
    """The incident's tasks by due time; the ones open past their due time are OVERDUE."""
    from dealvault.flows import incident_tasks as flows

    c = get(ctx)
    rows = flows.list_tasks(c.stores(), actor=c.actor(), incident_id=incident_id)
    if json_out:
        print_json(c.console, rows)
        return
    late = sum(t.overdue for t in rows)
    _tasks(ctx, rows, f"{len(rows)} task(s) of incident #{incident_id}, {late} overdue")


@task_app.command("done")
def task_done_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    task_id: TaskArg,
    note: Annotated[str | None, typer.Option(help="What was done (optional).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Mark the incident's task as done."""
    from dealvault.flows import incident_tasks as flows

    c = get(ctx)
    t = flows.complete_task(
        c.stores(), actor=c.actor(), incident_id=incident_id, task_id=task_id, note=note
    )
    if json_out:
        print_json(c.console, t)
        return
    _tasks(ctx, [t], f"task #{t.id} of incident #{incident_id} done")


@incident_app.command("report")
def report_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    out: Annotated[Path, typer.Argument(help="report.html, or report.pdf (WeasyPrint).")],
    json_out: JsonOpt = False,
) -> None:
    """The post-incident report: what happened, the impact (counts), the notices, the lessons
    learnt (incident note --lesson), the follow-up tasks and the timeline."""
    from dealvault.documents import write_document
    from dealvault.flows.incident_report import incident_report
    from dealvault.incidents.report import render_html

    c = get(ctx)
    check_output_file(out, what="report")
    data = incident_report(c.stores(), actor=c.actor(), incident_id=incident_id)
    fmt = write_document(out, render_html(data), what="report")
    res = {"report": str(out), "format": fmt, "customers": data.impact.customers,
           "tasks_open": sum(1 for t in data.incident.tasks if t.status == "open")}  # fmt: skip
    print_json(c.console, res) if json_out else c.console.print(
        kv_table("report written", list(res.items()))
    )
