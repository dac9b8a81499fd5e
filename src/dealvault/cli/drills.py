"""Commands: drill run, list, show (incident drills on a drill deal of invented customers;
the operator's, on the local store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.files import check_output_file
from dealvault.incidents.drills import DrillOut

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ReportOpt = Annotated[
    Path | None,
    typer.Option("--report", help="Write the drill's report: FILE.html, or FILE.pdf (WeasyPrint)."),
]

drill_app = typer.Typer(
    help="Incident drills: a scripted leak on a drill deal of invented customers, timed.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")


def _print(ctx: typer.Context, d: DrillOut, json_out: bool, report: Path | None) -> None:
    c = get(ctx)
    written = None
    if report is not None:
        from dealvault.documents import write_document
        from dealvault.incidents.drills import render_html

        write_document(report, render_html(d), what="drill report")
        written = str(report)
    if json_out:
        print_json(c.console, {**d.model_dump(mode="json"), "report": written})
        return
    c.console.print(
        kv_table(
            f"drill #{d.id}: {d.status}",
            [("deal", f"{d.deal} ({d.customers} invented customers)"),
             ("alert", f"#{d.alert_id}" if d.alert_id else "-"),
             ("incident", f"#{d.incident_id}" if d.incident_id else "-"),
             ("report", written or "-")],
        )
    )  # fmt: skip
    rows = [
        [s.step, "ok" if s.ok else "FAILED", f"{s.seconds:.3f}",
         "" if s.since_found is None else f"{s.since_found:.3f}", s.detail]
        for s in d.steps
    ]  # fmt: skip
    c.console.print(
        table(
            "steps", ["step", "outcome", "took (s)", "done after found (s)", "what happened"], rows
        )
    )


@drill_app.command("run")
def run(
    ctx: typer.Context,
    customers: Annotated[
        int, typer.Option(min=10, max=100_000, help="Invented customers the drill deal holds.")
    ] = 200,
    report: ReportOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run an incident drill: a new drill deal of invented customers, a pseudonymized release
    with canaries, one canary found outside; then timed: the alert, the freeze, the incident
    opened from the alert, the impact analysis and the notices drafted. The drill deal stays
    frozen and marked as a drill; no real deal is read or changed. Exits 1 when a step
    failed."""
    from dealvault.access.principal import local
    from dealvault.flows import drills
    from dealvault.flows.alert_delivery import Delivery

    c = get(ctx)
    if report is not None:  # refused before the drill runs, not after
        check_output_file(report, what="drill report")
    out = drills.run_drill(
        c.stores(), c.keyring(), actor=c.actor(), steward=local(drills.STEWARD),
        trainer=local(drills.TRAINER), customers=customers,
        delivery=Delivery.from_settings(c.settings),
    )  # fmt: skip
    _print(ctx, out, json_out, report)
    if out.status != "passed":
        raise typer.Exit(1)


@drill_app.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Every drill run, newest first."""
    from dealvault.flows import drills

    c = get(ctx)
    out = drills.list_drills(c.stores(), actor=c.actor())
    if json_out:
        print_json(c.console, out)
        return
    rows = [
        [f"#{d.id}", d.status, d.deal, f"{d.started_at:%Y-%m-%d %H:%M} UTC", d.started_by,
         next((f"{s.since_found:.3f}" for s in d.steps if s.step == "open incident"
               and s.since_found is not None), "-")]
        for d in out
    ]  # fmt: skip
    c.console.print(
        table(
            "drills", ["drill", "status", "deal", "started", "by", "incident open after (s)"], rows
        )
    )


@drill_app.command("show")
def show(
    ctx: typer.Context,
    drill_id: Annotated[int, typer.Argument(min=1, help="Drill id (see 'drill list').")],
    report: ReportOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One drill: its steps, their times and outcomes; --report writes its report."""
    from dealvault.flows import drills

    c = get(ctx)
    if report is not None:
        check_output_file(report, what="drill report")
    _print(ctx, drills.show_drill(c.stores(), actor=c.actor(), drill_id=drill_id), json_out,
           report)  # fmt: skip
