"""The CLI starts fast: `dealvault --help` lists every command without importing any of them
(or the data stack), and the static list it shows is the commands' own."""

from __future__ import annotations

import subprocess
import sys

import typer

from dealvault.cli import main
from dealvault.cli.commands import COMMANDS

HEAVY = ("polars", "pyarrow", "sqlalchemy", "pydantic", "cryptography", "cedarpy", "numpy")


def test_the_static_list_is_the_commands_own() -> None:
    for name, module, short in COMMANDS:
        cmd = main._load(name)
        assert cmd.name == name
        callbacks = [cmd.callback] if cmd.callback else []
        callbacks += [c.callback for c in getattr(cmd, "commands", {}).values() if c.callback]
        assert any(cb.__module__ == f"dealvault.cli.{module}" for cb in callbacks), name
        assert cmd.get_short_help_str(limit=300) == short, name


def test_help_and_version_import_no_command_and_no_data_stack() -> None:
    probe = (
        "import sys\n"
        "from dealvault.cli.main import app\n"
        "for args in (['--help'], ['--version']):\n"
        "    try:\n"
        "        app(args, prog_name='dealvault')\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}"
        " or m.startswith('dealvault.flows')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "Usage: dealvault" in out and "dealvault 0." in out
    assert out.strip().splitlines()[-1] == "[]"


def test_every_listed_command_runs_its_help() -> None:
    root = typer.main.get_command(main.app)
    assert [n for n, _, _ in COMMANDS] == root.list_commands(None)  # type: ignore[attr-defined]
