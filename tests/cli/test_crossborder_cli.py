"""`dealvault compliance rules`, `plan create --destination` and `plan mechanism` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from dealvault.compliance.rules import RULES
from tests.cli.command_world import COUNSEL, World, invoke
from tests.cli.seller import STEWARD


def test_compliance_rules_lists_every_rule_without_a_store(tmp_path: Path) -> None:
    r = invoke(tmp_path, "compliance", "rules", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [x["id"] for x in out["rules"]] == [x.id for x in RULES]
    assert all(x["source"] and x["kind"] in ("blocking", "advisory") for x in out["rules"])
    assert (out["crossborder_version"], out["crossborder_as_of"]) == (1, "2025-01-01")
    text = invoke(tmp_path, "compliance", "rules")
    assert "gdpr-transfer" in text.output and "version 1, as of 2025-01-01" in text.output
    assert list(tmp_path.iterdir()) == []  # no store made

    draft = tmp_path / "draft.toml"
    draft.write_text("version = 2\nas_of = 2026-12-01\n", "utf-8")
    bad = invoke(tmp_path, "compliance", "rules", "--file", str(draft))
    assert bad.exit_code == 2 and "draft.toml" in bad.output and "mainland" in bad.output


def test_plan_destination_and_mechanism(own_world: World) -> None:
    home = own_world.home
    age = own_world.values["age1"]
    made = invoke(home, "--as", STEWARD, "plan", "create", "--deal", "d1", "--dataset", "crm",
                  "--recipient", "Bidder A", "--category", "contact", "--purpose", "hand-over",
                  "--age-recipient", age, "--destination", "hk", "--json")  # fmt: skip
    assert made.exit_code == 0, made.output
    plan = json.loads(made.output)
    assert plan["destination"] == "HK"
    bad = invoke(home, "--as", STEWARD, "plan", "create", "--deal", "d1", "--dataset", "crm",
                 "--recipient", "Bidder A", "--category", "contact", "--purpose", "hand-over",
                 "--age-recipient", age, "--destination", "Hongkong")  # fmt: skip
    assert bad.exit_code == 2 and "alpha-2" in bad.output
    pid = str(plan["id"])
    rec = invoke(home, "--as", COUNSEL, "plan", "mechanism", pid, "--kind", "certification",
                 "--reference", "certificate CN-PI-2026-17")  # fmt: skip
    assert rec.exit_code == 0 and "certification recorded by" in rec.output, rec.output
    shown = invoke(home, "--as", STEWARD, "plan", "show", pid)
    assert "HK" in shown.output and "certification" in shown.output
