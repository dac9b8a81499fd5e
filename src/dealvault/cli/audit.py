"""Commands: audit verify, prove, export, verify-bundle, log, checkpoint, cosign, cosigner-key
(and the signing key's commands in ``audit key``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dealvault.audit import pinning
from dealvault.audit.note import SIG_COSIGNATURE_V1, generate_signer
from dealvault.audit.signing_key import read_signer_key
from dealvault.audit.store import LogFilter
from dealvault.audit.verify import Anchors
from dealvault.cli.audit_keys import key_app
from dealvault.cli.context import CliContext, get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import IntegrityError, Invalid
from dealvault.files import check_output_dir, check_output_file, open_private
from dealvault.flows import auditing as flows
from dealvault.flows import deal_audit as deal_flows
from dealvault.flows.auditing import VerifyOut
from dealvault.flows.deal_audit import write_proof

if TYPE_CHECKING:
    from dealvault.remote import Remote

audit_app = typer.Typer(
    help="The tamper-evident audit log (RFC 9162 Merkle tree, C2SP checkpoints and proofs).",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def register(app: typer.Typer) -> None:
    audit_app.add_typer(key_app, name="key")
    app.add_typer(audit_app, name="audit")


def _show(ctx: typer.Context, out: VerifyOut, json_out: bool) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, out)
    else:
        rows: list[tuple[str, object]] = [
            ("result", "OK" if out.ok else "FAILED"),
            ("events", out.events),
            ("root", out.root),
            ("checkpoints checked", len(out.checkpoints)),
            ("events covered by a valid checkpoint", out.covered),
            ("log key", "pinned" if out.pinned_key else "as the log names it (not pinned)"),
        ]
        if out.witnessed is not None:
            rows.append(("events covered by a witnessed checkpoint", out.witnessed))
        rows.append(("first bad event", out.first_bad))
        c.console.print(kv_table("audit log verification", rows))
        if out.trust != "pinned-key":
            c.err.print(f"[yellow]note:[/yellow] {out.trust_note}")
        for p in out.problems:
            c.err.print(f"[red]problem:[/red] {p}")
    if not out.ok:
        raise IntegrityError(
            f"audit log verification failed at event {out.first_bad}: {out.problems[0]}"
        )


VerifierKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--verifier-key",
        help="The log's verifier key (C2SP vkey), pinned outside the database; default "
        "DEALVAULT_AUDIT_VERIFIER_KEY. A log re-signed under another key then fails.",
    ),
]
VerifierKeyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--verifier-key-file",
        help="A file holding the pinned verifier key; default DEALVAULT_AUDIT_VERIFIER_KEY_FILE.",
    ),
]
WitnessOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--witness",
        help="A witness's cosigner key (type 0x04); its cosignature is then required "
        "(repeatable: every witness given).",
    ),
]
WitnessSinceOpt = Annotated[
    datetime | None,
    typer.Option(
        "--witness-since",
        help="Only events stamped at or after this time (UTC) must be witnessed; default all.",
    ),
]
KnownCheckpointOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--known-checkpoint",
        help="A checkpoint note kept outside the log (a witness's copy, an earlier export); "
        "the log must contain it, so a cut tail is found (repeatable).",
    ),
]


def _anchors(
    ctx: typer.Context,
    key: str | None,
    key_file: Path | None,
    witnesses: list[str] | None,
    since: datetime | None,
    known: list[Path] | None,
) -> Anchors:
    settings = get(ctx).settings
    if key is None and key_file is None:
        key, key_file = settings.audit_verifier_key, settings.audit_verifier_key_file
    return pinning.anchors(
        verifier_key=key,
        verifier_key_file=key_file,
        witnesses=witnesses or [],
        witness_since=since,
        known_checkpoints=known or [],
    )


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    verifier_key: VerifierKeyOpt = None,
    verifier_key_file: VerifierKeyFileOpt = None,
    witness: WitnessOpt = None,
    witness_since: WitnessSinceOpt = None,
    known_checkpoint: KnownCheckpointOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recompute every leaf, the tree and every checkpoint with its signatures; check the
    searchable columns and subject lists against the signed events."""
    anchors = _anchors(
        ctx, verifier_key, verifier_key_file, witness, witness_since, known_checkpoint
    )
    _show(ctx, flows.verify(get(ctx).stores(), actor=get(ctx).actor(), anchors=anchors), json_out)


@audit_app.command("verify-bundle")
def verify_bundle(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(help="Directory written by 'audit export'.")],
    verifier_key: VerifierKeyOpt = None,
    verifier_key_file: VerifierKeyFileOpt = None,
    witness: WitnessOpt = None,
    witness_since: WitnessSinceOpt = None,
    known_checkpoint: KnownCheckpointOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify an exported bundle with no database at all."""
    anchors = _anchors(
        ctx, verifier_key, verifier_key_file, witness, witness_since, known_checkpoint
    )
    _show(ctx, flows.verify_bundle(path=bundle, anchors=anchors), json_out)


DealScopeOpt = Annotated[
    str | None,
    typer.Option(
        "--deal",
        help="Only this deal's part of the log (its auditor, counsel and stewards may have "
        "it); required through the server.",
    ),
]


def _deal_via_server(c: CliContext, deal: str | None) -> Remote | None:
    """The server to ask (signed in with ``dealvault login``): it needs the deal."""
    remote = c.remote()
    if remote is not None and deal is None:
        raise Invalid("through the server, give --deal")
    return remote


@audit_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="New (or empty) directory for the bundle.")],
    deal: DealScopeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write an offline bundle: events, subjects, checkpoints, keys (see docs/audit-bundle.md)."""
    c = get(ctx)
    check_output_dir(out, what="bundle directory")
    remote = _deal_via_server(c, deal)
    if remote is not None and deal is not None:
        manifest = remote.audit_export(deal=deal, out_dir=out)
    elif deal is not None:
        manifest = deal_flows.export_deal(c.stores(), actor=c.actor(), deal=deal, out_dir=out)
    else:
        manifest = flows.export(c.stores(), out_dir=out, actor=c.actor())
    print_json(c.console, manifest) if json_out else c.console.print(
        kv_table(f"bundle written to {out}", list(manifest.items()))
    )


@audit_app.command("prove")
def prove(
    ctx: typer.Context,
    event: Annotated[int, typer.Argument(help="Event sequence number.")],
    out: Annotated[
        Path | None, typer.Option(help="Proof file (default event-N.tlog-proof).")
    ] = None,
    deal: DealScopeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a C2SP tlog-proof that an event is in the log (and the event next to it)."""
    c = get(ctx)
    target = check_output_file(out or Path(f"event-{event}.tlog-proof"), what="proof file")
    remote = _deal_via_server(c, deal)
    if remote is not None and deal is not None:
        proof, body = remote.audit_proof(deal=deal, seq=event)
        result = write_proof(out=target, proof=proof, event=body, index=event)
    elif deal is not None:
        got = deal_flows.prove_event(c.stores(), actor=c.actor(), deal=deal, seq=event)
        result = write_proof(
            out=target, proof=got.proof.encode(), event=got.event.encode(), index=event
        )
    else:
        result = flows.prove(c.stores(), seq=event, out=target, actor=c.actor())
    print_json(c.console, result) if json_out else c.console.print(
        kv_table("proof written", list(result.items()))
    )


@audit_app.command("log")
def log(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="Only this actor (e-mail).")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. disclose.")] = None,
    deal: Annotated[str | None, typer.Option(help="Only this deal.")] = None,
    since: Annotated[datetime | None, typer.Option(help="From this time (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time (UTC).")] = None,
    subject: Annotated[
        str | None, typer.Option(help="Only events touching this subject id.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 1000,
    json_out: JsonOpt = False,
) -> None:
    """List audit events with filters."""
    from datetime import UTC

    def utc(d: datetime | None) -> datetime | None:
        return None if d is None else (d if d.tzinfo else d.replace(tzinfo=UTC))

    c = get(ctx)
    remote = c.remote()
    if remote is not None:
        if deal is None or actor or until or subject:
            raise Invalid("through the server, give --deal (and only --action, --limit)")
        events = remote.audit_log(deal=deal, action=action, limit=limit)
    else:
        events = flows.log(
        c.stores(),
        actor=c.actor(),
        flt=LogFilter(
            actor=actor,
            action=action,
            deal=deal,
            since=utc(since),
            until=utc(until),
            subject=subject,
            limit=limit,
        ),
    )  # fmt: skip
    if json_out:
        print_json(c.console, events)
        return
    c.console.print(
        table(
            "audit events",
            ["seq", "at", "actor", "signed in by", "action", "deal", "decision", "customers"],
            [
                (
                    e["seq"],
                    e["at"],
                    e["actor"],
                    e.get("authn", ""),
                    e["action"],
                    e["deal"],
                    e["decision"],
                    (e.get("subjects") or {}).get("count", ""),
                )
                for e in events
            ],
        )
    )


@audit_app.command("report")
def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="report.html or report.pdf (PDF via WeasyPrint).")],
    deal: Annotated[str | None, typer.Option(help="Only this deal's events.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The auditor's report: accesses by organisation, person, category and stage; denials;
    verification result; checkpoint history."""
    c = get(ctx)
    check_output_file(out, what="report")
    remote = _deal_via_server(c, deal)
    res: dict[str, object]
    if remote is not None and deal is not None:
        fmt = "pdf" if out.suffix.lower() == ".pdf" else "html"
        remote.audit_report(deal=deal, fmt=fmt, out=out)
        res = {"report": str(out)}
    else:
        res = flows.report(c.stores(), out=out, deal=deal, actor=c.actor())
    print_json(c.console, res) if json_out else c.console.print(
        kv_table("report written", list(res.items()))
    )


@audit_app.command("checkpoint")
def checkpoint(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Sign a checkpoint of the log now."""
    c = get(ctx)
    cp = flows.checkpoint(c.stores(), actor=c.actor())
    print_json(c.console, cp) if json_out else c.console.print(str(cp["note"]))


@audit_app.command("cosigner-key")
def cosigner_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Cosigner name, e.g. bidder-a.example/witness.")],
    out: Annotated[Path, typer.Option(help="Where to write the private key (mode 0600).")],
) -> None:
    """Make a cosigner key pair (C2SP tlog-cosignature/v1); prints the public key."""
    check_output_file(out, what="key file", replace=False)
    skey, vkey = generate_signer(name, sig_type=SIG_COSIGNATURE_V1)
    with open_private(out, "w", exclusive=True, encoding="ascii") as fh:
        fh.write(skey + "\n")
    get(ctx).console.print(vkey)


@audit_app.command("cosign")
def cosign(
    ctx: typer.Context,
    key_file: Annotated[Path, typer.Option("--key", help="Cosigner private key file.")],
    checkpoint_id: Annotated[
        int | None, typer.Option("--checkpoint", help="Default: latest.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Countersign a checkpoint as another party (e.g. a bidder)."""
    c = get(ctx)
    key = read_signer_key(key_file, what="cosigner key file")
    res = flows.cosign(
        c.stores(),
        cosigner_key=key,
        checkpoint_id=checkpoint_id,
        actor=c.actor(),
    )
    print_json(c.console, res) if json_out else c.console.print(
        kv_table("cosigned", list(res.items()))
    )
