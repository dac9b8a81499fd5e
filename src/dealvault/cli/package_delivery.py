"""Commands: package inbox and package fetch, the buyer's side at the server (through it
when signed in with ``dealvault login``, else on the local store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json
from dealvault.files import check_output_file
from dealvault.flows import deliveries

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def add_commands(package_app: typer.Typer) -> None:
    package_app.command("inbox")(inbox_cmd)
    package_app.command("fetch")(fetch_cmd)


def inbox_cmd(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="The deal.")],
    json_out: JsonOpt = False,
) -> None:
    """The transfer packages addressed to your organisation (its receivers; a seller
    steward sees every one)."""
    from dealvault.cli.transfer import show_ledger

    c = get(ctx)
    remote = c.remote()
    if remote is not None:
        rows = remote.package_inbox(deal=deal)
    else:
        rows = deliveries.inbox(c.stores(), actor=c.actor(), deal=deal)
    show_ledger(c, rows, title="transfer packages for your organisation", json_out=json_out)


def fetch_cmd(
    ctx: typer.Context,
    package_id: Annotated[int, typer.Argument(help="Transfer package id (see package inbox).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The package tar to write.")],
    json_out: JsonOpt = False,
) -> None:
    """Download a transfer package addressed to your organisation as a tar, for package
    verify and package receive (its records stay encrypted to your age keys)."""
    c = get(ctx)
    target = check_output_file(out, what="package file")
    remote = c.remote()
    if remote is not None:
        remote.package_fetch(package_id, out=target)
        result: dict[str, object] = {"package": package_id, "path": str(target)}
    else:
        entry = deliveries.fetch(c.stores(), actor=c.actor(), package_id=package_id, out=target)
        result = {"package": entry.id, "path": str(target), "manifest": entry.manifest_sha256}
    print_json(c.console, result) if json_out else c.console.print(
        kv_table("package written", list(result.items()))
    )
