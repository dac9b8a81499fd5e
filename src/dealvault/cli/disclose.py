"""Commands: disclose (any level, to a file or the terminal) and token resolve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer

from dealvault.cli.context import CliContext, get
from dealvault.cli.output import print_json, table
from dealvault.deidentify.levels import Level
from dealvault.deidentify.writers import Format, format_for, write_disclosure
from dealvault.errors import Invalid
from dealvault.files import check_output_file
from dealvault.flows import disclosure as flows
from dealvault.ingest.fields import TableRole

if TYPE_CHECKING:
    from dealvault.remote import Remote, ViewAsk

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DealOpt = Annotated[str, typer.Option("--deal", help="Deal code.")]
DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset name within the deal.")]
UseOpt = Annotated[
    str | None,
    typer.Option(
        "--use",
        help="What the copy is for, when the use is restricted per customer: 'marketing' keeps "
        "only the customers whose transfer package carried a marketing consent.",
    ),
]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="Why (recorded in the audit log).")]
CategoryOpt = Annotated[
    list[str] | None,
    typer.Option("--category", help="Only these categories (repeatable; default: all)."),
]

token_app = typer.Typer(help="Map a recipient's tokens back to customers (seller only).")


def register(app: typer.Typer) -> None:
    app.command("disclose")(disclose_cmd)
    app.command("view")(view_cmd)
    app.add_typer(token_app, name="token")


def _pairs(items: list[str] | None, *, option: str, value: str) -> dict[str, str]:
    """``OPTION COLUMN=VALUE`` options as a dict (the value may hold commas and ``=``)."""
    out: dict[str, str] = {}
    for item in items or []:
        column, sep, rest = item.partition("=")
        if not sep or not column.strip() or not rest.strip():
            raise Invalid(f"{option} needs COLUMN={value}, got {item!r}")
        out[column.strip()] = rest.strip()
    return out


def _hierarchies(items: list[str] | None) -> dict[str, Path]:
    pairs = _pairs(items, option="--hierarchy", value="FILE.csv")
    return {column: Path(path) for column, path in pairs.items()}


def _split(items: list[str] | None) -> list[str]:
    """Repeatable options that also accept comma-separated lists."""
    return [p.strip() for item in items or [] for p in item.split(",") if p.strip()]


def disclose_cmd(
    ctx: typer.Context,
    level: Annotated[
        Level,
        typer.Option(
            help="metadata, aggregate, anonymized, pseudonymized, masked or full "
            "(docs/design.md §2)."
        ),
    ],
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    purpose: PurposeOpt = ...,  # type: ignore[assignment]
    recipient: Annotated[
        str | None,
        typer.Option(help="Receiving organisation (required below full; keys the tokens)."),
    ] = None,
    table_role: Annotated[
        TableRole, typer.Option("--table", help="customers, orders or notes.")
    ] = TableRole.CUSTOMERS,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write to this file (.csv, .xlsx, .parquet)."),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, xlsx or parquet (default: from --out).")
    ] = None,
    qi: Annotated[
        list[str] | None,
        typer.Option(
            "--qi",
            help="anonymized: quasi-identifier COLUMN[:numeric|date|categorical] (repeatable;"
            " default: age, gender, region_code where present).",
        ),
    ] = None,
    hierarchy: Annotated[
        list[str] | None,
        typer.Option(help="anonymized: COLUMN=FILE.csv generalisation hierarchy (ARX layout)."),
    ] = None,
    k: Annotated[int, typer.Option(help="anonymized: every class holds at least k rows.")] = 10,
    l_div: Annotated[
        int | None, typer.Option("--l", help="anonymized: l-diversity of --sensitive.")
    ] = None,
    l_kind: Annotated[str, typer.Option(help="anonymized: distinct or entropy.")] = "distinct",
    sensitive: Annotated[
        str | None, typer.Option(help="anonymized: the sensitive attribute (kept as is).")
    ] = None,
    suppression: Annotated[
        float, typer.Option(help="anonymized: share of outlier rows that may be left out.")
    ] = 0.0,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            help="anonymized: another column to release: COLUMN (text of few values),"
            " COLUMN:range=WIDTH (numbers) or COLUMN:year|quarter|month|week (dates).",
        ),
    ] = None,
    non_identifying: Annotated[
        list[str] | None,
        typer.Option(
            "--non-identifying",
            help="anonymized: COLUMN=REASON: a kept or sensitive column left out of the risk"
            " figures; the reason is written into the output's metadata.",
        ),
    ] = None,
    group_by: Annotated[
        list[str] | None, typer.Option(help="aggregate: group columns (repeatable or a,b).")
    ] = None,
    measure: Annotated[
        list[str] | None,
        typer.Option(
            help="aggregate: count, sum:COL, mean:COL, dist:COL[:WIDTH|EDGES], top:COL[:N]."
        ),
    ] = None,
    k_min: Annotated[
        int, typer.Option(help="aggregate: smallest number of customers per released cell.")
    ] = 10,
    epsilon: Annotated[
        float | None, typer.Option(help="aggregate: add discrete Laplace noise to counts.")
    ] = None,
    category: CategoryOpt = None,
    use: UseOpt = None,
    limit: Annotated[int, typer.Option(help="Rows shown on the terminal.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Disclose a dataset at one level to a recipient, to a file or the terminal.

    Every output states the level, recipient, time and parameters: the first line of a CSV,
    an 'about' sheet and document properties of an XLSX, the file metadata of a Parquet file.
    Every disclosure is decided first and recorded in the audit log.
    """
    c = get(ctx)
    if l_kind not in ("distinct", "entropy"):
        raise Invalid("--l-kind must be distinct or entropy")
    chosen_fmt = format_for(out, fmt) if out is not None else None
    if out is not None:
        check_output_file(out)
    remote = c.remote()
    if remote is not None:
        local_only = {
            "--recipient (the server discloses to your organisation)": recipient,
            "--qi": qi, "--hierarchy": hierarchy, "--k": k != 10, "--l": l_div,
            "--sensitive": sensitive, "--suppression": suppression, "--keep": keep,
            "--k-min": k_min != 10, "--epsilon": epsilon, "--category": category,
        }  # fmt: skip
        given = [name for name, value in local_only.items() if value]
        if given:
            raise Invalid(f"not available through the server yet: {', '.join(given)}")
        from dealvault.remote import ViewAsk

        asked = ViewAsk(deal=deal, dataset=dataset, purpose=purpose, level=level.value,
                        table=table_role.value, group_by=_split(group_by),
                        measure=_split(measure), use=use)  # fmt: skip
        _through_server(c, remote, asked, out=out, fmt=chosen_fmt, limit=limit, json_out=json_out)
        return
    request = flows.DisclosureRequest(
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        level=level,
        purpose=purpose,
        recipient=recipient,
        table=table_role,
        quasi_identifiers=_split(qi),
        hierarchies=_hierarchies(hierarchy),
        k=k,
        l_div=l_div,
        l_kind=l_kind,  # type: ignore[arg-type]
        sensitive=sensitive,
        suppression=suppression,
        keep=_split(keep),
        non_identifying=_pairs(non_identifying, option="--non-identifying", value="REASON"),
        group_by=_split(group_by),
        measures=_split(measure) or ["count"],
        k_min=k_min,
        epsilon=epsilon,
        categories=_split(category),
        use=use,
    )
    result = flows.disclose(c.stores(), c.keyring(), request=request, settings=c.settings)
    _deliver(c, result, out=out, fmt=chosen_fmt, limit=limit, json_out=json_out)


def view_cmd(
    ctx: typer.Context,
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    purpose: PurposeOpt = ...,  # type: ignore[assignment]
    level: Annotated[
        Level | None,
        typer.Option(help="Level wanted (default: the highest you are allowed now)."),
    ] = None,
    table_role: Annotated[
        TableRole, typer.Option("--table", help="customers, orders or notes.")
    ] = TableRole.CUSTOMERS,
    category: CategoryOpt = None,
    use: UseOpt = None,
    group_by: Annotated[
        list[str] | None, typer.Option(help="aggregate level: group columns.")
    ] = None,
    measure: Annotated[list[str] | None, typer.Option(help="aggregate level: measures.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown on the terminal.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """See a dataset as you are allowed to: at most your level and your grant's row cap.

    The decision (stage ceiling, agreement, training, grant, freeze) is made for the person
    acting (--as EMAIL or DEALVAULT_ACTOR) and recorded, allowed or denied.
    """
    c = get(ctx)
    chosen_fmt = format_for(out, None) if out is not None else None
    if out is not None:
        check_output_file(out)
    remote = c.remote()
    if remote:
        if category:
            raise Invalid("--category is not available through the server yet: leave it out")
        from dealvault.remote import ViewAsk

        asked = ViewAsk(deal=deal, dataset=dataset, purpose=purpose,
                        level=level.value if level else None, table=table_role.value,
                        group_by=_split(group_by), measure=_split(measure), use=use)  # fmt: skip
        _through_server(c, remote, asked, out=out, fmt=chosen_fmt, limit=limit, json_out=json_out)
        return
    request = flows.DisclosureRequest(
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        level=level or Level.METADATA,
        purpose=purpose,
        table=table_role,
        categories=_split(category),
        use=use,
        group_by=_split(group_by),
        measures=_split(measure) or ["count"],
    )
    result = flows.view(c.stores(), c.keyring(), request=request, level=level, settings=c.settings)
    _deliver(c, result, out=out, fmt=chosen_fmt, limit=limit, json_out=json_out)


def _through_server(
    c: CliContext,
    remote: Remote,
    asked: ViewAsk,
    *,
    out: Path | None,
    fmt: Format | None,
    limit: int,
    json_out: bool,
) -> None:
    """A view or disclosure the server decides and records: the file as it writes it
    (``--out``), or the first rows."""
    if out is not None and fmt is not None:
        remote.download(asked, fmt=fmt, out=out)
        meta, _ = remote.view(asked, limit=1)
        _deliver(c, flows.Disclosure(pl.DataFrame(), meta), out=out, fmt=None, limit=limit,
                 json_out=json_out)  # fmt: skip
        return
    meta, frame = remote.view(asked, limit=limit)
    _deliver(c, flows.Disclosure(frame, meta), out=None, fmt=None, limit=limit,
             json_out=json_out)  # fmt: skip


def _deliver(
    c: CliContext,
    result: flows.Disclosure,
    *,
    out: Path | None,
    fmt: Format | None,
    limit: int,
    json_out: bool,
) -> None:
    chosen_fmt = fmt
    if out is not None and chosen_fmt is not None:
        write_disclosure(result.frame, path=out, fmt=chosen_fmt, meta=result.meta)
    if json_out:
        doc = dict(result.meta)
        if out is not None:
            doc["file"] = str(out)
        else:
            doc["data"] = result.frame.head(limit).to_dicts()
        print_json(c.console, doc)
        return
    m = result.meta
    c.console.print(
        f"[bold]{m['level']}[/bold] disclosure of {m['deal']}/{m['dataset']}"
        f" ({m.get('table', '-')}) to {m['recipient']} at {m['generated_at']}; {m['rows']:,} rows"
        + (f", of which {m['canary_rows']:,} canary records" if m.get("canary_rows") else "")
    )
    linkage = (m.get("report") or {}).get("linkage") or {}
    if linkage.get("statement"):
        c.console.print(linkage["statement"], markup=False)
    if m["parameters"]:
        c.console.print("parameters: " + json.dumps(m["parameters"], ensure_ascii=False))
    if out is not None:
        c.console.print(f"written to {out}")
        return
    shown = result.frame.head(limit)
    c.console.print(
        table(
            None,
            shown.columns,
            [[v for v in row] for row in shown.iter_rows()],
        )
    )
    total = int(m.get("rows", result.frame.height))
    if total > min(limit, result.frame.height):
        shown_n = min(limit, result.frame.height)
        c.console.print(f"... {total - shown_n:,} more rows (use --out FILE)")


@token_app.command("resolve")
def token_resolve_cmd(
    ctx: typer.Context,
    tokens: Annotated[list[str], typer.Argument(help="Tokens as released to the recipient.")],
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: DatasetOpt = "customers",
    recipient: Annotated[
        str, typer.Option(help="The organisation the tokens were made for.")
    ] = ...,  # type: ignore[assignment]
    purpose: PurposeOpt = ...,  # type: ignore[assignment]
    json_out: JsonOpt = False,
) -> None:
    """Map tokens a recipient holds back to subject ids (needs the seller's key; audited)."""
    c = get(ctx)
    matches = flows.resolve_recipient_tokens(
        c.stores(),
        c.keyring(),
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        recipient=recipient,
        tokens=tokens,
        purpose=purpose,
    )
    if json_out:
        print_json(c.console, [{"token": m.token, "subject_id": m.subject_id} for m in matches])
        return
    c.console.print(
        table(
            "tokens",
            ["token", "subject id"],
            [[m.token, m.subject_id or "(not a token of this recipient)"] for m in matches],
        )
    )
