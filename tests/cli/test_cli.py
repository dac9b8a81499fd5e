"""The CLI end to end: init, orgs, people, deals, import, lookup, keys, shred; exit codes."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from dealvault.cli.main import app
from dealvault.db import migrate
from tests.vault.helpers import customer_row, write_csv

STEWARD = "steward@seller.example"
OPERATOR = "operator@seller.example"
TRAINER = "trainer@seller.example"
BIDDER = "b@bidder.example"
AS_OP = ("--as", OPERATOR)  # store-wide commands: the store's operator
#: a new store names its first operator and the organisation that runs it; a trial store,
#: because people of the bidders act here by naming themselves (--as)
INIT = ("init", "--operator", OPERATOR, "--operator-name", "Operator", "--org", "Seller Co",
        "--trial")  # fmt: skip


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    values = {
        "DEALVAULT_HOME": str(tmp_path / "store"),
        "DEALVAULT_KEY_PROVIDER": "env",
        "DEALVAULT_MASTER_KEY": secrets.token_bytes(32).hex(),
        "DEALVAULT_ACTOR": STEWARD,
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (
        f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    )
    return result.output


def jrun(*args: str) -> object:
    return json.loads(run(*args, "--json"))


def setup_deal() -> None:
    """Seller Co runs the store (its operator); a training admin; Bidder A and its person B;
    deal d1 with the steward (named by the operator) trained by the training admin."""
    run(*INIT)
    run(*AS_OP, "org", "add", "Bidder A", "--kind", "bidder")
    run(*AS_OP, "person", "add", STEWARD, "--name", "Steward", "--org", "Seller Co")
    run(*AS_OP, "person", "add", TRAINER, "--name", "Trainer", "--org", "Seller Co")
    run(*AS_OP, "store", "grant", TRAINER, "--role", "training_admin")
    run(*AS_OP, "person", "add", BIDDER, "--name", "B", "--org", "Bidder A")
    run(*AS_OP, "deal", "create", "d1", "--name", "Deal", "--seller", "Seller Co",
        "--bidder", "Bidder A", "--steward", STEWARD)  # fmt: skip
    run("--as", TRAINER, "training", "add", "--person", STEWARD, "--course", "confidentiality",
        "--completed", "2026-01-05")  # fmt: skip


def last_event(actor: str) -> dict[str, Any]:
    """The newest audit event ``actor`` caused (read by the operator; not its own reads of
    the log, which are recorded before they run)."""
    events = jrun(*AS_OP, "audit", "log", "--actor", actor)
    assert isinstance(events, list)
    reads = ("audit.log", OPERATOR, "allow")
    caused = [e for e in events if (e["action"], e["actor"], e["decision"]) != reads]
    assert caused, f"no audit event by {actor}"
    last: dict[str, Any] = caused[-1]
    return last


def assert_refused(result: Result, actor: str, *reasons: str) -> dict[str, Any]:
    """Exit code 4 naming every reason, and the refusal recorded as a denial by ``actor``."""
    assert result.exit_code == 4, result.output
    for reason in reasons:
        assert reason in result.output, result.output
    event = last_event(actor)
    assert (event["decision"], event["actor"]) == ("deny", actor), event
    for reason in reasons:
        assert any(reason in r for r in event["reasons"]), event
    return event


def test_admin_commands_with_json(env: dict[str, str]) -> None:
    r = CliRunner().invoke(app, ["init"])  # a new store needs its first operator
    assert r.exit_code == 2 and "a new store needs its first operator" in r.output
    out = jrun(*INIT)
    assert out["key_provider"] == "env"  # type: ignore[index]
    assert out["records_revision"] == migrate.head_revision("records")  # type: ignore[index]
    assert (out["operator"], out["trial"]) == (OPERATOR, True)  # type: ignore[index]
    assert env["DEALVAULT_MASTER_KEY"] not in json.dumps(out)
    setup_deal()  # init again: the store keeps its operator
    orgs = jrun(*AS_OP, "org", "list")
    assert [o["name"] for o in orgs] == ["Seller Co", "Bidder A"]  # type: ignore[union-attr,index]
    assert jrun(*AS_OP, "org", "show", "Bidder A")["kind"] == "bidder"  # type: ignore[index]
    assert jrun(*AS_OP, "person", "show", STEWARD)["organization"] == "Seller Co"  # type: ignore[index]
    assert len(jrun(*AS_OP, "person", "list", "--org", "Bidder A")) == 1  # type: ignore[arg-type]
    # a deal's steward does not run the store: organisations and people are the operator's
    assert_refused(
        CliRunner().invoke(app, ["org", "list"]),
        STEWARD,
        "org.read needs one of the roles: operator",
    )
    deal = jrun("deal", "show", "d1")
    assert deal["stage"] == "preparation" and deal["members"][0]["role"] == "seller_steward"  # type: ignore[index]
    assert jrun("deal", "advance", "d1")["stage"] == "due_diligence"  # type: ignore[index]
    assert [d["code"] for d in jrun("deal", "list", "--stage", "due_diligence")] == ["d1"]  # type: ignore[union-attr,index]
    assert "stage history" in run("deal", "show", "d1")
    assert jrun("deal", "terminate", "d1", "--reason", "no deal")["stage"] == "terminated"  # type: ignore[index]


def test_errors_become_exit_codes(env: dict[str, str]) -> None:
    setup_deal()
    r = CliRunner().invoke(app, ["deal", "advance", "d1", "--to", "closing"])
    assert r.exit_code == 5 and "illegal stage transition preparation -> closing" in r.output
    r = CliRunner().invoke(app, ["deal", "show", "nope"])
    assert r.exit_code == 3 and "not found" in r.output
    r = CliRunner().invoke(app, [*AS_OP, "org", "add", "X", "--kind", "pirate"])
    assert r.exit_code == 2 and "unknown organisation kind" in r.output
    r = CliRunner().invoke(app, ["deal", "show", "nope", "--json"])
    assert (
        r.exit_code == 3 and json.loads(r.output.strip().splitlines()[-1])["error"] == "not_found"
    )
    # a bidder's person may neither advance nor end the deal; the operator creates deals
    # but does not move them; nobody names themselves steward
    run(*AS_OP, "deal", "add-member", "d1", "--person", BIDDER, "--role", "bidder_business")
    for verb in ("advance", "terminate"):
        r = CliRunner().invoke(app, ["--as", BIDDER, "deal", verb, "d1"])
        event = assert_refused(r, BIDDER, f"deal.{verb} needs one of the roles: seller_steward")
        assert event["authn"] == "asserted" and event["deal"] == "d1"
    r = CliRunner().invoke(app, [*AS_OP, "deal", "advance", "d1"])
    assert_refused(r, OPERATOR, "deal.advance needs one of the roles: seller_steward")
    r = CliRunner().invoke(
        app,
        [*AS_OP, "deal", "create", "d2", "--name", "D", "--seller", "Seller Co",
         "--steward", OPERATOR],
    )  # fmt: skip
    assert_refused(r, OPERATOR, "nobody may deal.create for themselves")
    assert jrun("deal", "show", "d1")["stage"] == "preparation"  # type: ignore[index]


def test_import_lookup_rotate_shred(env: dict[str, str], tmp_path: Path) -> None:
    setup_deal()
    rows = [customer_row(i) for i in range(1, 11)]
    path = write_csv(tmp_path / "customers.csv", rows, encoding="gbk")
    mapping = jrun("import", str(path), "--deal", "d1", "--dataset", "crm", "--dry-run")
    assert mapping["columns"]["手机号"] == "phone"  # type: ignore[index]
    summary = jrun("import", str(path), "--deal", "d1", "--dataset", "crm")
    assert summary["rows_imported"] == 10  # type: ignore[index]
    r = CliRunner().invoke(app, ["import", str(path), "--deal", "d1", "--dataset", "crm"])
    assert r.exit_code == 5 and "already imported" in r.output
    found = jrun("lookup", "13900000003", "--deal", "d1", "--dataset", "crm")
    masked = found[0]["data"]  # type: ignore[index]
    assert masked["contact"]["phone"] == "139****0003"  # masked by default
    assert (
        masked["sensitive"]["id_number"].startswith("110105")
        and "*" in masked["sensitive"]["id_number"]
    )
    clear = jrun("lookup", "13900000003", "--deal", "d1", "--dataset", "crm", "--reveal")
    assert clear[0]["data"]["contact"]["phone"] == "+8613900000003"  # type: ignore[index]
    human = run("lookup", "13900000003", "--deal", "d1", "--dataset", "crm")
    assert "13900000003" not in human and rows[2]["身份证号"] not in human
    r = CliRunner().invoke(
        app,
        ["--as", "b@bidder.example", "lookup", "13900000003", "--deal", "d1", "--dataset", "crm"],
    )
    assert r.exit_code == 4 and "access denied" in r.output and "13900000003" not in r.output
    r = CliRunner().invoke(app, ["lookup", "12345", "--deal", "d1", "--dataset", "crm"])
    assert r.exit_code == 2 and "12345" not in r.output
    rot = jrun("keys", "rotate", "--deal", "d1", "--data", "crm", "--batch-size", "3")
    assert rot["to_version"] == 2 and rot["processed"] == 10  # type: ignore[index]
    subject = found[0]["subject_id"]  # type: ignore[index]
    shred = jrun("shred", subject, "--deal", "d1", "--dataset", "crm", "--yes")
    assert shred["keys_destroyed"] == 1  # type: ignore[index]
    gone = jrun("lookup", subject, "--by", "subject_id", "--deal", "d1", "--dataset", "crm")
    assert gone[0]["status"] == "shredded" and gone[0]["data"] == {}  # type: ignore[index]
    status = jrun(*AS_OP, "keys", "status")
    ds = status["datasets"][0]  # type: ignore[index]
    assert (ds["customers_active"], ds["customers_shredded"], ds["customer_keys"]) == (9, 1, 9)
    # the master key is the store's: the steward may not rotate it, the operator may
    r = CliRunner().invoke(app, ["keys", "rotate", "--master"])
    assert_refused(r, STEWARD, "keys.rotate_master needs one of the roles: operator")
    r = CliRunner().invoke(app, [*AS_OP, "keys", "rotate", "--master"])
    assert r.exit_code == 2 and "env key provider cannot make a key" in r.output


def test_passphrase_init_and_wrong_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEALVAULT_HOME", str(tmp_path / "s"))
    monkeypatch.setenv("DEALVAULT_PASSPHRASE", "right passphrase")
    monkeypatch.setenv("DEALVAULT_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("DEALVAULT_ARGON2_TIME_COST", "1")
    assert jrun(*INIT)["created_key_file"] is True  # type: ignore[index]
    assert jrun("init")["created_key_file"] is False  # type: ignore[index]
    monkeypatch.setenv("DEALVAULT_PASSPHRASE", "wrong passphrase")
    r = CliRunner().invoke(app, ["keys", "status"])
    assert r.exit_code == 7 and "wrong passphrase" in r.output


def test_help_texts() -> None:
    out = run("--help")
    for cmd in ("init", "org", "person", "deal", "import", "lookup", "shred", "keys", "synth"):
        assert cmd in out
    assert "resumes" in run("keys", "rotate", "--help")


def test_audit_commands(env: dict[str, str], tmp_path: Path) -> None:
    setup_deal()
    rows = [customer_row(i) for i in range(1, 6)]
    run("import", str(write_csv(tmp_path / "c.csv", rows)), "--deal", "d1", "--dataset", "crm")
    run("lookup", "13900000002", "--deal", "d1", "--dataset", "crm")
    events = jrun("audit", "log", "--deal", "d1", "--action", "disclose")
    assert len(events) == 1 and events[0]["actor"] == STEWARD  # type: ignore[index,arg-type]
    assert events[0]["authn"] == "local"  # type: ignore[index]
    # every deal's log and the whole log's verification are the operator's
    r = CliRunner().invoke(app, ["audit", "log", "--action", "disclose"])
    assert_refused(r, STEWARD, "audit.search needs one of the roles: operator")
    assert len(jrun(*AS_OP, "audit", "log", "--action", "disclose")) == 1  # type: ignore[arg-type]
    assert jrun(*AS_OP, "audit", "verify")["ok"] is True  # type: ignore[index]
    assert "VERIFICATION" not in run(*AS_OP, "audit", "verify")  # a table, not the report
    run(*AS_OP, "audit", "export", str(tmp_path / "bundle"))
    assert jrun("audit", "verify-bundle", str(tmp_path / "bundle"))["ok"] is True  # type: ignore[index]
    proof = jrun(*AS_OP, "audit", "prove", "3", "--out", str(tmp_path / "e3.tlog-proof"))
    assert Path(str(proof["proof"])).read_bytes().startswith(b"c2sp.org/tlog-proof@v1")  # type: ignore[index]
    run("audit", "cosigner-key", "bidder-a.example/witness", "--out", str(tmp_path / "w.key"))
    cos = jrun(*AS_OP, "audit", "cosign", "--key", str(tmp_path / "w.key"))
    assert cos["cosigner"] == "bidder-a.example/witness"  # type: ignore[index]
    report = jrun("audit", "report", str(tmp_path / "r.html"), "--deal", "d1")
    assert report["verified"] is True  # type: ignore[index]
    assert "VERIFICATION OK" in (tmp_path / "r.html").read_text("utf-8")
    # a tampered bundle: the CLI exits with the integrity code and names the event
    lines = (tmp_path / "bundle" / "events.jsonl").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"v":2', b'"v":9')
    (tmp_path / "bundle" / "events.jsonl").write_bytes(b"\n".join(lines))
    r = CliRunner().invoke(app, ["audit", "verify-bundle", str(tmp_path / "bundle")])
    assert r.exit_code == 6 and "verification failed at event" in r.output
