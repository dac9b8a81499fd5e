"""Commands: trace a leaked file; certificate issue, verify, list (destruction certificates)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import InputError, Invalid
from dealvault.files import check_output_file, read_text_file, write_private
from dealvault.flows import closing as flows
from dealvault.flows import leaks
from dealvault.flows.closing import CertificateOut

certificate_app = typer.Typer(
    help="Destruction certificates: signed notes saying what was destroyed, how, when, by whom.",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DealOpt = Annotated[str, typer.Option("--deal", help="Deal code.")]


def register(app: typer.Typer) -> None:
    app.command("trace")(trace_cmd)
    app.add_typer(certificate_app, name="certificate")


def trace_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The leaked file: CSV, XLSX or Parquet.")],
    deal: Annotated[
        str | None, typer.Option("--deal", help="Deal code (default: every deal you may trace).")
    ] = None,
    purpose: Annotated[str, typer.Option(help="Why (recorded).")] = "leak investigation",
    json_out: JsonOpt = False,
) -> None:
    """Name the recipient of a leaked file from its canary customers and tokens."""
    c = get(ctx)
    out = leaks.trace_file(
        c.stores(), c.keyring(), actor=c.actor(), path=file, deal=deal, purpose=purpose
    )
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(
        kv_table(
            f"trace of {out.file}",
            [
                ("verdict", out.verdict),
                ("confidence", out.confidence),
                ("format", out.format),
                ("sha256", out.sha256),
                ("rows, columns", f"{out.rows}, {out.columns}"),
                ("tokens seen", out.tokens_seen),
                ("recipient named in the file", out.declared_recipient or "-"),
            ],
        )
    )
    if out.evidence:
        cols = ["recipient", "canaries found/planted", "e-mail", "phone", "ID", "name+birth",
                "token", "masked", "tokens", "customers"]  # fmt: skip
        rows = [
            [
                e.recipient,
                f"{e.canaries_found}/{e.canaries_planted}",
                e.by_email,
                e.by_phone,
                e.by_id_number,
                e.by_name_birth,
                e.by_token,
                e.by_masked,
                e.tokens_resolved,
                e.customers_exposed,
            ]
            for e in out.evidence
        ]
        c.console.print(table("evidence", cols, rows))
    for note in out.notes:
        c.console.print(f"note: {note}")


def _show(ctx: typer.Context, cert: CertificateOut, title: str) -> None:
    items: list[tuple[str, object]] = [
        ("certificate", cert.id),
        ("deal", cert.deal),
        ("organisation", cert.organisation),
        ("party", cert.party),
        ("datasets", ", ".join(cert.datasets) or "-"),
        ("customers", cert.customers),
        ("subjects", cert.subjects),
        ("method", cert.method),
        ("time", cert.time),
        ("by", cert.by),
    ]
    for key in ("keys_destroyed", "disclosures", "packages", "reason"):
        if getattr(cert, key) is not None:
            items.append((key.replace("_", " "), getattr(cert, key)))
    items.append(("sha256", cert.sha256))
    get(ctx).console.print(kv_table(title, items))


@certificate_app.command("issue")
def issue_cmd(
    ctx: typer.Context,
    deal: DealOpt = ...,  # type: ignore[assignment]
    organisation: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="Whose copy went (default: the seller's, crypto-shredded now, after closing).",
        ),
    ] = None,
    dataset: Annotated[
        list[str] | None, typer.Option(help="Seller: dataset to destroy (repeat; default: all).")
    ] = None,
    subject: Annotated[
        list[str] | None, typer.Option(help="Seller: destroy only these customers (repeat).")
    ] = None,
    subjects_file: Annotated[
        Path | None, typer.Option(help="Seller: file of subject ids to destroy, one a line.")
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(help="Recipient: returned, deleted or crypto-erase (seller: crypto-erase)."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (e.g. closing, lost the bid).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the signed note here.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Destroy and certify: the seller's copy after closing (crypto-shred), or record a losing
    bidder's or terminated deal's return or deletion."""
    c = get(ctx)
    subjects = list(subject or [])
    if subjects_file is not None:
        lines = read_text_file(subjects_file).splitlines()
        listed = [s.strip() for s in lines if s.strip()]
        if not listed:  # never "every customer" by an empty file
            raise InputError("names no subject ids", file=subjects_file.name)
        subjects += listed
    if out is not None:  # before anything is destroyed
        check_output_file(out, what="certificate file")
    if organisation is None and not yes and c.console.is_terminal:
        what = ", ".join(dataset or []) or "every transferred dataset"
        scope = f"{len(subjects)} customers of {what}" if subjects else what
        typer.confirm(f"Crypto-shred the seller's copy of {scope} in {deal}? This cannot be undone",
                      abort=True)  # fmt: skip
    if subjects and organisation is not None:
        raise Invalid("--subject and --subjects-file are for the seller's own copy")
    cert = flows.issue_certificate(
        c.stores(),
        c.keyring(),
        actor=c.actor(),
        deal=deal,
        organisation=organisation,
        datasets=dataset or [],
        subject_ids=subjects or None,
        method=method,
        reason=reason,
    )
    if out is not None:
        write_private(out, cert.note)
    if json_out:
        print_json(c.console, cert)
        return
    _show(ctx, cert, "destruction certificate")
    c.console.print(cert.note, markup=False, highlight=False, end="")
    c.console.print(f"verifier key: {cert.verifier_key}", markup=False, highlight=False)


@certificate_app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A certificate note file, or its number.")],
    key: Annotated[
        list[str] | None,
        typer.Option(help="Verifier key of the issuing store (repeat); default: this store's."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a certificate's signature, its copy in the store and its audit event."""
    c = get(ctx)
    res = flows.verify_certificate(c.stores(), source=source, actor=c.actor(), keys=key or [])
    if json_out:
        print_json(c.console, res)
        return
    _show(ctx, res.certificate, "certificate verified")
    c.console.print(
        kv_table(
            "checks",
            [
                ("signature", f"good, by {res.signed_by} (key {res.key_id})"),
                ("in this store", "yes, identical" if res.in_store else "no"),
                ("audit event", res.audit_event if res.audit_event is not None else "-"),
                ("unknown signers", ", ".join(res.unknown_signers) or "-"),
            ],
        )
    )


@certificate_app.command("list")
def list_cmd(ctx: typer.Context, deal: DealOpt = ..., json_out: JsonOpt = False) -> None:  # type: ignore[assignment]
    """The destruction certificates of a deal."""
    c = get(ctx)
    certs = flows.list_certificates(c.stores(), actor=c.actor(), deal=deal)
    if json_out:
        print_json(c.console, certs)
        return
    rows = [
        [x.id, x.organisation, x.party, ", ".join(x.datasets), x.customers, x.method, x.time, x.by]
        for x in certs
    ]
    cols = ["#", "organisation", "party", "datasets", "customers", "method", "time", "by"]
    c.console.print(table(f"destruction certificates of {deal}", cols, rows))
