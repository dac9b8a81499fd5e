"""Commands: package verify and package receive, the buyer's side on its own store (the
buyer's age identity never leaves this machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyrage
import typer

from dealvault.cli.context import CliContext, get
from dealvault.cli.output import import_progress, kv_table, print_json
from dealvault.cli.transfer import (
    IdentityOpt,
    JsonOpt,
    ReportHtmlOpt,
    ReportJsonOpt,
    VerifierOpt,
)
from dealvault.errors import Invalid
from dealvault.files import check_output_file, refuse_if_wide
from dealvault.flows import receiving
from dealvault.transfer.package import parse_identities
from dealvault.transfer.reconcile_report import Reconciliation


def add_commands(package_app: typer.Typer) -> None:
    package_app.command("verify")(package_verify_cmd)
    package_app.command("receive")(package_receive_cmd)


def _identities(path: Path) -> list[pyrage.x25519.Identity]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        raise Invalid(f"cannot read the identity file {path}") from None
    identities = parse_identities(text, source=path.name)
    refuse_if_wide(path, what="identity file")
    return identities


def _check_reports(*paths: Path | None) -> None:
    for path in paths:
        if path is not None:
            check_output_file(path, what="report")


def _report(c: CliContext, r: Reconciliation, json_out: bool) -> None:
    if json_out:
        print_json(c.console, r)
        return
    c.console.print(
        kv_table(
            f"package {r.package}: {'VERIFIED' if r.ok else 'FAILED'}",
            [
                ("deal / seller", f"{r.deal} / {r.seller}"),
                ("recipient", r.recipient),
                (
                    "signature",
                    ("valid" if r.signature.ok else "NOT VALID")
                    + ("" if r.signature.pinned else " (key named by the package)"),
                ),
                ("signer", r.signature.signer),
                ("signer fingerprint", r.signature.fingerprint),
                ("records expected / received", f"{r.records.expected} / {r.records.received}"),
                (
                    "of which canary records / customers",
                    f"{r.records.canaries} / {r.records.customers}",
                ),
                (
                    "missing / extra / altered",
                    f"{r.records.missing} / {r.records.extra} / {r.records.altered}",
                ),
                ("Merkle root", r.records.merkle_root_received),
            ],
        )
    )
    for w in r.warnings:
        c.err.print(f"[yellow]warning:[/yellow] {w}")
    for p in r.problems:
        c.err.print(f"[red]problem:[/red] {p}")


def package_verify_cmd(
    ctx: typer.Context,
    package: Annotated[Path, typer.Argument(help="Package directory or .tar.")],
    identity: IdentityOpt,
    verifier_key: VerifierOpt = None,
    report_json: ReportJsonOpt = None,
    report_html: ReportHtmlOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the signature, decrypt, recompute the Merkle root, counts and schema, and write
    the reconciliation report. Exit code 6 when the package fails."""
    c = get(ctx)
    _check_reports(report_json, report_html)
    report = receiving.verify(
        c.stores(),
        actor=c.actor(),
        package=package,
        identities=_identities(identity),
        verifier_key=verifier_key,
        json_report=report_json,
        html_report=report_html,
    )
    _report(c, report, json_out)
    if not report.ok:
        raise typer.Exit(6)


def package_receive_cmd(
    ctx: typer.Context,
    package: Annotated[Path, typer.Argument(help="Package directory or .tar.")],
    identity: IdentityOpt,
    deal: Annotated[str, typer.Option(help="Deal of this store to import into.")],
    dataset: Annotated[str, typer.Option(help="Dataset to import into.")],
    verifier_key: VerifierOpt = None,
    report_json: ReportJsonOpt = None,
    report_html: ReportHtmlOpt = None,
    canaries: Annotated[
        Path | None,
        typer.Option(
            help="The seller's signed canary list (PACKAGE.canaries, handed over apart from "
            "the package); needed when the package holds canary records.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify a package, then import its records into this store under its own keys.

    The seller's canary customers are left out, by the seller's signed list (--canaries).
    """
    c = get(ctx)
    _check_reports(report_json, report_html)
    show_bar = not json_out and c.console.is_terminal
    with import_progress(c.err, show=show_bar, task="receive") as progress:
        result = receiving.receive(
            c.stores(),
            c.keyring(),
            actor=c.actor(),
            deal=deal,
            dataset=dataset,
            package=package,
            identities=_identities(identity),
            verifier_key=verifier_key,
            rejects_dir=c.settings.rejects_dir,
            canaries=canaries,
            work_dir=c.settings.home,
            json_report=report_json,
            html_report=report_html,
            progress=progress,
        )
    if json_out:
        print_json(c.console, result)
        return
    _report(c, result.report, False)
    s = result.imported
    c.console.print(
        kv_table(
            f"import #{s.import_id} committed",
            [
                ("dataset / table", f"{s.dataset} / {s.table}"),
                ("rows read", f"{s.rows_read:,}"),
                ("imported", f"{s.rows_imported:,}"),
                ("merged duplicates", f"{s.rows_merged:,}"),
                ("rejected", f"{s.rows_rejected:,}"),
                ("canaries left out", f"{result.canaries_removed:,}"),
            ],
        )
    )
