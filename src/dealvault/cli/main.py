"""The root ``dealvault`` command: global options, error handling, command groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from dealvault import __version__
from dealvault.cli import (
    access,
    admin,
    agreements,
    audit,
    backup,
    closing,
    disclose,
    inventory,
    keys,
    policy,
    records,
    store,
    transfer,
)
from dealvault.cli import synth as synth_cli
from dealvault.cli.context import CliContext
from dealvault.config import Settings
from dealvault.errors import DealvaultError


class _Group(TyperGroup):
    """Turns dealvault errors into a message on stderr and an exit code; nothing else."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["dealvault.json"] = "--json" in args
        result: list[str] = super().parse_args(ctx, args)
        return result

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DealvaultError as exc:
            if ctx.meta.get("dealvault.json"):
                typer.echo(
                    json.dumps({"error": exc.code, "message": str(exc)}, ensure_ascii=False),
                    err=True,
                )
            else:
                typer.secho(f"error ({exc.code}): {exc}", fg="red", err=True)
            raise typer.Exit(exc.exit_code) from None
        finally:
            obj = ctx.obj
            if isinstance(obj, CliContext):
                obj.close()


app = typer.Typer(
    cls=_Group,
    name="dealvault",
    help="Keep customer data safe through a company transfer: an encrypted customer vault with "
    "staged disclosure, a verifiable audit trail and hand-over, and proven destruction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dealvault {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Store directory (DEALVAULT_HOME; default ./.dealvault)."),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="E-mail of the person acting (DEALVAULT_ACTOR; default: the store's only "
            "operator).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Build the settings once, here at the edge, and hand them to every command."""
    try:
        settings = Settings(home=home) if home is not None else Settings()
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        typer.secho(f"error (invalid): invalid settings: {fields}", fg="red", err=True)
        raise typer.Exit(2) from None
    ctx.obj = CliContext(settings=settings, actor_flag=actor)


admin.register(app)
store.register(app)
records.register(app)
keys.register(app)
audit.register(app)
inventory.register(app)
disclose.register(app)
agreements.register(app)
access.register(app)
policy.register(app)
backup.register(app)
closing.register(app)
transfer.register(app)
synth_cli.register(app)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
