"""`dealvault plan …` and `dealvault package …` end to end: seller builds, buyer receives."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyrage
import pytest
import typer
from typer.testing import CliRunner

from dealvault.cli import admin, agreements, records, transfer
from dealvault.cli import main as cli_main
from tests.cli.test_cli import (  # noqa: F401 - env is a fixture
    OPERATOR,
    STEWARD,
    assert_refused,
    env,
    setup_deal,
)
from tests.vault.helpers import customer_row, write_csv

STEWARD2 = "steward2@seller.example"
COUNSEL = "counsel@law.example"
BUYER_IT = "it@buyer.example"  # the buyer's store: its operator
BUYER_DATA = "data@buyer.example"  # ... the steward of the acquired data
BUYER_HR = "hr@buyer.example"  # ... and the training administrator
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


def _app() -> typer.Typer:
    """The real app once 'plan' and 'package' are wired into it; until then the same root
    with the groups these tests need."""
    if any(g.name == "package" for g in cli_main.app.registered_groups):
        return cli_main.app
    app = typer.Typer(cls=cli_main._Group, no_args_is_help=True, pretty_exceptions_enable=False)
    app.callback()(cli_main.main)
    for group in (admin, records, agreements, transfer):
        group.register(app)
    return app


APP = _app()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def run(*args: str, who: str = STEWARD, code: int = 0, home: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(APP, ["--as", who, *args], env=home)
    assert result.exit_code == code, (
        f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    )
    return result.output


def jrun(*args: str, who: str = STEWARD, home: dict[str, str] | None = None) -> Any:
    return json.loads(run(*args, "--json", who=who, home=home))


def identity_file(path: Path) -> str:
    """An age identity file (made by age-keygen when installed) and its public key."""
    if shutil.which("age-keygen"):
        subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
        text = path.read_text()
        return next(x.split(": ")[1] for x in text.splitlines() if x.startswith("# public key"))
    ident = pyrage.x25519.Identity.generate()
    path.write_text(f"# public key: {ident.to_public()}\n{ident}\n")
    path.chmod(0o600)  # a key file: refused when others can read it
    return str(ident.to_public())


def seller_at_closing(tmp_path: Path) -> None:
    setup_deal()  # Seller Co, Bidder A, the steward (trained) in deal d1
    run("org", "add", "Law LLP", "--kind", "law_firm", who=OPERATOR)
    run("deal", "add-party", "d1", "--org", "Law LLP", "--role", "counsel")
    for email, org, role in (
        (STEWARD2, "Seller Co", "seller_steward"),
        (COUNSEL, "Law LLP", "counsel"),
    ):
        run("person", "add", email, "--name", "X", "--org", org, who=OPERATOR)
        run("deal", "add-member", "d1", "--person", email, "--role", role)
    csv = write_csv(tmp_path / "crm.csv", [customer_row(i) for i in range(1, 9)])
    run("import", str(csv), "--deal", "d1", "--dataset", "crm")
    run("deal", "advance", "d1")
    run("deal", "advance", "d1", "--to", "signing")
    run("deal", "advance", "d1", "--to", "closing", "--winner", "Bidder A")
    run(
        "agreement",
        "add",
        "--deal",
        "d1",
        "--org",
        "Bidder A",
        "--kind",
        "transfer",
        "--title",
        "Asset transfer agreement",
        "--effective",
        YESTERDAY,
    )


def buyer_store(buyer: dict[str, str]) -> None:
    """The buyer's own store: run by its IT (operator), who opens the deal of the acquired
    data with the data steward; the training administrator trains the steward."""
    as_it: dict[str, Any] = {"home": buyer, "who": BUYER_IT}
    run("init", "--operator", BUYER_IT, "--org", "Bidder A", "--org-kind", "buyer", **as_it)
    for email, name in ((BUYER_DATA, "Data"), (BUYER_HR, "HR")):
        run("person", "add", email, "--name", name, "--org", "Bidder A", **as_it)
    run("store", "grant", BUYER_HR, "--role", "training_admin", **as_it)
    run("deal", "create", "acq", "--name", "Acquired", "--seller", "Bidder A",
        "--steward", BUYER_DATA, **as_it)  # fmt: skip
    run(
        "training",
        "add",
        "--person",
        BUYER_DATA,
        "--course",
        "confidentiality",
        "--completed",
        YESTERDAY,
        home=buyer,
        who=BUYER_HR,
    )


def test_plan_build_verify_receive(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    seller_at_closing(tmp_path)
    key_file = tmp_path / "buyer-age.key"
    public = identity_file(key_file)
    plan = jrun(
        "plan",
        "create",
        "--deal",
        "d1",
        "--dataset",
        "crm",
        "--recipient",
        "Bidder A",
        "--age-recipient",
        public,
        "--category",
        "identity,contact",
        "--purpose",
        "closing hand-over",
    )
    pid = str(plan["id"])
    assert plan["still_needed"] == ["seller_steward", "counsel"]
    r = CliRunner().invoke(APP, ["--as", STEWARD, "plan", "approve", pid])
    assert_refused(r, STEWARD, "nobody may plan.approve for themselves")
    jrun("plan", "approve", pid, who=STEWARD2)
    assert jrun("plan", "approve", pid, who=COUNSEL)["status"] == "approved"
    gate = CliRunner().invoke(APP, ["--as", COUNSEL, "compliance", "check", pid, "--json"])
    assert gate.exit_code == 5, gate.output  # closed: the purpose is two words
    built_too_soon = run("package", "build", pid, "--out", str(tmp_path / "early"), code=4)
    assert "compliance finding" in built_too_soon and "purpose-stated" in built_too_soon
    for f in json.loads(gate.stdout)["findings"]:
        if f["blocking"] and f["status"] == "open":
            jrun("compliance", "waive", str(f["id"]), "--reason", "purposes are in the SPA",
                 who=COUNSEL)  # fmt: skip
    assert "counsel" in run("plan", "show", pid)
    assert "transfer plans" in run("plan", "list", "--deal", "d1")
    assert "approved" in run("plan", "list", "--deal", "d1", "--status", "approved")
    out = tmp_path / "handover"
    sub = jrun("lookup", "13900000001", "--deal", "d1", "--dataset", "crm")[0]["subject_id"]
    args = ["--deal", "d1", "--dataset", "crm", "--reason", "customer's letter of 2026-11-20"]
    assert "status must be one of" in run("status", sub, "--set", "gone", *args, code=2)
    marked = jrun("status", sub, "--set", "objecting", *args)
    assert (marked["previous"], marked["status"]) == ("active", "objecting")
    built = jrun("package", "build", pid, "--out", str(out))
    assert built["customers"] == 7 and built["excluded"]["objecting"] == 1
    assert "never overwritten" in run("package", "build", pid, "--out", str(out), code=2)
    ledger = jrun("package", "ledger", "--deal", "d1")
    assert [(e["id"], e["customers"], e["purpose"]) for e in ledger] == [
        (built["id"], 7, "closing hand-over")
    ]
    assert "transfer ledger" in run("package", "ledger", "--deal", "d1")
    vkey = jrun("audit", "key", "show", who=OPERATOR)["verifier_key"]

    # the buyer: its own store, keys and people
    buyer = {
        "DEALVAULT_HOME": str(tmp_path / "buyer-store"),
        "DEALVAULT_MASTER_KEY": secrets.token_bytes(32).hex(),
        "DEALVAULT_ACTOR": BUYER_IT,
    }
    buyer_store(buyer)
    report = jrun(
        "package",
        "verify",
        str(out),
        "--identity",
        str(key_file),
        "--verifier-key",
        vkey,
        "--report-json",
        str(tmp_path / "r.json"),
        "--report-html",
        str(tmp_path / "r.html"),
        home=buyer,
        who=BUYER_IT,
    )
    assert report["ok"] and report["records"]["received"] == 10  # 7 customers, 3 canaries
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is True
    assert "complete and unaltered" in (tmp_path / "r.html").read_text()
    human = run("package", "verify", str(out), "-i", str(key_file), home=buyer, who=BUYER_IT)
    assert "VERIFIED" in human and built["signer_fingerprint"] in human.replace("\n", "")
    got = jrun(
        "package",
        "receive",
        str(out),
        "--identity",
        str(key_file),
        "--deal",
        "acq",
        "--dataset",
        "acquired",
        "--verifier-key",
        vkey,
        "--canaries",
        f"{out}.canaries",
        home=buyer,
        who=BUYER_DATA,
    )
    assert got["report"]["ok"] and got["imported"]["rows_imported"] == 7
    assert got["canaries_removed"] == 3
    found = jrun(
        "lookup",
        "13900000003",
        "--deal",
        "acq",
        "--dataset",
        "acquired",
        home=buyer,
        who=BUYER_DATA,
    )
    assert found[0]["data"]["contact"]["phone"] == "139****0003"

    # a tampered copy fails with exit code 6 and a precise message
    bad = tmp_path / "tampered"
    shutil.copytree(out, bad)
    data = (bad / "records.parquet.age").read_bytes()
    (bad / "records.parquet.age").write_bytes(data[:-64])
    as_buyer: dict[str, Any] = {"home": buyer, "who": BUYER_IT}
    args = ["-i", str(key_file), "--verifier-key", vkey]
    failed = run("package", "verify", str(bad), *args, code=6, **as_buyer)
    assert "records.parquet.age is truncated" in failed
    refused = run(
        "package", "receive", str(bad), *args, "--deal", "acq", "--dataset", "x", code=6,
        home=buyer, who=BUYER_DATA,
    )  # fmt: skip
    assert "nothing was imported" in refused
    assert "not an age X25519 identity" in run(
        "package",
        "verify",
        str(out),
        "-i",
        str(tmp_path / "crm.csv"),
        home=buyer,
        who=BUYER_IT,
        code=2,
    )
