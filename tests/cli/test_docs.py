"""docs/cli.md is generated from the app; it must match the code."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current() -> None:
    render = runpy.run_path(str(ROOT / "scripts" / "cli_reference.py"))["render"]
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is stale: run python scripts/cli_reference.py"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.index("## What it is")]
    assert "make demo" in head and "make test" in head
