"""Commands: import, lookup, shred, rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import CliContext, get
from dealvault.cli.output import import_progress, kv_table, print_json, table
from dealvault.cli.secrets import sql_source_url
from dealvault.deidentify.masking import mask_field
from dealvault.errors import Invalid
from dealvault.files import check_output_file
from dealvault.flows import customers as flows
from dealvault.flows.importing import (
    ImportRequest,
    MappingPreview,
    import_source,
    preview_mapping,
)
from dealvault.flows.mapping_plan import AUTO_MAP_ACCEPTED, AUTO_MAP_CONFIDENCE, THRESHOLD_RULE
from dealvault.ingest.fields import TableRole
from dealvault.ingest.options import ColumnOptions, parse_date_order, parse_region
from dealvault.ingest.readers import SourceSpec
from dealvault.vault.rejects import write_rejects_csv

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DealOpt = Annotated[str, typer.Option("--deal", help="Deal code.")]
DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset name within the deal.")]


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
    app.command("lookup")(lookup_cmd)
    app.command("status")(status_cmd)
    app.command("shred")(shred_cmd)
    app.command("rejects")(rejects_cmd)


def _parse_maps(items: list[str] | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items or []:
        if "=" not in item:
            raise Invalid(
                f"--map needs COLUMN=FIELD (or COLUMN= to leave a column unmapped), got {item!r}"
            )
        col, field = item.split("=", 1)
        out[col.strip()] = field.strip() or None
    return out


def _parse_options(regions: list[str] | None, orders: list[str] | None) -> dict[str, ColumnOptions]:
    """``--phone-region COLUMN=US`` and ``--date-order COLUMN=DMY`` as options per column."""
    out: dict[str, ColumnOptions] = {}
    for flag, items in (("--phone-region", regions), ("--date-order", orders)):
        for item in items or []:
            col, sep, value = item.rpartition("=")
            if not sep or not col.strip():
                raise Invalid(f"{flag} needs COLUMN=VALUE, got {item!r}")
            col = col.strip()
            if flag == "--phone-region":
                opts = ColumnOptions(phone_region=parse_region(value=value, file=flag, column=col))
            else:
                opts = ColumnOptions(
                    date_order=parse_date_order(value=value, file=flag, column=col)
                )
            out[col] = out.get(col, ColumnOptions()).merged(opts)
    return out


def import_cmd(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Argument(help="File to import: CSV, XLSX, Parquet or JSONL.")
    ] = None,
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    table_name: Annotated[
        str | None, typer.Option("--table", help="Table name (default: its role).")
    ] = None,
    role: Annotated[
        str | None, typer.Option(help="customers, orders or notes (default: guessed from headers).")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, xlsx, parquet or jsonl (default: from the file)."),
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detected).")] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected).")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet (default: the first).")] = None,
    sql_url: Annotated[
        str | None,
        typer.Option(
            "--sql-url",
            help="SQLAlchemy URL to read from (with --query), without a password: command "
            "lines are visible to every user of the machine (use --sql-url-env or -file).",
        ),
    ] = None,
    sql_url_env: Annotated[
        str | None,
        typer.Option(help="Name of an environment variable holding the SQL URL."),
    ] = None,
    sql_url_file: Annotated[
        Path | None,
        typer.Option(help="File (mode 0600) whose first line is the SQL URL."),
    ] = None,
    query: Annotated[str | None, typer.Option(help="SQL query whose rows are imported.")] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="Mapping file (TOML/JSON): column -> field, or a table of field, "
            "phone_region and date_order (see docs/formats.md)."
        ),
    ] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="COLUMN=FIELD override (repeatable).")
    ] = None,
    phone_region: Annotated[
        list[str] | None,
        typer.Option(
            "--phone-region",
            help="COLUMN=REGION: read the column's numbers without +CC as numbers of this "
            "region (US, GB, IN...; default: the region its values show, else CN). Repeatable.",
        ),
    ] = None,
    date_order: Annotated[
        list[str] | None,
        typer.Option(
            "--date-order",
            help="COLUMN=DMY or COLUMN=MDY: the day and month order of dates such as "
            "03/07/1985 (default: the order its values show; refused when none does). "
            "Repeatable.",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Fail the whole import on the first bad row.")
    ] = False,
    allow_reimport: Annotated[
        bool, typer.Option(help="Import a file already imported (same content).")
    ] = False,
    show_mapping: Annotated[
        bool, typer.Option("--dry-run", help="Only show the proposed mapping.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import a customer table (customers, orders or notes) encrypted per customer.

    The import commits whole or not at all. Bad rows go, with file, row, column and reason, to an
    encrypted reject file (see 'dealvault rejects'); --strict refuses them instead.
    """
    c = get(ctx)
    sql_url = sql_source_url(url=sql_url, env=sql_url_env, file=sql_url_file)
    if (source is None) == (sql_url is None):
        raise Invalid("give a file to import, or --sql-url with --query")
    if sql_url is not None and not query:
        raise Invalid("--sql-url needs --query")
    spec = SourceSpec(
        path=Path(source) if source else None,
        url=sql_url,
        query=query,
        fmt=fmt,  # type: ignore[arg-type]
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        batch_rows=c.settings.batch_size,
    )
    request = ImportRequest(
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        spec=spec,
        table=table_name,
        role=TableRole(role) if role else None,
        mapping_file=mapping,
        overrides=_parse_maps(map_),
        options=_parse_options(phone_region, date_order),
        strict=strict,
        allow_reimport=allow_reimport,
    )
    if show_mapping:
        _show_preview(c, preview_mapping(c.stores(), request=request), request, json_out)
        return
    show_bar = not json_out and c.console.is_terminal
    with import_progress(c.err, show=show_bar, task="import") as progress:
        summary = import_source(
            c.stores(),
            c.keyring(),
            request=request,
            rejects_dir=c.settings.rejects_dir,
            progress=progress,
        )
    if json_out:
        print_json(c.console, summary)
        return
    c.console.print(
        kv_table(
            f"import #{summary.import_id} committed",
            [
                (
                    "source",
                    f"{summary.source} ({summary.fmt}, {summary.encoding or 'binary'})",
                ),
                ("dataset / table", f"{summary.dataset} / {summary.table} ({summary.role})"),
                ("rows read", f"{summary.rows_read:,}"),
                ("imported", f"{summary.rows_imported:,}"),
                ("merged duplicates", f"{summary.rows_merged:,}"),
                ("rejected", f"{summary.rows_rejected:,}"),
                ("reject file (encrypted)", summary.reject_file or "-"),
            ],
        )
    )
    for note in summary.notes:
        c.console.print(f"note: {note}", markup=False, highlight=False)


def lookup_cmd(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(help="The value searched (phone, ID number, e-mail...).")],
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    by: Annotated[
        str, typer.Option(help="phone, id_number, email, customer_key or subject_id.")
    ] = "phone",
    category: Annotated[
        list[str] | None, typer.Option(help="Only these categories (repeatable).")
    ] = None,
    purpose: Annotated[
        str, typer.Option(help="Why you read this customer (recorded).")
    ] = "customer service",
    reveal: Annotated[bool, typer.Option(help="Show clear values instead of masked ones.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Find customers by a blind index and read them through the one read path (masked)."""
    c = get(ctx)
    views = flows.lookup(
        c.stores(),
        c.keyring(),
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        by=by,
        value=value,
        categories=category,
        purpose=purpose,
    )

    def shown(field: str, v: str | None) -> str | None:
        return v if reveal else mask_field(field, v)

    out = [
        {
            "subject_id": v.subject_id,
            "status": v.status,
            "data": {
                cat: {f: shown(f, x) for f, x in fields.items()} for cat, fields in v.data.items()
            },
            "children": {
                t: [{f: shown(f, x) for f, x in row.items()} for row in rows]
                for t, rows in v.children.items()
            },
        }
        for v in views
    ]
    if json_out:
        print_json(c.console, out)
        return
    said = {
        "opted_out": "opted out: never disclosed or transferred",
        "objecting": "objects to the transfer: never disclosed or transferred",
        "shredded": "shredded: its keys are destroyed",
    }
    for v in out:
        items: list[tuple[str, object]] = [("status", said.get(str(v["status"]), v["status"]))]
        for cat, fields in v["data"].items():  # type: ignore[attr-defined]
            items += [(f"{cat}.{f}", x) for f, x in fields.items()]
        for t, rows in v["children"].items():  # type: ignore[attr-defined]
            items.append((t, f"{len(rows)} rows"))
        c.console.print(kv_table(f"customer {v['subject_id']}", items))


def status_cmd(
    ctx: typer.Context,
    subject_id: Annotated[str, typer.Argument(help="Subject id of the customer.")],
    to: Annotated[
        str,
        typer.Option(
            "--set",
            help="opted_out (withdrew consent), objecting (objects to the transfer) or active "
            "(withdrew the opt-out or objection).",
        ),
    ],
    reason: Annotated[str, typer.Option(help="The customer's request and its date.")],
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    json_out: JsonOpt = False,
) -> None:
    """Record a customer's opt-out or objection (seller steward): the customer is then left
    out of every disclosure and transfer package, and counted per reason in the manifest."""
    c = get(ctx)
    out = flows.set_status(
        c.stores(),
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        subject_id=subject_id,
        status=to,
        reason=reason,
    )
    if json_out:
        print_json(c.console, out)
    else:
        c.console.print(kv_table("customer status", list(out.model_dump().items())))


def shred_cmd(
    ctx: typer.Context,
    subject_id: Annotated[
        str | None, typer.Argument(help="Subject id of the customer to destroy.")
    ] = None,
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    all_dataset: Annotated[
        bool, typer.Option("--all-dataset", help="Destroy the whole dataset.")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why (e.g. erasure request, closing).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Crypto-shred a customer or a whole dataset: the keys are destroyed, for good."""
    c = get(ctx)
    if not yes and c.console.is_terminal:
        what = "the WHOLE dataset" if all_dataset else f"customer {subject_id}"
        typer.confirm(f"Destroy {what} in {deal}/{dataset}? This cannot be undone", abort=True)
    out = flows.shred(
        c.stores(),
        c.keyring(),
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        subject_id=subject_id,
        whole_dataset=all_dataset,
        reason=reason,
    )
    if json_out:
        print_json(c.console, out)
    else:
        c.console.print(kv_table("destroyed", list(out.model_dump().items())))


def rejects_cmd(
    ctx: typer.Context,
    import_id: Annotated[int, typer.Argument(help="Import number (from 'dealvault import').")],
    deal: DealOpt = ...,  # type: ignore[assignment]
    out: Annotated[
        Path | None, typer.Option(help="Write the rejected rows, with values, to this CSV.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show why rows of an import were rejected (values only with --out, to a file)."""
    c = get(ctx)
    if out is not None:
        check_output_file(out, what="rejects file")
    frame = flows.read_import_rejects(
        c.stores(), c.keyring(), actor=c.actor(), deal=deal, import_id=import_id
    )
    if out is not None:
        write_rejects_csv(frame, path=out)
    reasons = frame.select("row", "column", "reason")
    if json_out:
        print_json(c.console, json.loads(reasons.write_json()))
    else:
        c.console.print(
            table(f"rejects of import #{import_id}", ["row", "column", "reason"], reasons.rows())
        )


def _show_preview(c: CliContext, p: MappingPreview, request: ImportRequest, json_out: bool) -> None:
    """``import --dry-run``: the table, the columns needing a decision and the threshold."""
    m, found = p.mapping, p.found
    pending = {x.column: x for x in p.pending}
    how = {x.column: x.how(deal=request.deal, dataset=request.dataset) for x in p.pending}
    if json_out:
        print_json(
            c.console,
            {
                "role": m.table_role.value,
                "columns": m.columns,
                "mapped_by": p.mapped_by,
                "read_as": {
                    col: {**r.options.as_dict(), "evidence": r.evidence}
                    for col, r in p.readings.items()
                },
                "refused": {col: r.refused for col, r in p.readings.items() if r.refused},
                "notes": p.notes,
                "threshold": {
                    "confidence": AUTO_MAP_CONFIDENCE,
                    "accepted": AUTO_MAP_ACCEPTED,
                    "rule": THRESHOLD_RULE,
                },
                "needs_decision": {
                    col: {
                        "field": x.field,
                        "pii_type": x.pii_type,
                        "confidence": round(x.confidence, 3),
                        "reason": x.reason,
                        "how": how[col],
                    }
                    for col, x in pending.items()
                },
                "classified": {
                    col: {
                        "pii_type": f.pii_type,
                        "category": f.category.value,
                        "sensitive": f.sensitive,
                        "confidence": round(f.confidence, 3),
                    }
                    for col, f in found.items()
                },
            },
        )
        return

    def field_cell(col: str, field: str | None) -> str:
        if field:
            read = p.readings.get(col)
            return f"{field} ({p.mapped_by.get(col, 'header')})" + (
                f"; {read.evidence}" if read else ""
            )
        if col in pending:
            return f"needs a decision: {pending[col].field}?"
        return "(unmapped: kept encrypted)"

    c.console.print(
        table(
            f"proposed mapping ({m.table_role.value})",
            ["column", "field", "PII type", "category", "sensitive", "confidence"],
            [
                (
                    k,
                    field_cell(k, v),
                    found[k].pii_type if k in found else "",
                    found[k].category.value if k in found else "",
                    "yes" if k in found and found[k].sensitive else "",
                    f"{found[k].confidence:.2f}" if k in found else "",
                )
                for k, v in m.columns.items()
            ],
        )
    )
    for col, r in p.readings.items():
        if r.refused:
            c.console.print(
                f"import would be refused: {col}: {r.refused}", markup=False, highlight=False
            )
    for col, x in pending.items():
        c.console.print(
            f"needs a decision: {col}: {x.reason}; {how[col]}", markup=False, highlight=False
        )
    c.console.print(f"threshold: {THRESHOLD_RULE}", markup=False, highlight=False, style="dim")
    for note in p.notes:
        c.console.print(f"note: {note}", markup=False, highlight=False)
