"""Commands: agreement pending and agreement accept, a party's click-through agreements
(through the server when signed in with ``dealvault login``, else on the local store)."""

from __future__ import annotations

from typing import Annotated

import typer

from dealvault.access.acceptance import AcceptanceOut, MyAgreementOut
from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.flows import acceptance

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def add_commands(agreement_app: typer.Typer) -> None:
    agreement_app.command("pending")(pending_cmd)
    agreement_app.command("accept")(accept_cmd)


def _when(row: MyAgreementOut) -> str:
    if row.accepted_at is not None:
        return f"accepted {row.accepted_at:%Y-%m-%d %H:%M} UTC"
    return "awaiting you" if row.awaiting else "-"


def pending_cmd(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="The deal.")],
    json_out: JsonOpt = False,
) -> None:
    """The click-through agreements of your organisation that await your acceptance, or
    that you accepted."""
    c = get(ctx)
    remote = c.remote()
    if remote is not None:
        rows: list[MyAgreementOut] = remote.my_agreements(deal=deal)
    else:
        rows = acceptance.pending(c.stores(), actor=c.actor(), deal=deal)
    if json_out:
        print_json(c.console, rows)
        return
    rows_shown = [
        (a.id, a.kind, a.title, a.effective, a.expires or "open", a.status.replace("_", " "),
         a.document_sha256, _when(a))
        for a in rows
    ]  # fmt: skip
    headers = ["id", "kind", "title", "effective", "expires", "status", "document SHA-256", "you"]
    c.console.print(table("your organisation's click-through agreements", headers, rows_shown))
    if any(a.awaiting for a in rows):
        c.console.print(
            "Read the document (dealvault agreement document ID --out FILE), then accept it: "
            "dealvault agreement accept ID --sha256 HEX"
        )


def accept_cmd(
    ctx: typer.Context,
    agreement_id: Annotated[int, typer.Argument(help="Agreement id (see agreement pending).")],
    sha256: Annotated[
        str, typer.Option("--sha256", help="SHA-256 of the document you read (64 hex digits).")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Accept a click-through agreement of your organisation: recorded as your signature,
    pinned to the SHA-256 of the document you read."""
    c = get(ctx)
    remote = c.remote()
    if remote is not None:
        got: AcceptanceOut = remote.accept_agreement(agreement_id, document_sha256=sha256)
    else:
        got = acceptance.accept(
            c.stores(), actor=c.actor(), agreement_id=agreement_id, document_sha256=sha256
        )
    if json_out:
        print_json(c.console, got)
        return
    c.console.print(
        kv_table(
            f"agreement #{got.agreement} accepted",
            [
                ("deal", got.deal),
                ("kind", got.kind),
                ("by", f"{got.name} <{got.person}>, {got.organization}"),
                ("at", f"{got.accepted_at:%Y-%m-%d %H:%M:%S} UTC"),
                ("from", got.client or "the local CLI"),
                ("document SHA-256", got.document_sha256),
            ],
        )
    )
