"""Commands: keys status, keys rotate."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import Invalid
from dealvault.flows import keys as flows

keys_app = typer.Typer(
    help="The key hierarchy: master key, dataset keys, customer keys.", no_args_is_help=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("status")
def status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show the master key, every dataset's keys and counts of customer keys and shreds."""
    c = get(ctx)
    st = flows.keys_status(c.stores(), c.keyring(), actor=c.actor())
    if json_out:
        print_json(c.console, st)
        return
    c.console.print(
        kv_table(
            "master key",
            [
                ("provider", st.provider),
                ("key id", st.kek_id),
                ("active version", st.kek_active_version),
                ("versions held", ", ".join(map(str, st.kek_versions))),
            ],
        )
    )
    c.console.print(
        table(
            "datasets",
            [
                "deal/dataset",
                "status",
                "keys (v/master v)",
                "customers",
                "shredded",
                "cust. keys",
                "rotation",
            ],
            [
                (
                    f"{d.deal}/{d.dataset}",
                    d.status,
                    ", ".join(d.dataset_keys),
                    d.customers_active,
                    d.customers_shredded,
                    d.customer_keys,
                    "running" if d.rotation_running else "-",
                )
                for d in st.datasets
            ],
        )
    )


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    master: Annotated[
        bool, typer.Option("--master", help="Rotate the master key (rewrap dataset keys).")
    ] = False,
    deal: Annotated[str | None, typer.Option(help="Deal of the dataset (with --data).")] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Rotate this dataset's data key: "
            "new customer keys, everything re-encrypted (resumable).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Customers per committed batch.")] = 5_000,
    json_out: JsonOpt = False,
) -> None:
    """Rotate the master key (--master) or a dataset's data key (--deal D --data NAME).

    A data-key rotation that was killed resumes where it stopped when run again.
    """
    c = get(ctx)
    if master == (dataset is not None):
        raise Invalid("choose --master or --data DATASET (with --deal)")
    if master:
        result = flows.rotate_master_key(c.stores(), c.keyring(), actor=c.actor())
    else:
        if deal is None:
            raise Invalid("--data needs --deal")
        assert dataset is not None
        with Progress(
            TextColumn("[bold]re-encrypting"),
            BarColumn(),
            MofNCompleteColumn(),
            console=c.err,
            disable=json_out or not c.console.is_terminal,
            transient=True,
        ) as bar:
            task = bar.add_task("rotate", total=None)
            result = flows.rotate_data_key(
                c.stores(),
                c.keyring(),
                actor=c.actor(),
                deal=deal,
                dataset=dataset,
                batch_size=batch_size,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    if json_out:
        print_json(c.console, result.__dict__)
    else:
        c.console.print(
            kv_table(
                f"{result.kind} key rotated",
                [
                    ("from version", result.from_version),
                    ("to version", result.to_version),
                    (
                        "re-encrypted" if result.kind == "data" else "dataset keys rewrapped",
                        result.processed,
                    ),
                    ("resumed an interrupted run", "yes" if result.resumed else "no"),
                ],
            )
        )
