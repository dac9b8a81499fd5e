"""Commands: plan notify, plan notice-status (PIPL art. 22 notices of a transfer plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.incident_notices import print_batches, when
from dealvault.cli.output import print_json

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PlanArg = Annotated[int, typer.Argument(min=1, help="Transfer plan id.")]


def add_commands(plan_app: typer.Typer) -> None:
    plan_app.command("notify")(notify_cmd)
    plan_app.command("notice-status")(notice_status_cmd)


def notify_cmd(
    ctx: typer.Context,
    plan_id: PlanArg,
    channel: Annotated[str, typer.Option(help="sms, email or letter.")],
    out: Annotated[Path, typer.Option(help="The delivery file for the gateway (CSV, 0600).")],
    contact: Annotated[
        str,
        typer.Option(help="Where the seller takes objections (named in the notice)."),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Each active customer's PIPL art. 22 notice (recipient and its contact, purposes,
    categories, how to object and by when) in a delivery file; a later run covers those not
    reached yet."""
    from dealvault.flows import plan_notices as flows

    c = get(ctx)
    b = flows.notify(
        c.stores(),
        c.keyring(),
        actor=c.actor(),
        plan_id=plan_id,
        channel=channel,
        out=out,
        contact=contact,
    )
    if json_out:
        print_json(c.console, b)
        return
    print_batches(ctx, [b], what="notice")
    c.console.print(f"delivery file: {out} (sha256 {b.file_sha256})")


def notice_status_cmd(
    ctx: typer.Context,
    plan_id: PlanArg,
    file: Annotated[
        Path,
        typer.Argument(help="The gateway's status file (delivery_id,status,at; status objected)."),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Import the gateway's delivery status and objections (each objecting customer is left
    out of the transfer; a bad row refuses the whole file)."""
    from dealvault.flows import plan_notices as flows

    c = get(ctx)
    out = flows.import_status(c.stores(), actor=c.actor(), plan_id=plan_id, path=file)
    if json_out:
        print_json(c.console, out)
        return
    print_batches(ctx, out.batches, what="notice")
    c.console.print(
        f"plan {out.plan}: "
        + ", ".join(f"{k} {v:,}" for k, v in out.counts.items())
        + f"; objected now {out.objected_now} ({out.objected_late_now} after their window)"
        + f"; last window ends {when(out.objection_window_ends)}"
    )
