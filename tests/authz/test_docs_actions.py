"""docs/policy.md lists every action of the catalogue with its shipped default."""

from __future__ import annotations

from pathlib import Path

from dealvault.access.actions import CATALOGUE
from dealvault.access.policy import default_policy

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def test_every_action_is_documented_with_its_default_roles() -> None:
    text = DOC.read_text("utf-8")
    policy = default_policy()
    for name in CATALOGUE:
        rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
        assert len(rows) == 1, name
        assert f"| {', '.join(policy.actions[name].roles)} |" in rows[0], name
