"""`dealvault retention …` on the command world: a category rule past its end is held back by
the deal's open incident and pending plan (said per reason, nothing destroyed), listed as due,
and refused to a bidder's clean-team member."""

from __future__ import annotations

import json

from tests.cli.command_world import CLEAN, World, invoke


def _json(world: World, *args: str) -> object:
    r = invoke(world.home, *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_a_category_past_its_end_is_held_and_due(own_world: World) -> None:
    made = _json(own_world, "retention", "set", "--deal", "d1", "--dataset", "crm", "--category",
                 "contact", "--keep-days", "1", "--from", "2026-01-01", "--review-every", "30",
                 "--basis", "PIPL art. 19")  # fmt: skip
    assert isinstance(made, dict) and made["end"] == "2026-01-02"
    run = _json(own_world, "retention", "run", "--deal", "d1")
    assert isinstance(run, dict)
    [item] = run["items"]
    assert (item["rule"], item["outcome"]) == (made["id"], "held")
    assert "incident" in item["why"] and "plan(s) #2" in item["why"]
    due = _json(own_world, "retention", "due", "--deal", "d1")
    assert isinstance(due, list)
    assert {"rule": made["id"], "kind": "destruction", "state": "due"}.items() <= due[0].items()
    rules = _json(own_world, "retention", "list", "--deal", "d1")
    assert isinstance(rules, list) and [r["status"] for r in rules] == ["active", "active"]
    refused = invoke(own_world.home, "--as", CLEAN, "retention", "run", "--deal", "d1")
    assert refused.exit_code == 4 and "denied" in refused.stderr


def test_a_bad_date_is_one_line(own_world: World) -> None:
    args = ("--deal", "d1", "--dataset", "crm", "--until", "31.12.2030", "--review-every", "30",
            "--basis", "PIPL art. 19")  # fmt: skip
    r = invoke(own_world.home, "retention", "set", *args)
    assert r.exit_code == 2 and "--until: not a date (YYYY-MM-DD)" in r.stderr
