"""The backup commands end to end (SQLite): create, list, verify, restore, and their exit codes."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import typer
from pyrage import x25519
from typer.testing import CliRunner, Result

from dealvault.cli import admin, agreements, records
from dealvault.cli import backup as backup_cli
from dealvault.cli import main as cli_main
from tests.vault.helpers import customer_row, write_csv

STEWARD = "steward@seller.example"
BIDDER = "b@bidder.example"


def _app() -> typer.Typer:
    """The root app with the groups these tests use (main.py wires ``backup`` in the real one)."""
    app = typer.Typer(cls=cli_main._Group, pretty_exceptions_enable=False, add_completion=False)
    app.callback()(cli_main.main)
    for module in (admin, records, agreements, backup_cli):
        module.register(app)
    return app


APP = _app()


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
    monkeypatch.delenv("DEALVAULT_BACKUP_RECIPIENTS", raising=False)
    monkeypatch.delenv("DEALVAULT_BACKUP_IDENTITY", raising=False)
    return values


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(APP, list(args))
    assert result.exit_code == code, (
        f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    )
    return result


def jrun(*args: str) -> Any:
    return json.loads(invoke(*args, "--json").stdout)


def _setup(tmp_path: Path) -> None:
    invoke("init")
    invoke("org", "add", "Seller Co", "--kind", "seller")
    invoke("org", "add", "Bidder A", "--kind", "bidder")
    invoke("person", "add", STEWARD, "--name", "Steward", "--org", "Seller Co")
    invoke("person", "add", BIDDER, "--name", "B", "--org", "Bidder A")
    invoke(
        "deal", "create", "d1", "--name", "Deal", "--seller", "Seller Co", "--bidder", "Bidder A"
    )
    invoke("deal", "add-member", "d1", "--person", STEWARD, "--role", "seller_steward")
    invoke("deal", "add-member", "d1", "--person", BIDDER, "--role", "bidder_business")
    invoke(
        "training",
        "add",
        "--person",
        STEWARD,
        "--course",
        "confidentiality",
        "--completed",
        "2026-01-05",
    )
    csv = write_csv(tmp_path / "crm.csv", [customer_row(i) for i in range(1, 6)])
    invoke("import", str(csv), "--deal", "d1", "--dataset", "crm")


def test_create_list_verify_restore(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path)
    ident, other = x25519.Identity.generate(), x25519.Identity.generate()
    key = tmp_path / "backup.key"
    key.write_text(f"# public key: {ident.to_public()}\n{ident}\n")
    key.chmod(0o600)
    first = jrun(
        "backup",
        "create",
        "--recipient",
        str(ident.to_public()),
        "--identity",
        str(key),
        "--reason",
        "pre-transfer",
    )
    assert first["checked"] == "full" and first["verified_at"] and first["created_by"] == STEWARD
    assert Path(first["path"]).parent == tmp_path / "store" / "backups"

    # Recipients from the environment (comma-separated); no identity: a warning.
    monkeypatch.setenv("DEALVAULT_BACKUP_RECIPIENTS", f"{ident.to_public()}, {other.to_public()}")
    result = invoke("backup", "create", "--out", str(tmp_path / "elsewhere"))
    assert "backup #2 written" in result.stdout
    assert "full verify needs" in result.stderr
    listed = jrun("backup", "list")
    assert [(b["id"], len(b["recipients"]), bool(b["verified_at"])) for b in listed] == [
        (1, 1, True),
        (2, 2, False),
    ]
    second = listed[1]["path"]
    assert "ciphertext" in invoke("backup", "verify", second).stdout
    monkeypatch.setenv("DEALVAULT_BACKUP_IDENTITY", str(other))  # the key itself, via the env
    shown = jrun("backup", "verify", second)
    assert shown["level"] == "full" and shown["backup_id"] == 2
    assert {m["store"] for m in shown["members"]} == {"records", "keystore"}
    monkeypatch.delenv("DEALVAULT_BACKUP_IDENTITY")

    out = jrun(
        "backup",
        "restore",
        first["path"],
        "--identity",
        str(key),
        "--to",
        str(tmp_path / "restored"),
    )
    assert out["customers"] == {"active": 5} and not out["needs_upgrade"]
    assert (
        "backup restored"
        in invoke(
            "backup", "restore", second, "--identity", str(key), "--to", str(tmp_path / "restored2")
        ).stdout
    )
    # The restored home opens with the same master key (the env provider here).
    view = json.loads(
        invoke(
            "--home",
            str(tmp_path / "restored"),
            "lookup",
            "13900000002",
            "--deal",
            "d1",
            "--dataset",
            "crm",
            "--reveal",
            "--json",
        ).stdout
    )
    assert view[0]["data"]["contact"]["phone"] == "+8613900000002"


def test_exit_codes(env: dict[str, str], tmp_path: Path) -> None:
    _setup(tmp_path)
    ident = x25519.Identity.generate()
    key = tmp_path / "k.txt"
    key.write_text(str(ident) + "\n")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(str(x25519.Identity.generate()) + "\n")
    key.chmod(0o600)
    wrong.chmod(0o600)
    recip = str(ident.to_public())
    invoke("backup", "create", code=2)  # no recipient
    invoke("backup", "create", "--recipient", "age1bad", code=2)
    r = invoke("--as", BIDDER, "backup", "create", "--recipient", recip, code=4)
    assert "seller steward" in r.output
    path = jrun("backup", "create", "--recipient", recip)["path"]
    invoke("backup", "restore", path, "--to", str(tmp_path / "r"), code=2)  # no identity
    r = invoke("backup", "verify", path, "--identity", str(wrong), code=7)
    assert "not one of its recipients" in r.output
    invoke("backup", "restore", path, "--identity", str(key), "--to", str(tmp_path / "r"))
    r = invoke(
        "backup", "restore", path, "--identity", str(key), "--to", str(tmp_path / "r"), code=5
    )
    assert "vault.sqlite" in r.output
    invoke("backup", "verify", "missing.tar.age", "--identity", str(key), code=3)
    data = bytearray(Path(path).read_bytes())
    data[-10] ^= 0x01
    Path(path).write_bytes(bytes(data))
    r = invoke("backup", "verify", path, "--json", code=6)
    err = json.loads(r.stderr)
    assert err["error"] == "integrity" and Path(path).name in err["message"]
