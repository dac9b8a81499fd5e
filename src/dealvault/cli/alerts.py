"""Commands: alert list, show, ack (security alerts of a deal, or of the store)."""

from __future__ import annotations

from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.monitor.alerts import AlertOut

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AlertArg = Annotated[int, typer.Argument(min=1, help="Alert id (see 'alert list').")]

alert_app = typer.Typer(
    help="Security alerts raised by the monitoring rules: list, show, acknowledge.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(alert_app, name="alert")


def _show(ctx: typer.Context, a: AlertOut, json_out: bool) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, a)
        return
    c.console.print(
        kv_table(
            f"alert #{a.id} ({a.severity}, {a.status})",
            [
                ("title", a.title),
                ("explanation", a.explanation),
                ("rule", f"{a.rule} ({a.kind}, rules version {a.rules_version})"),
                ("deal", a.deal or "(the store)"),
                ("subject", a.subject),
                ("count", a.count),
                ("window", f"{a.window_start:%Y-%m-%d %H:%M} to {a.window_end:%Y-%m-%d %H:%M} UTC"),
                ("events", f"{a.first_seq} to {a.last_seq}" if a.first_seq is not None else "-"),
                ("froze the deal", "yes" if a.froze else "no"),
                ("raised", f"{a.created_at:%Y-%m-%d %H:%M:%S} UTC"),
                (
                    "acknowledged",
                    f"{a.acked_at:%Y-%m-%d %H:%M} by {a.acked_by}: {a.ack_note}"
                    if a.acked_at
                    else "-",
                ),
                (
                    "delivered",
                    f"{a.delivered_at:%Y-%m-%d %H:%M}"
                    if a.delivered_at
                    else (a.delivery_error or "-"),
                ),
            ],
        )
    )


@alert_app.command("list")
def list_cmd(
    ctx: typer.Context,
    deal: Annotated[
        str | None,
        typer.Option(
            help="Deal code (default: every deal you may read alerts of, and the store's)."
        ),
    ] = None,
    status: Annotated[str | None, typer.Option(help="open or acknowledged.")] = None,
    severity: Annotated[str | None, typer.Option(help="info, warning or critical.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 200,
    json_out: JsonOpt = False,
) -> None:
    """List alerts, newest first (the seller's stewards and security officers see their deals';
    operators the store's own)."""
    from dealvault.flows import alerts as flows

    c = get(ctx)
    remote = c.remote()
    rows = (
        remote.alerts(deal=deal, status=status, severity=severity, limit=limit)
        if remote
        else flows.list_alerts(
            c.stores(), actor=c.actor(), deal=deal, status=status, severity=severity, limit=limit
        )
    )
    if json_out:
        print_json(c.console, rows)
        return
    c.console.print(
        table(
            f"{len(rows)} alert(s)",
            ["id", "severity", "status", "deal", "rule", "subject", "count", "title"],
            [
                (a.id, a.severity, a.status, a.deal or "-", a.rule, a.subject, a.count, a.title)
                for a in rows
            ],
        )
    )


@alert_app.command("show")
def show_cmd(ctx: typer.Context, alert_id: AlertArg, json_out: JsonOpt = False) -> None:
    """One alert with its explanation and figures."""
    from dealvault.flows import alerts as flows

    c = get(ctx)
    remote = c.remote()
    a = (
        remote.alert(alert_id)
        if remote
        else flows.show_alert(c.stores(), actor=c.actor(), alert_id=alert_id)
    )
    _show(ctx, a, json_out)


@alert_app.command("ack")
def ack_cmd(
    ctx: typer.Context,
    alert_id: AlertArg,
    note: Annotated[str, typer.Option(help="What was done about it (recorded).")],
    json_out: JsonOpt = False,
) -> None:
    """Acknowledge an alert: it is handled (a frozen deal stays frozen: 'deal unfreeze')."""
    from dealvault.flows import alerts as flows

    c = get(ctx)
    remote = c.remote()
    a = (
        remote.acknowledge_alert(alert_id, note=note)
        if remote
        else flows.acknowledge(c.stores(), actor=c.actor(), alert_id=alert_id, note=note)
    )
    _show(ctx, a, json_out)
