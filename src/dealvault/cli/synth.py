"""``dealvault synth``: write a realistic, deterministic synthetic Chinese customer export."""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from dealvault.files import check_output_dir
from dealvault.synth import TABLES, Encoding, Format, WrittenTable, export_tables

PROGRESS_MIN_ROWS = 50_000


class OutputFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    parquet = "parquet"


class OutputEncoding(StrEnum):
    utf8 = "utf-8"
    gbk = "gbk"


_FORMATS: dict[OutputFormat, Format] = {
    OutputFormat.csv: "csv",
    OutputFormat.xlsx: "xlsx",
    OutputFormat.parquet: "parquet",
}
_ENCODINGS: dict[OutputEncoding, Encoding] = {
    OutputEncoding.utf8: "utf-8",
    OutputEncoding.gbk: "gbk",
}


def _parse_tables(value: str) -> list[str]:
    names = [t.strip() for t in value.split(",") if t.strip()]
    bad = [t for t in names if t not in TABLES]
    if not names or bad:
        raise typer.BadParameter(
            f"expected a comma-separated subset of {','.join(TABLES)}, got {value!r}"
        )
    return list(dict.fromkeys(names))


def synth(
    rows: Annotated[
        int, typer.Option("--rows", "-n", min=0, help="Number of customers to generate.")
    ] = 10_000,
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, help="Random seed; same seed and rows give identical files."),
    ] = 1,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", file_okay=False, help="Output directory (created if missing)."),
    ] = Path("./synth-out"),
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="File format.", case_sensitive=False)
    ] = OutputFormat.csv,
    encoding: Annotated[
        OutputEncoding,
        typer.Option(
            "--encoding",
            "-e",
            help="Text encoding of CSV files (ignored otherwise).",
            case_sensitive=False,
        ),
    ] = OutputEncoding.utf8,
    orders_per_customer: Annotated[
        float,
        typer.Option("--orders-per-customer", min=0.0, help="Mean orders per customer (Poisson)."),
    ] = 3.0,
    notes_per_customer: Annotated[
        float,
        typer.Option(
            "--notes-per-customer", min=0.0, help="Mean service notes per customer (Poisson)."
        ),
    ] = 0.5,
    tables: Annotated[
        str,
        typer.Option(
            "--tables", "-t", help="Comma-separated tables to write: customers,orders,notes."
        ),
    ] = ",".join(TABLES),
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print a JSON summary instead of a table; no progress bar."),
    ] = False,
    messy: Annotated[
        bool,
        typer.Option(
            "--messy",
            help="Customers as real CRM exports look: placeholders (无, N/A), two phones in a "
            "cell, Excel serial and Chinese dates, a membership tier, an empty and a repeated "
            "header (CSV and XLSX).",
        ),
    ] = False,
) -> None:
    """Generate a synthetic Chinese customer export (customers, orders, notes).

    Customers have realistic names, valid 18-digit resident ID numbers with real region
    codes, mainland mobile numbers, Luhn-valid bank cards, addresses, and e-mail addresses
    on reserved domains only (example.com/.net/.org, *.example, *.invalid). Column headers
    are Chinese. Output is deterministic for a given --seed and --rows, and is streamed in
    batches, so millions of rows need little memory. No database or settings are needed.
    """
    wanted = _parse_tables(tables)
    check_output_dir(out)
    console = Console(stderr=True)
    file_format = _FORMATS[fmt]
    enc: Encoding = _ENCODINGS[encoding] if fmt is OutputFormat.csv else "utf-8"
    if fmt is not OutputFormat.csv and encoding is not OutputEncoding.utf8 and not as_json:
        console.print(
            f"[yellow]note:[/yellow] --encoding applies to CSV only; {fmt.value} is UTF-8"
        )
    show_progress = not as_json and rows >= PROGRESS_MIN_ROWS and console.is_terminal
    started = time.perf_counter()
    try:
        if show_progress:
            with Progress(
                TextColumn("[bold]synth"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("customers"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("synth", total=rows)
                written = export_tables(
                    out_dir=out,
                    rows=rows,
                    seed=seed,
                    fmt=file_format,
                    encoding=enc,
                    tables=wanted,
                    orders_per_customer=orders_per_customer,
                    notes_per_customer=notes_per_customer,
                    progress=lambda done: bar.update(task, completed=done),
                    messy=messy,
                )
        else:
            written = export_tables(
                out_dir=out,
                rows=rows,
                seed=seed,
                fmt=file_format,
                encoding=enc,
                tables=wanted,
                orders_per_customer=orders_per_customer,
                notes_per_customer=notes_per_customer,
                messy=messy,
            )
    except (OSError, ValueError, UnicodeEncodeError) as exc:
        console.print(f"[red]synth failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    elapsed = time.perf_counter() - started
    if as_json:
        typer.echo(
            json.dumps(
                _summary(written, rows, seed, file_format, enc, out, elapsed), ensure_ascii=False
            )
        )
    else:
        _print_table(written, rows, seed, elapsed)


def _summary(
    written: dict[str, WrittenTable],
    rows: int,
    seed: int,
    fmt: str,
    encoding: str,
    out: Path,
    elapsed: float,
) -> dict[str, object]:
    return {
        "out_dir": str(out),
        "format": fmt,
        "encoding": encoding,
        "seed": seed,
        "customers": rows,
        "elapsed_seconds": round(elapsed, 3),
        "files": {
            name: {"path": str(w.path), "rows": w.rows, "bytes": w.bytes}
            for name, w in written.items()
        },
    }


def _print_table(written: dict[str, WrittenTable], rows: int, seed: int, elapsed: float) -> None:
    table = Table(title=f"synthetic export: {rows:,} customers, seed {seed}, {elapsed:.1f} s")
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("bytes", justify="right")
    for name, w in written.items():
        table.add_row(name, str(w.path), f"{w.rows:,}", f"{w.bytes:,}")
    Console(file=sys.stdout).print(table)


def register(app: typer.Typer) -> None:
    """Add the ``synth`` command to ``app``."""
    app.command("synth", no_args_is_help=False)(synth)
