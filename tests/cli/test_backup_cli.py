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
from tests.cli.test_cli import AS_OP, BIDDER, OPERATOR, STEWARD, assert_refused, setup_deal
from tests.vault.helpers import customer_row, write_csv


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
    """Deal d1 in the operator's store: the steward (trained) and the bidder's person; the
    steward imports five customers."""
    setup_deal()
    invoke("deal", "add-member", "d1", "--person", BIDDER, "--role", "bidder_business")
    csv = write_csv(tmp_path / "crm.csv", [customer_row(i) for i in range(1, 6)])
    invoke("import", str(csv), "--deal", "d1", "--dataset", "crm")


def test_create_list_verify_restore(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path)
    ident, other = x25519.Identity.generate(), x25519.Identity.generate()
    key = tmp_path / "backup.key"
    key.write_text(f"# public key: {ident.to_public()}\n{ident}\n")
    # a whole-store backup holds every deal: the operator's, not a deal's steward's
    r = CliRunner().invoke(APP, ["backup", "create", "--recipient", str(ident.to_public())])
    assert_refused(r, STEWARD, "backup.store needs one of the roles: operator")
    assert not list((tmp_path / "store").glob("backups/*"))  # nothing written
    first = jrun(
        *AS_OP,
        "backup",
        "create",
        "--recipient",
        str(ident.to_public()),
        "--identity",
        str(key),
        "--reason",
        "pre-transfer",
    )
    assert first["checked"] == "full" and first["verified_at"] and first["created_by"] == OPERATOR
    assert Path(first["path"]).parent == tmp_path / "store" / "backups"

    # Recipients from the environment (comma-separated); no identity: a warning.
    monkeypatch.setenv("DEALVAULT_BACKUP_RECIPIENTS", f"{ident.to_public()}, {other.to_public()}")
    result = invoke(*AS_OP, "backup", "create", "--out", str(tmp_path / "elsewhere"))
    assert "backup #2 written" in result.stdout
    assert "full verify needs" in result.stderr
    listed = jrun(*AS_OP, "backup", "list")
    assert [(b["id"], len(b["recipients"]), bool(b["verified_at"])) for b in listed] == [
        (1, 1, True),
        (2, 2, False),
    ]
    second = listed[1]["path"]
    assert "ciphertext" in invoke(*AS_OP, "backup", "verify", second).stdout
    monkeypatch.setenv("DEALVAULT_BACKUP_IDENTITY", str(other))  # the key itself, via the env
    shown = jrun(*AS_OP, "backup", "verify", second)
    assert shown["level"] == "full" and shown["backup_id"] == 2
    assert {m["store"] for m in shown["members"]} == {"records", "keystore"}
    monkeypatch.delenv("DEALVAULT_BACKUP_IDENTITY")

    out = jrun(
        *AS_OP,
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
            *AS_OP,
            "backup",
            "restore",
            second,
            "--identity",
            str(key),
            "--to",
            str(tmp_path / "restored2"),
        ).stdout
    )
    # The restored home opens with the same master key (the env provider here); the
    # steward reads its deal there as before.
    view = json.loads(
        invoke(
            "--home",
            str(tmp_path / "restored"),
            "--as",
            STEWARD,
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
    recip = str(ident.to_public())
    invoke(*AS_OP, "backup", "create", code=2)  # no recipient
    invoke(*AS_OP, "backup", "create", "--recipient", "age1bad", code=2)
    r = invoke("--as", BIDDER, "backup", "create", "--recipient", recip, code=4)
    assert_refused(r, BIDDER, "backup.store needs one of the roles: operator")
    r = invoke("backup", "create", "--recipient", recip, code=4)  # the deal's steward
    assert_refused(r, STEWARD, "backup.store needs one of the roles: operator")
    path = jrun(*AS_OP, "backup", "create", "--recipient", recip)["path"]
    r = invoke("backup", "list", code=4)
    assert_refused(r, STEWARD, "backup.read needs one of the roles: operator")
    r = invoke("backup", "restore", path, "--identity", str(key), "--to", str(tmp_path / "r"),
               code=4)  # fmt: skip
    assert_refused(r, STEWARD, "backup.restore needs one of the roles: operator")
    assert not (tmp_path / "r").exists()
    invoke(*AS_OP, "backup", "restore", path, "--to", str(tmp_path / "r"), code=2)  # no identity
    r = invoke(*AS_OP, "backup", "verify", path, "--identity", str(wrong), code=7)
    assert "not one of its recipients" in r.output
    invoke(*AS_OP, "backup", "restore", path, "--identity", str(key), "--to", str(tmp_path / "r"))
    r = invoke(
        *AS_OP,
        "backup",
        "restore",
        path,
        "--identity",
        str(key),
        "--to",
        str(tmp_path / "r"),
        code=5,
    )
    assert "vault.sqlite" in r.output
    invoke(*AS_OP, "backup", "verify", "missing.tar.age", "--identity", str(key), code=3)
    data = bytearray(Path(path).read_bytes())
    data[-10] ^= 0x01
    Path(path).write_bytes(bytes(data))
    r = invoke(*AS_OP, "backup", "verify", path, "--json", code=6)
    err = json.loads(r.stderr)
    assert err["error"] == "integrity" and Path(path).name in err["message"]
