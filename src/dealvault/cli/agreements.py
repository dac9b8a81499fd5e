"""Commands: agreement (add, list, show, revoke, document; pending and accept in
cli/acceptance.py) and training (add, import, list)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dealvault.access.agreements import AgreementOut, SignerIn, SignerOut
from dealvault.access.training import TrainingOut
from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import Conflict, Invalid
from dealvault.files import check_output_file
from dealvault.flows import agreements as flows
from dealvault.flows.agreements import DocumentOut

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
IdArg = Annotated[int, typer.Argument(help="Agreement id.")]

agreement_app = typer.Typer(
    help="Agreements (NDA, clean team, transfer, DPA): scope, signers, dates, signed document.",
    no_args_is_help=True,
)
training_app = typer.Typer(
    help="Training records (e.g. confidentiality training): course, person, dates.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    from dealvault.cli.acceptance import add_commands

    add_commands(agreement_app)
    app.add_typer(agreement_app, name="agreement")
    app.add_typer(training_app, name="training")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{option} must be a date YYYY-MM-DD") from None


def _required_date(value: str, option: str) -> date:
    got = _date(value, option)
    assert got is not None
    return got


def _signer(text: str, i: int) -> SignerIn:
    """``EMAIL`` or ``EMAIL:YYYY-MM-DD`` (the day this person signed)."""
    email, sep, day = text.rpartition(":")
    if sep and "@" in email:
        return SignerIn(email=email, signed_on=_required_date(day, f"--signer {i} date"))
    return SignerIn(email=text)


# -- agreements --------------------------------------------------------------------------
def _status(value: str) -> str:
    return value.replace("_", " ")


def _agreements(rows: list[AgreementOut]) -> Table:
    return table(
        "agreements",
        ["id", "deal", "organisation", "kind", "title", "effective", "expires", "status"],
        [
            (a.id, a.deal, a.organization, a.kind, a.title, a.effective, a.expires or "open",
             _status(a.status))
            for a in rows
        ],
    )  # fmt: skip


def _show(ctx: typer.Context, a: AgreementOut, json_out: bool) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, a)
        return
    items: list[tuple[str, object]] = [
        ("deal", a.deal),
        ("organisation", a.organization),
        ("kind", a.kind),
        ("title", a.title),
        ("datasets", ", ".join(a.datasets)),
        ("categories", ", ".join(a.categories)),
        ("effective", a.effective),
        ("expires", a.expires or "open-ended"),
        ("status", _status(a.status)),
        ("parties sign", "online (click-through)" if a.acceptance == "click" else "offline"),
        ("document", a.document_name or "none"),
        ("document SHA-256", a.document_sha256),
        ("created", f"{a.created_at:%Y-%m-%d %H:%M} by {a.created_by or '?'}"),
    ]
    if a.revoked_at is not None:
        items.append(("revoked", f"{a.revoked_at:%Y-%m-%d %H:%M:%S} by {a.revoked_by or '?'}"))
        items.append(("revocation reason", a.revoke_reason))
    c.console.print(kv_table(f"agreement #{a.id}", items))
    if a.signers:
        c.console.print(
            table(
                "signers",
                ["person", "signed on", "how"],
                [(s.person, s.signed_on, _how(s)) for s in a.signers],
            )
        )


def _how(s: SignerOut) -> str:
    if s.method != "click" or s.accepted_at is None:
        return "offline (registered)"
    return (
        f"click-through at {s.accepted_at:%Y-%m-%d %H:%M:%S} UTC from {s.client or 'the local CLI'}"
    )


@agreement_app.command("add")
def agreement_add(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="Deal code.")],
    org: Annotated[str, typer.Option("--org", help="Organisation bound by the agreement.")],
    kind: Annotated[str, typer.Option(help="nda, clean_team, transfer or dpa.")],
    title: Annotated[str, typer.Option(help="Title of the agreement.")],
    effective: Annotated[str, typer.Option(help="First day in force, YYYY-MM-DD.")],
    expires: Annotated[
        str | None, typer.Option(help="Last day in force, YYYY-MM-DD (default: open-ended).")
    ] = None,
    dataset: Annotated[
        list[str] | None, typer.Option(help="Dataset covered (repeatable; default: all).")
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(
            help="Data category covered (repeatable; identity, contact, transaction, "
            "preference, sensitive, free_text; default: all)."
        ),
    ] = None,
    signer: Annotated[
        list[str] | None,
        typer.Option(
            help="Individual signer EMAIL or EMAIL:YYYY-MM-DD (repeatable; required for a "
            "signed clean_team; none for click; default signing day: --effective)."
        ),
    ] = None,
    document: Annotated[
        Path | None, typer.Option(help="Signed document to attach (stored encrypted).")
    ] = None,
    acceptance: Annotated[
        str,
        typer.Option(
            help="How its parties sign: signed (offline, with --signer) or click (each "
            "member accepts the --document online)."
        ),
    ] = "signed",
    json_out: JsonOpt = False,
) -> None:
    """Register an agreement (seller stewards only)."""
    c = get(ctx)
    a = flows.add_agreement(
        c.stores(),
        c.keyring() if document is not None else None,
        actor=c.actor(),
        deal=deal,
        organization=org,
        kind=kind,
        title=title,
        effective=_required_date(effective, "--effective"),
        expires=_date(expires, "--expires"),
        datasets=dataset or [],
        categories=category or [],
        signers=[_signer(s, i) for i, s in enumerate(signer or [], start=1)],
        document=document,
        acceptance=acceptance,
    )
    _show(ctx, a, json_out)


@agreement_app.command("list")
def agreement_list(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="The deal.")],
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation.")] = None,
    in_force: Annotated[bool, typer.Option("--in-force", help="Only those in force now.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List agreements (metadata only)."""
    c = get(ctx)
    rows = flows.list_agreements(
        c.stores(), actor=c.actor(), deal=deal, organization=org, in_force=in_force
    )
    print_json(c.console, rows) if json_out else c.console.print(_agreements(rows))


@agreement_app.command("show")
def agreement_show(ctx: typer.Context, agreement_id: IdArg, json_out: JsonOpt = False) -> None:
    """Show an agreement: scope, signers, dates, status and document hash (never the document)."""
    _show(
        ctx,
        flows.show_agreement(get(ctx).stores(), actor=get(ctx).actor(), agreement_id=agreement_id),
        json_out,
    )


@agreement_app.command("revoke")
def agreement_revoke(
    ctx: typer.Context,
    agreement_id: IdArg,
    reason: Annotated[str, typer.Option(help="Why, for the record.")],
    json_out: JsonOpt = False,
) -> None:
    """Revoke an agreement with immediate effect (seller stewards only)."""
    c = get(ctx)
    a = flows.revoke_agreement(
        c.stores(), actor=c.actor(), agreement_id=agreement_id, reason=reason
    )
    _show(ctx, a, json_out)


@agreement_app.command("document")
def agreement_document(
    ctx: typer.Context,
    agreement_id: IdArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write the document to.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Decrypt the signed document to a file, after checking its SHA-256.

    Signed in to a server (dealvault login): the document of your organisation's
    click-through agreement, the one you are asked to accept."""
    c = get(ctx)
    remote = c.remote()
    if remote is not None:
        target = check_output_file(out, what="document")
        if target.exists() and not force:
            raise Conflict(f"{target.name}: file exists (pass --force to overwrite)")
        size, digest = remote.agreement_document(agreement_id, out=target)
        got = DocumentOut(agreement=agreement_id, file=str(target), bytes=size, sha256=digest)
        print_json(c.console, got) if json_out else c.console.print(
            f"wrote {got.file} ({got.bytes} bytes, SHA-256 {got.sha256} checked)"
        )
        return
    got = flows.export_document(
        c.stores(),
        c.keyring(),
        actor=c.actor(),
        agreement_id=agreement_id,
        out=out,
        overwrite=force,
    )
    if json_out:
        print_json(c.console, got)
    else:
        c.console.print(f"wrote {got.file} ({got.bytes} bytes, SHA-256 {got.sha256} checked)")


# -- training ----------------------------------------------------------------------------
def _training(rows: list[TrainingOut]) -> Table:
    return table(
        "training records",
        ["id", "person", "organisation", "course", "completed", "expires", "valid now", "source"],
        [
            (t.id, t.person, t.organization, t.course, t.completed, t.expires or "never",
             "yes" if t.valid_now else "no", t.source)
            for t in rows
        ],
    )  # fmt: skip


@training_app.command("add")
def training_add(
    ctx: typer.Context,
    person: Annotated[str, typer.Option(help="E-mail of the person trained.")],
    course: Annotated[str, typer.Option(help="Course, e.g. confidentiality.")],
    completed: Annotated[str, typer.Option(help="Day completed, YYYY-MM-DD.")],
    expires: Annotated[
        str | None, typer.Option(help="Last day it counts, YYYY-MM-DD (default: never).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a completed course (seller stewards only)."""
    c = get(ctx)
    t = flows.add_training(
        c.stores(),
        actor=c.actor(),
        email=person,
        course=course,
        completed=_required_date(completed, "--completed"),
        expires=_date(expires, "--expires"),
    )
    print_json(c.console, t) if json_out else c.console.print(_training([t]))


@training_app.command("import")
def training_import(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="UTF-8 CSV with header email,course,completed,expires.")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Import training records from CSV: all rows or none; repeated records are skipped."""
    c = get(ctx)
    got = flows.import_training(c.stores(), actor=c.actor(), path=file)
    if json_out:
        print_json(c.console, got)
    else:
        c.console.print(
            f"{got.file}: {got.rows} rows, {got.imported} imported, "
            f"{got.skipped} skipped (already on record)"
        )


@training_app.command("list")
def training_list(
    ctx: typer.Context,
    person: Annotated[str | None, typer.Option(help="Only this person (e-mail).")] = None,
    course: Annotated[str | None, typer.Option(help="Only this course.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List training records and whether each counts today."""
    c = get(ctx)
    rows = flows.list_training(c.stores(), actor=c.actor(), person=person, course=course)
    print_json(c.console, rows) if json_out else c.console.print(_training(rows))
