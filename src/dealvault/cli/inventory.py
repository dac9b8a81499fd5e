"""Commands: inventory, columns override."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.files import check_output_file
from dealvault.flows import inventory as flows
from dealvault.vault.colstats import SKETCH_K

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DealOpt = Annotated[str, typer.Option("--deal", help="Deal code.")]
DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset name within the deal.")]
columns_app = typer.Typer(help="Column classification: show and override.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("inventory")(inventory)
    app.add_typer(columns_app, name="columns")


def inventory(
    ctx: typer.Context,
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report here.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The data inventory: every column's PII type, category, sensitivity, confidence, fill rate
    and distinct count; customers, customers with sensitive PI, minors; a suggested grade."""
    c = get(ctx)
    if html is not None:
        check_output_file(html, what="HTML report")
    remote = c.remote()
    inv = (
        remote.inventory(deal=deal, dataset=dataset)
        if remote
        else flows.inventory(c.stores(), actor=c.actor(), deal=deal, dataset=dataset)
    )
    if html is not None:
        flows.write_inventory_html(inv, out=html)
    if json_out:
        print_json(c.console, inv)
        return
    c.console.print(
        kv_table(
            f"inventory {inv.deal}/{inv.dataset}",
            [
                ("customers", f"{inv.customers_active:,}"),
                ("with sensitive PI", f"{inv.customers_with_sensitive:,}"),
                ("minors (under 14, as imported)", f"{inv.minors_imported:,}"),
                ("suggested grade", f"{inv.grade}: {inv.grade_reason}"),
            ],
        )
    )
    c.console.print(
        table(
            "columns",
            ["table", "column", "PII type", "category", "sensitive", "conf.", "fill", "distinct*"],
            [
                (
                    col.table,
                    col.column,
                    (col.pii_type or "") + (" (override)" if col.override else ""),
                    col.category,
                    "yes" if col.sensitive else "",
                    f"{col.confidence:.2f}",
                    f"{col.fill_rate:.0%}",
                    f"{col.distinct:,}" if col.distinct_exact else f"~{col.distinct:,}",
                )
                for col in inv.columns
            ],
        )
    )
    c.console.print(
        "* distinct values: exact, or estimated (~) above "
        f"{SKETCH_K:,} from a sketch of the column, never above the filled cells",
        style="dim",
    )


@columns_app.command("override")
def override(
    ctx: typer.Context,
    column: Annotated[str, typer.Argument(help="Source column name.")],
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    table_name: Annotated[str, typer.Option("--table", help="Table name.")] = "customers",
    pii_type: Annotated[
        str | None, typer.Option("--type", help="PII type, e.g. cn_mobile.")
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(help="identity, contact, transaction, preference, sensitive or free_text."),
    ] = None,
    sensitive: Annotated[
        bool | None, typer.Option("--sensitive/--not-sensitive", help="GB/T 35273 sensitive PI?")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a column's classification by hand; it survives later re-classification."""
    c = get(ctx)
    out = flows.override_column(
        c.stores(),
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        table=table_name,
        column=column,
        pii_type=pii_type,
        category=category,
        sensitive=sensitive,
    )
    print_json(c.console, out) if json_out else c.console.print(
        kv_table("column classification", list(out.model_dump().items()))
    )
