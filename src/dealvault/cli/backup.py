"""Commands: backup create, verify, restore, list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from dealvault.cli.context import CliContext, get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import Invalid
from dealvault.files import check_output_dir
from dealvault.flows import backups as flows
from dealvault.flows.backups import MemberOut
from dealvault.transfer import backup as bk
from dealvault.transfer.backup_db import Progress as Report

backup_app = typer.Typer(
    help="Encrypted backups of both stores (records and keys), verified, with restore drills.",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
IdentityOpt = Annotated[
    str | None,
    typer.Option(
        "--identity",
        envvar="DEALVAULT_BACKUP_IDENTITY",
        help="age identity file (AGE-SECRET-KEY-1...); the variable may hold the key itself.",
    ),
]
FileArg = Annotated[Path, typer.Argument(help="The backup file (.tar.age).")]


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")


def _identity(value: str | None) -> Any | None:
    return bk.load_identity(value) if value else None


@contextmanager
def _progress(c: CliContext, quiet: bool) -> Iterator[Report]:
    """A Rich bar that follows the stages (snapshot, hash, encrypt, decrypt, check, restore)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=c.err,
        disable=quiet or not c.console.is_terminal,
        transient=True,
    ) as bar:
        task = bar.add_task("backup", total=None)

        def report(stage: str, done: int, total: int | None) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        yield report


def _members_table(members: list[MemberOut]) -> Any:
    return table(
        "members",
        ["store", "member", "source", "bytes", "sha256", "schema revision"],
        [
            (m.store, m.member, m.source, m.size, m.sha256[:16] + "…", m.alembic_revision)
            for m in members
        ],
    )


@backup_app.command("create")
def create(
    ctx: typer.Context,
    recipient: Annotated[
        list[str] | None,
        typer.Option(
            "--recipient",
            envvar="DEALVAULT_BACKUP_RECIPIENTS",
            help="age X25519 recipient (age1...); repeat for more. The variable: comma-separated.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory for the file (default HOME/backups).")
    ] = None,
    identity: IdentityOpt = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the audit log).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Snapshot both stores into one age-encrypted file, record it and verify it.

    With --identity the new file is decrypted and every member checked; without, only the
    hash of what was written is re-read (run 'backup verify --identity' later).
    """
    c = get(ctx)
    recipients = [r.strip() for item in recipient or [] for r in item.split(",") if r.strip()]
    if not recipients:
        raise Invalid("give --recipient age1... (or set DEALVAULT_BACKUP_RECIPIENTS)")
    if out is not None:
        check_output_dir(out, what="backup directory")
    ident = _identity(identity)
    with _progress(c, json_out) as report:
        result = flows.create_backup(
            c.stores(),
            actor=c.actor(),
            out_dir=out if out is not None else c.settings.home / "backups",
            recipients=recipients,
            identity=ident,
            reason=reason,
            progress=report,
        )
    if json_out:
        print_json(c.console, result)
        return
    c.console.print(
        kv_table(
            f"backup #{result.id} written",
            [
                ("file", result.path),
                ("backend", result.backend),
                ("bytes", result.size_bytes),
                ("sha256", result.sha256),
                ("recipients", len(result.recipients)),
                ("verified", result.checked),
            ],
        )
    )
    if result.warning:
        c.err.print(f"[yellow]warning:[/yellow] {result.warning}")


@backup_app.command("verify")
def verify(
    ctx: typer.Context,
    file: FileArg,
    identity: IdentityOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a backup: its recorded SHA-256; with --identity, every member and each database."""
    c = get(ctx)
    ident = _identity(identity)
    with _progress(c, json_out) as report:
        result = flows.verify_backup(
            c.stores(), path=file, identity=ident, actor=c.actor(), progress=report
        )
    if json_out:
        print_json(c.console, result)
        return
    c.console.print(
        kv_table(
            "backup verified",
            [
                ("file", result.path),
                ("backup", f"#{result.backup_id}" if result.backup_id else "not recorded here"),
                ("level", result.level),
                ("sha256", result.sha256),
                ("taken", result.created_at),
            ],
        )
    )
    if result.members:
        c.console.print(_members_table(result.members))
    if result.warning:
        c.err.print(f"[yellow]warning:[/yellow] {result.warning}")


@backup_app.command("restore")
def restore(
    ctx: typer.Context,
    file: FileArg,
    identity: IdentityOpt = None,
    to: Annotated[
        Path | None,
        typer.Option("--to", help="SQLite: new directory for vault.sqlite and keystore.sqlite."),
    ] = None,
    records_url: Annotated[
        str | None, typer.Option("--records-url", help="PostgreSQL: an empty database (records).")
    ] = None,
    keystore_url: Annotated[
        str | None, typer.Option("--keystore-url", help="PostgreSQL: an empty database (keys).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Restore into a new place (never over existing data), then check and count it.

    The restored key store holds keys wrapped by the master key: open it with the same one.
    """
    c = get(ctx)
    ident = _identity(identity)
    if ident is None:
        raise Invalid("restoring needs the age identity: --identity FILE")
    if to is not None:
        check_output_dir(to, what="restore directory")
    with _progress(c, json_out) as report:
        result = flows.restore_backup(
            c.stores(),
            actor=c.actor(),
            path=file,
            identity=ident,
            to_dir=to,
            records_url=records_url,
            keystore_url=keystore_url,
            progress=report,
        )
    if json_out:
        print_json(c.console, result)
        return
    counts = ", ".join(f"{k} {v}" for k, v in result.customers.items()) or "none"
    c.console.print(
        kv_table(
            "backup restored",
            [
                ("from", result.backup),
                ("taken", result.created_at),
                ("into", result.target),
                ("records schema", result.revisions["records"]),
                ("key store schema", result.revisions["keystore"]),
                ("customers", counts),
            ],
        )
    )
    if result.needs_upgrade:
        c.err.print(
            "[yellow]warning:[/yellow] the restored schema is older than this version's; "
            "opening it with dealvault migrates it"
        )


@backup_app.command("list")
def list_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The backups recorded in this store."""
    c = get(ctx)
    rows = flows.list_backups(c.stores(), actor=c.actor())
    if json_out:
        print_json(c.console, rows)
        return
    c.console.print(
        table(
            "backups",
            ["#", "taken", "by", "backend", "bytes", "verified", "file"],
            [
                (
                    b.id,
                    f"{b.created_at:%Y-%m-%d %H:%M}",
                    b.created_by,
                    b.backend,
                    b.size_bytes,
                    f"{b.verified_at:%Y-%m-%d %H:%M}" if b.verified_at else "-",
                    Path(b.path).name,
                )
                for b in rows
            ],
        )
    )
