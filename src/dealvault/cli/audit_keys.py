"""Commands: audit key show, audit key import (the log's signing key in the key store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json
from dealvault.flows import audit_keys as flows

key_app = typer.Typer(
    help="The audit log's signing key: kept in the key store, wrapped by the master key.",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@key_app.command("show")
def show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Where the log's signing key is held, and its verifier key (to pin; no master key needed)."""
    c = get(ctx)
    out = flows.show(c.stores(), actor=c.actor(), plain_file=c.settings.resolved_audit_key_file)
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(kv_table("audit log key", list(out.model_dump().items())))
    if out.held == "plain-file":
        c.err.print(
            "[yellow]note:[/yellow] the signing key is a plain file; move it into the key store "
            "with 'dealvault audit key import'"
        )


@key_app.command("import")
def import_key(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option(
            help="The plain key file; default DEALVAULT_AUDIT_KEY_FILE or HOME/audit.key."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Move an older store's plain signing key file into the key store (wrapped by the master
    key), then overwrite and delete the file."""
    c = get(ctx)
    out = flows.import_plain(
        c.stores(),
        c.keyring(),
        plain_file=file or c.settings.resolved_audit_key_file,
        actor=c.actor(),
    )
    print_json(c.console, out) if json_out else c.console.print(
        kv_table("audit log key imported", list(out.model_dump().items()))
    )
