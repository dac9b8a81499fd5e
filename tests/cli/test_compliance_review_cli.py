"""`dealvault compliance review` end to end on the command world: a dataset with notes, a plan
handing them over, the review with counsel's own word list, the gate's content findings; a
bidder refused; nothing personal on the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.command_world import CLEAN, COUNSEL, World, invoke
from tests.vault.helpers import HEADERS, customer_row, write_csv

OTHER_PHONE = "13812345678"


def _ok(world: World, *args: str, code: int = 0) -> str:
    r = invoke(world.home, *args)
    assert r.exit_code == code, f"{args}: {r.output}"
    return r.stdout


@pytest.mark.usefixtures("cached_commands")
def test_review_of_a_plan_with_notes(own_world: World, tmp_path: Path) -> None:
    notes = {1: f"她朋友的电话是{OTHER_PHONE}", 2: "推销香烟，客户拒绝", 3: "客户很满意"}
    rows = [customer_row(i, 备注=notes.get(i, "")) for i in range(1, 5)]
    csv = write_csv(tmp_path / "notes.csv", rows, headers=[*HEADERS, "备注"])
    _ok(own_world, "import", str(csv), "--deal", "d1", "--dataset", "notes")
    plan = json.loads(_ok(
        own_world, "plan", "create", "--deal", "d1", "--dataset", "notes", "--recipient",
        "Bidder A", "--category", "identity,contact,free_text", "--age-recipient",
        own_world.values["age1"], "--purpose", "hand-over of the notes", "--json",
    ))["id"]  # fmt: skip
    words = tmp_path / "counsel.toml"
    words.write_text('version = "deal-d1.1"\n[categories.tobacco]\ntitle = "Tobacco"\n'
                     'words = ["香烟"]\n', "utf-8")  # fmt: skip

    refused = invoke(own_world.home, "--as", CLEAN, "compliance", "review", str(plan))
    assert refused.exit_code == 4, refused.output
    out = _ok(own_world, "compliance", "review", str(plan), "--words", str(words))
    assert "deal-d1.1" in out and "tobacco 1" in out and "phone 1" in out
    assert OTHER_PHONE not in out and "香烟" not in out
    got = json.loads(_ok(own_world, "compliance", "review", str(plan), "--words", str(words),
                         "--json"))  # fmt: skip
    assert (got["words"], got["third_party"], got["customers"]) == (
        {"tobacco": 1}, {"phone": 1}, 4)  # fmt: skip

    checked = invoke(own_world.home, "--as", COUNSEL, "compliance", "check", str(plan), "--json")
    assert checked.exit_code == 5, checked.output
    found = {f["rule"]: f["counts"] for f in json.loads(checked.stdout)["findings"]
             if f["status"] == "open"}  # fmt: skip
    assert found["content-unlawful"] == {"tobacco": 1}
    assert found["third-party-pi"] == {"phone": 1}
    assert "content-review" not in found
