"""What people read in a terminal: help texts reflowed (no line breaks from the source) and
tables that fold long values instead of cutting them, at 80 columns."""

from __future__ import annotations

import io
import re

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from dealvault.cli.main import app
from dealvault.cli.output import kv_table, table


def _commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    out: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():  # groups have sub-commands
            walk(sub, [*path, name])

    walk(root, [])
    return out


COMMANDS = _commands()


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "dealvault")
def test_every_help_fits_80_columns_without_a_traceback(path: list[str]) -> None:
    r = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80", "TERM": "dumb"})
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80


def test_help_paragraphs_are_reflowed() -> None:
    r = CliRunner().invoke(app, ["import", "--help"], env={"COLUMNS": "200"})
    text = re.sub(r"\s+", " ", r.output)
    assert "Bad rows go, with file, row, column and reason, to an encrypted reject file" in text
    # at 200 columns that sentence sits on one line: no hard break from the docstring
    assert any(
        "to an encrypted reject file" in line and "and reason" in line
        for line in r.output.splitlines()
    )


def test_tables_fold_long_ids_instead_of_cutting_them() -> None:
    subject = "3f9a1c2e" + "b7d4e5f60718293a"
    when = "2026-12-06T21:42:01+00:00"
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=False)
    console.print(
        table(
            "t",
            ["subject id", "at", "actor", "action", "deal", "reason"],
            [
                (
                    subject,
                    when,
                    "steward@seller.example",
                    "disclose",
                    "jingjie-2026",
                    "a long reason that goes on and on",
                )
            ],
        )
    )
    console.print(kv_table("k", [("subject", subject), ("at", when)]))
    out = buf.getvalue()
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    joined = re.sub(r"[\s│┃|]", "", out)
    assert subject in joined and when.replace(" ", "") in joined
