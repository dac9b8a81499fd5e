"""Commands: monitor run, status and rules (show, validate, set, history); canary hit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import InputError, Invalid
from dealvault.files import read_text_file

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
FileArg = Annotated[Path, typer.Argument(help="Rules file (TOML, UTF-8).")]

monitor_app = typer.Typer(
    help="Security monitoring: rules over the audit log raise alerts (docs/monitoring.md).",
    no_args_is_help=True,
)
rules_app = typer.Typer(help="The monitoring rules: a versioned TOML file.", no_args_is_help=True)
canary_app = typer.Typer(
    help="Canary customers found outside: report a hit, trace its recipient.",
    no_args_is_help=True,
)
monitor_app.add_typer(rules_app, name="rules")


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(canary_app, name="canary")


@monitor_app.command("run")
def run_cmd(
    ctx: typer.Context,
    from_seq: Annotated[
        int | None,
        typer.Option(
            "--from-seq",
            min=0,
            help="Evaluate again over history from this event (default: the events after the "
            "last one evaluated).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate the monitoring rules over new audit events (the server does it every
    DEALVAULT_MONITOR_INTERVAL_SECONDS); alerts are de-duplicated, critical ones freeze their
    deal when their rule says so, new ones are mailed and posted as configured."""
    from dealvault.flows.alert_delivery import Delivery
    from dealvault.flows.monitoring import run_monitor

    c = get(ctx)
    c.keyring()  # a freeze signs a checkpoint: the log key, unwrapped before the run
    out = run_monitor(
        c.stores(),
        actor=c.actor(),
        from_seq=from_seq,
        delivery=Delivery.from_settings(c.settings),
        batch=c.settings.monitor_batch,
    )
    if json_out:
        print_json(c.console, out)
        return
    span = f"events {out.from_seq} to {out.to_seq}" if out.events else "no new events"
    c.console.print(
        f"{span} ({out.events} in {out.batches} batch(es), rules version {out.rules_version}, "
        f"{out.seconds:.2f} s): {len(out.alerts_new)} new alert(s) {out.alerts_new or ''}, "
        f"{len(out.alerts_grown)} grown; frozen: {', '.join(out.frozen) or 'none'}",
        soft_wrap=True,
    )
    if out.delivery_failed:
        c.err.print(f"warning: {out.delivery_failed} alert(s) not delivered; see 'alert show'")


@monitor_app.command("status")
def status_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """How far the monitor has read the log, and the alerts it holds."""
    from dealvault.flows import monitor_rules

    c = get(ctx)
    out = monitor_rules.status(c.stores(), actor=c.actor())
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(kv_table("monitor", list(out.model_dump().items())))


def _rules_text(path: Path) -> str:
    """The text of a rules file; InputError naming the file when it is unusable."""
    text = read_text_file(path)
    if not text.strip():
        raise InputError("the file is empty", file=path.name)
    return text


def _print_rules(ctx: typer.Context, out: object, json_out: bool) -> None:
    from dealvault.flows.monitor_rules import RulesOut

    assert isinstance(out, RulesOut)
    c = get(ctx)
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(
        kv_table(
            f"monitoring rules version {out.version} ({out.source})",
            [
                ("description", out.description),
                ("sha256", out.sha256),
                ("local time", f"UTC{out.utc_offset}"),
            ],
        )
    )
    rows = [
        (r.id, r.kind, r.severity, "yes" if r.freeze else "no",
         ", ".join(f"{k}={v}" for k, v in r.params.items()))
        for r in out.rules
    ]  # fmt: skip
    c.console.print(table("rules", ["id", "kind", "severity", "freeze", "parameters"], rows))


@rules_app.command("show")
def rules_show_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The rules in force, every parameter with its effective value."""
    from dealvault.flows import monitor_rules

    c = get(ctx)
    _print_rules(ctx, monitor_rules.show(c.stores(), actor=c.actor()), json_out)


@rules_app.command("validate")
def rules_validate_cmd(ctx: typer.Context, file: FileArg, json_out: JsonOpt = False) -> None:
    """Would this rules file be accepted? (Reads no store.)"""
    from dealvault.flows import monitor_rules

    try:
        out = monitor_rules.validate(_rules_text(file))
    except InputError:
        raise
    except Invalid as exc:
        raise InputError(str(exc), file=file.name) from None
    _print_rules(ctx, out, json_out)


@rules_app.command("set")
def rules_set_cmd(
    ctx: typer.Context,
    file: FileArg,
    comment: Annotated[str, typer.Option(help="Why the rules change (recorded).")],
    json_out: JsonOpt = False,
) -> None:
    """Put a rules file in force as the next version (validated, audited)."""
    from dealvault.flows import monitor_rules

    c = get(ctx)
    c.keyring()  # the change is anchored by a signed checkpoint
    out = monitor_rules.set_rules(
        c.stores(), actor=c.actor(), text=_rules_text(file), comment=comment
    )
    _print_rules(ctx, out, json_out)


@rules_app.command("history")
def rules_history_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The stored versions of the rules (none: the shipped default is in force)."""
    from dealvault.flows import monitor_rules

    c = get(ctx)
    rows = monitor_rules.history(c.stores(), actor=c.actor())
    if json_out:
        print_json(c.console, rows)
        return
    c.console.print(
        table(
            "monitoring rules versions",
            ["version", "sha256", "by", "at", "comment", "in force"],
            [
                (
                    r.version,
                    r.sha256[:16],
                    r.actor,
                    f"{r.created_at:%Y-%m-%d %H:%M}",
                    r.comment,
                    "yes" if r.in_force else "",
                )
                for r in rows
            ],
        )
    )


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("--at: not a date and time (e.g. 2026-12-08T09:30:00+08:00)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@canary_app.command("hit")
def hit_cmd(
    ctx: typer.Context,
    phone: Annotated[
        str | None, typer.Option(help="The canary phone number that was called or texted.")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="The canary e-mail address that received mail.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="When (ISO 8601; without a zone: UTC; default: now)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Report a canary customer's phone or e-mail used outside: the recipient it was released
    to is traced, a critical alert names it, and the deal is frozen when the rule says so.
    The phone or e-mail given is never recorded or shown, only the canary's id."""
    from dealvault.flows.alert_delivery import Delivery
    from dealvault.flows.canary_hits import report_hit

    if (phone is None) == (email is None):
        raise Invalid("give --phone or --email (one of them)")
    channel, value = ("phone", phone) if phone is not None else ("email", email)
    assert value is not None
    c = get(ctx)
    out = report_hit(
        c.stores(),
        c.keyring(),
        actor=c.actor(),
        channel=channel,
        value=value,
        at=_when(at),
        delivery=Delivery.from_settings(c.settings),
    )
    if json_out:
        print_json(c.console, out)
        return
    if not out.matched:
        c.console.print(f"no canary has this {channel}: nothing raised (the report is recorded)")
        return
    c.console.print(
        kv_table(
            f"canary hit: {out.canary}",
            [
                ("deal", out.deal),
                ("dataset", out.dataset),
                ("released to", out.recipient),
                ("audited releases", out.releases),
                ("alert", out.alert),
                ("deal frozen now", "yes" if out.frozen else "no"),
            ],
        )
    )
