"""Commands: warm status|stop — this user's warm command servers (DEALVAULT_WARM=1)."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import print_json, table
from dealvault.cli.warm import control, paths
from dealvault.errors import Invalid

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

warm_app = typer.Typer(
    help="The warm command server (DEALVAULT_WARM=1): see it, stop it.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(warm_app, name="warm")


def _private() -> None:
    """Refuse (exit 2) when the socket directory is not private to this user."""
    try:
        paths.check_dir(path=paths.socket_dir(environ=os.environ))
    except FileNotFoundError:
        pass
    except paths.UnsafeDir as exc:
        raise Invalid(f"the warm server's socket directory is {exc}: not used") from None


@warm_app.command("status")
def status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """This user's warm servers: pid, start, calls served, commands running, idle seconds, and
    whether each serves the installed code (a stale one ends by itself)."""
    c = get(ctx)
    _private()
    found = control.servers(environ=os.environ)
    if json_out:
        print_json(c.console, [{k: v for k, v in s.items() if k != "key"} for s in found])
        return
    if not found:
        c.console.print("no warm server running")
        return
    rows = [
        (
            s.get("pid"),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(s.get("started", 0)))),
            s.get("served"),
            s.get("running"),
            f"{s.get('idle_for')} of {s.get('idle_timeout')}",
            "current" if s.get("current") else "stale",
        )
        for s in found
    ]
    c.console.print(
        table(
            "warm servers",
            ["pid", "started", "calls", "running", "idle (s)", "code"],
            rows,
        )
    )


@warm_app.command("stop")
def stop(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Stop this user's warm servers: they take no more calls, finish the running ones, and
    end (waits up to 10 s)."""
    c = get(ctx)
    _private()
    pids = control.stop(environ=os.environ)
    if json_out:
        print_json(c.console, {"stopped": pids})
    elif pids:
        c.console.print(f"stopped {len(pids)} warm server(s): {', '.join(map(str, pids))}")
    else:
        c.console.print("no warm server running")
