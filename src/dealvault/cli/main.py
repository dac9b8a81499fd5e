"""The root ``dealvault`` command: global options, error handling, command groups.

Command modules are imported when their command runs, never for ``dealvault --help``: the
group lists the commands from ``cli.commands`` (names, modules, one-line helps)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from dealvault import __version__
from dealvault.cli.commands import COMMANDS
from dealvault.errors import DealvaultError
from dealvault.files import WideModeWarning

_MODULE = {name: module for name, module, _ in COMMANDS}
_HELP = {name: short for name, _, short in COMMANDS}
#: app settings every command group is built with (the root's, for its sub-commands)
_APP_SETTINGS: dict[str, Any] = {
    "pretty_exceptions_enable": False,
    "add_completion": False,
    "rich_markup_mode": "markdown",
}


#: click commands already built in this process: by the warm server (cli/warm/preload.py)
#: before it forks, so that its children find them made, or by an earlier call of the same
#: command in this process (building one from its typer definition costs 20-40 ms)
_BUILT: dict[str, Any] = {}


def prebuild(*, names: Iterable[str]) -> None:
    """Build the click commands of ``names`` now, for every later ``_load`` of them."""
    for name in names:
        _BUILT[name] = _load(name)


def _load(name: str) -> Any:
    """The click command of ``name``, built from its module's ``register`` (imported now)."""
    built = _BUILT.get(name)
    if built is not None:
        return built
    module = importlib.import_module(f"dealvault.cli.{_MODULE[name]}")
    holder = typer.Typer(**_APP_SETTINGS)
    module.register(holder)
    group = typer.main.get_command(holder)
    commands = getattr(group, "commands", None)
    built = commands[name] if commands is not None else group
    _BUILT[name] = built
    return built


class _Group(TyperGroup):
    """Turns dealvault errors into a message on stderr and an exit code, and loads a command's
    module only when that command runs (``--help`` lists them from ``cli.commands``)."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(_MODULE)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in _MODULE:
            return None
        if self._listing:  # the help listing needs names and one-line helps only
            return TyperCommand(name=cmd_name, callback=None, help=_HELP[cmd_name])
        return _load(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["dealvault.json"] = "--json" in args
        result: list[str] = super().parse_args(ctx, args)
        return result

    def invoke(self, ctx: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("always", WideModeWarning)
            warnings.showwarning = _show_warning(warnings.showwarning)
            return self._invoke(ctx)

    def _invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DealvaultError as exc:
            _fail(ctx, exc)
        except OSError as exc:  # the system refused a file no check foresaw: say which, and why
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(ctx, DealvaultError(f"{where}{exc.strerror or exc}", code="io"))
        finally:
            close = getattr(ctx.obj, "close", None)
            if close is not None:
                close()


def _fail(ctx: Any, exc: DealvaultError) -> NoReturn:
    """One line on stderr (a JSON object with --json) and the error's exit code."""
    from dealvault.cli.output import json_text, terminal_safe

    if ctx.meta.get("dealvault.json"):
        body = {"error": exc.code, "message": str(exc)}
        typer.echo(json_text(body, indent=None), err=True)
    else:
        message = terminal_safe(str(exc), newlines=True)
        typer.secho(f"error ({exc.code}): {message}", fg="red", err=True)
    raise typer.Exit(exc.exit_code) from None


def _show_warning(fallback: Callable[..., None]) -> Callable[..., None]:
    """Print a file-mode warning as one clear line on stderr; other warnings as Python does."""

    def show(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> None:
        if issubclass(category, WideModeWarning):
            from dealvault.cli.output import terminal_safe

            typer.secho(f"warning: {terminal_safe(str(message))}", fg="yellow", err=True)
        else:
            fallback(message, category, *args, **kw)

    return show


app = typer.Typer(
    cls=_Group,
    name="dealvault",
    help="Keep customer data safe through a company transfer: an encrypted customer vault with "
    "staged disclosure, a verifiable audit trail and hand-over, and proven destruction.",
    no_args_is_help=True,
    **_APP_SETTINGS,
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
    from pydantic import ValidationError

    from dealvault.cli.context import CliContext
    from dealvault.config import Settings

    try:
        settings = Settings(home=home) if home is not None else Settings()
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        typer.secho(f"error (invalid): invalid settings: {fields}", fg="red", err=True)
        raise typer.Exit(2) from None
    ctx.obj = CliContext(settings=settings, actor_flag=actor)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
