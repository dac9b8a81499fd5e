"""Commands: plan create|approve|deny|show|list (notify, notice-status in plan_notices) and
package build|verify|receive|ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from dealvault.cli.context import CliContext, get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import InputError
from dealvault.files import read_text_file
from dealvault.flows import packages as package_flows
from dealvault.flows import reviews as review_flows
from dealvault.flows import transfer as flows
from dealvault.flows.transfer import LedgerEntry, PlanOut
from dealvault.transfer.records import BATCH_ROWS

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PlanArg = Annotated[int, typer.Argument(help="Transfer plan id.")]
IdentityOpt = Annotated[
    Path, typer.Option("--identity", "-i", help="age identity file (AGE-SECRET-KEY-1…).")
]
VerifierOpt = Annotated[
    str | None,
    typer.Option(
        "--verifier-key",
        help="The seller's verifier key (C2SP vkey), obtained out of band. Without it the "
        "key the package names is used and its fingerprint printed for you to compare.",
    ),
]
ReportJsonOpt = Annotated[
    Path | None, typer.Option("--report-json", help="Write the reconciliation report (JSON).")
]
ReportHtmlOpt = Annotated[
    Path | None, typer.Option("--report-html", help="Write the reconciliation report (HTML).")
]

plan_app = typer.Typer(
    help="Transfer plans: what is handed over at closing, to whom (age recipients) and why; "
    "approved like an access request, at stage closing with a transfer agreement in force.",
    no_args_is_help=True,
)
package_app = typer.Typer(
    help="Transfer packages: build (seller), fetch, verify and receive (buyer), and the ledger.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    from dealvault.cli import package_delivery, package_receipt, plan_notices

    package_receipt.add_commands(package_app)
    package_delivery.add_commands(package_app)
    plan_notices.add_commands(plan_app)
    app.add_typer(plan_app, name="plan")
    app.add_typer(package_app, name="package")


def _split(items: list[str] | None) -> list[str]:
    return [p.strip() for item in items or [] for p in item.split(",") if p.strip()]


def _when(value: object) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _show(c: CliContext, p: PlanOut, json_out: bool) -> None:
    if json_out:
        print_json(c.console, p)
        return
    c.console.print(
        kv_table(
            f"transfer plan {p.id} ({p.status})",
            [
                ("deal", p.deal),
                ("dataset", p.dataset),
                ("recipient", p.recipient),
                ("age recipients", "\n".join(p.recipients)),
                ("categories", ", ".join(p.categories)),
                ("purpose", p.purpose),
                ("destination", p.destination),
                ("cross-border mechanisms", ", ".join(p.mechanisms) or "-"),
                ("excluded", ", ".join(f"{k} {v:,}" for k, v in p.exclusions.items())),
                ("objection window", f"{p.objection_days} days from delivery"),
                ("recipient contact", p.recipient_contact or "- (not stated)"),
                (
                    "notices",
                    ", ".join(f"{k} {v:,}" for k, v in p.notices.items() if v or k == "notified"),
                ),
                ("last window ends", _when(p.objection_window_ends) or "-"),
                ("drawn up", f"{_when(p.created_at)} by {p.created_by}"),
                ("decided", _when(p.decided_at)),
                ("approver roles", ", ".join(p.required_roles)),
                ("still needed", ", ".join(p.still_needed) or "-"),
                ("packages", ", ".join(str(i) for i in p.packages) or "-"),
            ],
        )
    )
    if p.approvals:
        c.console.print(
            table(
                "decisions",
                ["approver", "role", "decision", "at", "comment"],
                [(a.approver, a.role, a.decision, _when(a.at), a.comment) for a in p.approvals],
            )
        )


# -- plans --------------------------------------------------------------------------------
@plan_app.command("create")
def plan_create_cmd(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="Deal code.")],
    dataset: Annotated[str, typer.Option(help="Dataset to hand over.")],
    recipient: Annotated[str, typer.Option(help="Receiving organisation (the winning bidder).")],
    category: Annotated[
        list[str], typer.Option(help="Data category (repeatable or comma-separated).")
    ],
    purpose: Annotated[str, typer.Option(help="Why the data is handed over (recorded).")],
    age_recipient: Annotated[
        list[str] | None,
        typer.Option("--age-recipient", help="The recipient's age public key age1… (repeatable)."),
    ] = None,
    recipients_file: Annotated[
        Path | None,
        typer.Option(help="File of age recipients, one per line ('#' comments)."),
    ] = None,
    objection_days: Annotated[
        int,
        typer.Option(
            min=1, max=365, help="Days a customer has to object once its notice reached it."
        ),
    ] = 30,
    recipient_contact: Annotated[
        str | None,
        typer.Option(
            help="The recipient's contact named in the customers' notices (the organisation's "
            "address, phone or e-mail)."
        ),
    ] = None,
    destination: Annotated[
        str,
        typer.Option(
            help="Where the recipient holds the data: ISO 3166-1 alpha-2 code (HK, MO and TW "
            "count as outside the mainland for the cross-border rules)."
        ),
    ] = "CN",
    json_out: JsonOpt = False,
) -> None:
    """Draw up a plan (seller steward). Opted-out, objecting and shredded customers are
    excluded and counted per reason."""
    c = get(ctx)
    keys = list(age_recipient or [])
    if recipients_file is not None:
        lines = read_text_file(recipients_file).splitlines()
        listed = [x.strip() for x in lines if x.strip() and not x.strip().startswith("#")]
        if not listed:
            raise InputError("lists no age recipient", file=recipients_file.name)
        keys += listed
    p = flows.create_plan(
        c.stores(),
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        recipient=recipient,
        recipients=keys,
        categories=_split(category),
        purpose=purpose,
        objection_days=objection_days,
        recipient_contact=recipient_contact or "",
        destination=destination,
    )
    _show(c, p, json_out)


@plan_app.command("approve")
def plan_approve_cmd(
    ctx: typer.Context,
    plan_id: PlanArg,
    comment: Annotated[str | None, typer.Option(help="Comment recorded with the approval.")] = None,
    role: Annotated[
        str | None, typer.Option(help="Approve in this role (when you hold several).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Approve a plan (never its author; at closing, with a transfer agreement in force)."""
    c = get(ctx)
    p = flows.approve_plan(c.stores(), actor=c.actor(), plan_id=plan_id, comment=comment, role=role)
    _show(c, p, json_out)


@plan_app.command("deny")
def plan_deny_cmd(
    ctx: typer.Context,
    plan_id: PlanArg,
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    json_out: JsonOpt = False,
) -> None:
    """Deny a plan for good (a holder of a required approver role)."""
    c = get(ctx)
    _show(c, flows.deny_plan(c.stores(), actor=c.actor(), plan_id=plan_id, reason=reason), json_out)


@plan_app.command("mechanism")
def plan_mechanism_cmd(
    ctx: typer.Context,
    plan_id: PlanArg,
    kind: Annotated[
        str,
        typer.Option(
            help="security_assessment, standard_contract, certification (PIPL art. 38), "
            "scc, adequacy or derogation (GDPR art. 45-49)."
        ),
    ],
    reference: Annotated[
        str, typer.Option(help="Where it is found: a filing number, the contract's date...")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Record the mechanism a plan's cross-border transfer rests on (counsel); the
    compliance gate's cross-border rules read it. Recording a kind again replaces its
    reference."""
    from dealvault.flows.crossborder import record_mechanism

    c = get(ctx)
    out = record_mechanism(
        c.stores(), actor=c.actor(), plan_id=plan_id, kind=kind, reference=reference
    )
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(
        f"plan #{out.plan}: {out.kind} recorded by {out.recorded_by} "
        f"(recorded now: {', '.join(out.recorded)})"
    )


@plan_app.command("show")
def plan_show_cmd(ctx: typer.Context, plan_id: PlanArg, json_out: JsonOpt = False) -> None:
    """A plan with its approvals and packages."""
    c = get(ctx)
    _show(c, flows.show_plan(c.stores(), actor=c.actor(), plan_id=plan_id), json_out)


@plan_app.command("list")
def plan_list_cmd(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="The deal.")],
    status: Annotated[str | None, typer.Option(help="pending, approved or denied.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Transfer plans, oldest first."""
    c = get(ctx)
    found = flows.list_plans(c.stores(), actor=c.actor(), deal=deal, status=status)
    if json_out:
        print_json(c.console, found)
        return
    c.console.print(
        table(
            "transfer plans",
            ["id", "deal", "dataset", "recipient", "categories", "status", "still needed"],
            [
                (
                    p.id,
                    p.deal,
                    p.dataset,
                    p.recipient,
                    ", ".join(p.categories),
                    p.status,
                    ", ".join(p.still_needed),
                )
                for p in found
            ],
        )
    )


# -- packages -----------------------------------------------------------------------------
@package_app.command("build")
def package_build_cmd(
    ctx: typer.Context,
    plan_id: PlanArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Package directory to create (or FILE.tar).")
    ],
    batch_rows: Annotated[
        int, typer.Option(help="Customers per batch (one Parquet row group each).")
    ] = BATCH_ROWS,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Processes decrypting customers (0: one per usable core; 1: none). "
            "Default: the workers setting.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Build, sign and record the package of an approved plan (seller steward, at closing).

    The records go age-encrypted to the plan's recipients; the manifest is signed with this
    store's audit key. Give the buyer the signer fingerprint printed here, out of band.
    """
    c = get(ctx)
    show_bar = not json_out and c.console.is_terminal
    with Progress(
        TextColumn("[bold]packaging"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("customers"),
        TimeRemainingColumn(),
        console=c.err,
        disable=not show_bar,
        transient=True,
    ) as bar:
        task = bar.add_task("build", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = package_flows.build_package(
            c.stores(),
            c.keyring(),
            actor=c.actor(),
            plan_id=plan_id,
            out=out,
            archive=out.suffix == ".tar",
            batch_rows=batch_rows,
            workers=c.settings.workers if workers is None else workers,
            settings=c.settings,
            progress=progress,
        )
    if json_out:
        print_json(c.console, result)
        return
    c.console.print(
        kv_table(
            f"transfer package {result.id} built",
            [
                ("path", result.path),
                ("recipient", result.recipient),
                ("customers", f"{result.customers:,}"),
                ("excluded", ", ".join(f"{k} {v:,}" for k, v in result.excluded.items())),
                ("size", f"{result.size_bytes:,} bytes"),
                ("Merkle root", result.merkle_root),
                ("manifest SHA-256", result.manifest_sha256),
                ("signer fingerprint", result.signer_fingerprint),
                ("canary list", f"{result.path}.canaries (hand over apart from the package)"),
            ],
        )
    )
    for table_name, n in result.child_rows_left_out.items():
        c.err.print(
            f"[yellow]note:[/yellow] {n:,} rows of table {table_name} are in the plan's "
            "categories but not in the package (format v1 carries the customers table only)"
        )


@package_app.command("canaries")
def package_canaries_cmd(
    ctx: typer.Context,
    package_id: Annotated[int, typer.Argument(help="Transfer package id (see package ledger).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (must not exist).")],
    json_out: JsonOpt = False,
) -> None:
    """Write a package's signed canary list again (seller steward), e.g. when the copy
    written beside the package is lost. Hand it to the buyer's steward apart from the
    package: it names the records `package receive` must leave out."""
    c = get(ctx)
    count = package_flows.reissue_canary_note(
        c.stores(), actor=c.actor(), package_id=package_id, out=out
    )
    if json_out:
        print_json(c.console, {"package": package_id, "path": str(out), "canaries": count})
        return
    c.console.print(f"canary list of package {package_id} ({count} records) written to {out}")


@package_app.command("ledger")
def package_ledger_cmd(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="The deal.")],
    json_out: JsonOpt = False,
) -> None:
    """The transfer ledger (GB/T 35273 §9.2): date, scale, purpose and recipient of each."""
    c = get(ctx)
    rows: list[LedgerEntry] = flows.ledger(c.stores(), actor=c.actor(), deal=deal)
    show_ledger(c, rows, title="transfer ledger", json_out=json_out)


def show_ledger(c: CliContext, rows: list[LedgerEntry], *, title: str, json_out: bool) -> None:
    if json_out:
        print_json(c.console, rows)
        return
    c.console.print(
        table(
            title,
            ["package", "date", "deal", "recipient", "customers", "bytes", "purpose", "by",
             "review"],
            [
                (r.id, _when(r.created_at), r.deal, r.recipient, f"{r.customers:,}",
                 f"{r.size_bytes:,}", r.purpose, r.created_by, r.review or "-")
                for r in rows
            ],
        )
    )  # fmt: skip


@package_app.command("review")
def package_review_cmd(
    ctx: typer.Context,
    package_id: Annotated[int, typer.Argument(help="Transfer package id (see package ledger).")],
    report: Annotated[
        Path,
        typer.Option(
            "--report",
            help="The buyer's reconciliation report (JSON from its package verify or receive "
            "--report-json).",
        ),
    ],
    outcome: Annotated[
        str | None,
        typer.Option(help="accepted or issues; default: accepted when nothing differs."),
    ] = None,
    notes: Annotated[str, typer.Option(help="The reviewer's remarks.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Review a transfer after the buyer's check (counsel, security officer or seller
    steward; not the package's builder): the buyer's report is compared with the ledger
    (manifest, Merkle root, counts, missing/extra/altered) and the outcome recorded."""
    c = get(ctx)
    got = review_flows.review_package(
        c.stores(),
        actor=c.actor(),
        package_id=package_id,
        report=report,
        outcome=outcome,
        notes=notes,
    )
    if json_out:
        print_json(c.console, got)
        return
    c.console.print(
        kv_table(
            f"transfer package {got.package}: review {got.outcome.upper()}",
            [
                ("reviewer", f"{got.reviewer} ({got.role})"),
                ("report sha256", got.report_sha256),
                ("findings", "; ".join(got.findings) or "none"),
                ("notes", got.notes or "-"),
            ],
        )
    )
