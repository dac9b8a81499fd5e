"""Commands: consent import, summary (customers' consents the gate and the buyer ask)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import print_json, table

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DealOpt = Annotated[str, typer.Option("--deal", help="Deal code.")]
DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset name within the deal.")]

consent_app = typer.Typer(
    help="Customers' consents per purpose, from the seller's systems: import, summary.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(consent_app, name="consent")


@consent_app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="Consent records (CSV, UTF-8): customer_key (or subject_id), purpose, "
            "given_at, source; optional scope, separate, withdrawn_at. See docs/compliance.md."
        ),
    ],
    deal: DealOpt,
    dataset: DatasetOpt,
    json_out: JsonOpt = False,
) -> None:
    """Import consent records (seller steward). Every row is checked first; a bad file is
    refused whole, naming row and column. Customers are matched by their customer number
    through the blind index; rows naming no customer are counted, not kept."""
    from dealvault.flows.consent import import_consents

    c = get(ctx)
    out = import_consents(c.stores(), c.keyring(), actor=c.actor(), deal=deal, dataset=dataset,
                          path=file)  # fmt: skip
    if json_out:
        print_json(c.console, out)
        return
    purposes = ", ".join(f"{n} {p}" for p, n in out.by_purpose.items()) or "none"
    c.console.print(
        f"{out.rows} row(s) read from {out.file}: {out.added} consent(s) added, {out.updated} "
        f"updated ({purposes})"
    )
    if out.unmatched:
        rows = ", ".join(map(str, out.unmatched_rows))
        more = "" if out.unmatched <= len(out.unmatched_rows) else ", ..."
        c.console.print(
            f"{out.unmatched} row(s) name no customer of dataset {out.dataset} and were not "
            f"kept (rows {rows}{more})"
        )


@consent_app.command("summary")
def summary(
    ctx: typer.Context, deal: DealOpt, dataset: DatasetOpt, json_out: JsonOpt = False
) -> None:
    """Consents held per purpose, withdrawn ones, and the active customers holding one in
    force now."""
    from dealvault.flows.consent import consent_summary

    c = get(ctx)
    out = consent_summary(c.stores(), actor=c.actor(), deal=deal, dataset=dataset)
    if json_out:
        print_json(c.console, out)
        return
    rows = [
        [p, f"{v['records']:,}", f"{v['withdrawn']:,}", f"{v['customers_in_force']:,}"]
        for p, v in sorted(out.purposes.items())
    ]
    c.console.print(
        table(
            f"consents of {out.deal}/{out.dataset} ({out.active_customers:,} active customers)",
            ["purpose", "records", "withdrawn", "customers with one in force"],
            rows,
        )
    )
