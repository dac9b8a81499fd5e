"""Settings cannot be hijacked, secrets stay out of process arguments and workers, and the
local CLI records who acted and how that identity was established."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dealvault.audit.models import AuditEvent
from dealvault.cli.main import app
from dealvault.cli.secrets import sql_source_url
from dealvault.config import Settings
from dealvault.errors import Invalid
from dealvault.flows.context import AppStores
from dealvault.parallel import worker_env


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for k in list(os.environ):
        if k.startswith("DEALVAULT_"):
            monkeypatch.delenv(k)
    h = tmp_path / "store"
    h.mkdir(mode=0o700)
    monkeypatch.setenv("DEALVAULT_HOME", str(h))
    return h


def test_a_settings_file_in_the_working_directory_is_not_read(home: Path) -> None:
    (home.parent / "dealvault.toml").write_text(
        'database_url = "sqlite:////tmp/attacker.sqlite"\nkey_provider = "env"\nmaster_key = "00"\n'
    )
    s = Settings()
    assert s.resolved_database_url.endswith(str(home / "vault.sqlite"))
    assert s.key_provider == "passphrase" and s.master_key is None


@pytest.mark.parametrize(
    "line",
    [
        'database_url = "sqlite:////tmp/attacker.sqlite"',
        'keystore_url = "sqlite:////tmp/attacker-keys.sqlite"',
        'key_provider = "env"',
        'master_key = "' + "ab" * 32 + '"',
        'passphrase = "guessable"',
        'actor = "steward@seller.example"',
        'key_file = "/tmp/other.key"',
        'home = "/tmp/elsewhere"',
    ],
)
def test_the_home_settings_file_may_not_set_protected_keys(home: Path, line: str) -> None:
    f = home / "dealvault.toml"
    f.write_text(line + "\n")
    f.chmod(0o600)
    key = line.split(" ", 1)[0]
    with pytest.raises(Invalid, match=f"may not set {key}"):
        Settings()


def test_the_home_settings_file_tunes_the_rest_and_must_be_private(home: Path) -> None:
    f = home / "dealvault.toml"
    f.write_text("batch_size = 1234\n")
    f.chmod(0o600)
    s = Settings()
    assert s.batch_size == 1234 and s.settings_file == f
    f.chmod(0o664)
    with pytest.raises(Invalid, match="writable by nobody else"):
        Settings()


def test_a_sql_url_with_a_password_never_goes_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://reader:s3cret-pw@127.0.0.1:5432/crm"
    with pytest.raises(Invalid, match="holds a password") as err:
        sql_source_url(url=url, env=None, file=None)
    assert "s3cret-pw" not in str(err.value)
    monkeypatch.setenv("CRM_URL", url)
    assert sql_source_url(url=None, env="CRM_URL", file=None) == url
    f = tmp_path / "url.txt"
    f.write_text(url + "\n")
    f.chmod(0o644)
    with pytest.raises(Invalid, match="chmod 600"):
        sql_source_url(url=None, env=None, file=f)
    f.chmod(0o600)
    assert sql_source_url(url=None, env=None, file=f) == url
    assert sql_source_url(url="sqlite:///x.sqlite", env=None, file=None) == "sqlite:///x.sqlite"
    with pytest.raises(Invalid, match="give the SQL URL once"):
        sql_source_url(url="sqlite:///x.sqlite", env="CRM_URL", file=None)


def test_workers_get_no_store_settings_or_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEALVAULT_PASSPHRASE", "a long passphrase")
    monkeypatch.setenv("DEALVAULT_MASTER_KEY", "ab" * 32)
    monkeypatch.setenv("PGPASSWORD", "pw")
    env = worker_env()
    assert not [k for k in env if k.startswith("DEALVAULT_") or k == "PGPASSWORD"]
    assert env["POLARS_MAX_THREADS"] == "1" and "PATH" in env


def _run(*args: str, code: int = 0) -> str:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == code, f"{args}: {r.exit_code}\n{r.output}\n{r.exception!r}"
    assert "Traceback" not in r.output
    return r.output


def test_the_cli_records_the_operator_and_asserted_identities(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALVAULT_KEY_PROVIDER", "env")
    monkeypatch.setenv("DEALVAULT_MASTER_KEY", secrets.token_bytes(32).hex())
    out = _run("init", code=2)
    assert "needs its first operator" in out
    info = json.loads(
        _run("init", "--operator", "it@seller.example", "--org", "Seller Co", "--trial", "--json")
    )
    assert info["operator"] == "it@seller.example" and info["trial"] is True
    _run("org", "add", "Bidder A", "--kind", "bidder")  # the only operator, no --as needed
    _run("person", "add", "b@bidder.example", "--name", "B", "--org", "Bidder A")
    _run("person", "add", "s@seller.example", "--name", "S", "--org", "Seller Co")
    _run(
        "deal",
        "create",
        "d1",
        "--name",
        "D",
        "--seller",
        "Seller Co",
        "--bidder",
        "Bidder A",
        "--steward",
        "s@seller.example",
    )
    # a bidder naming itself: asserted, and it may not create organisations
    out = _run("--as", "b@bidder.example", "org", "add", "Evil", "--kind", "seller", code=4)
    assert "org.create needs one of the roles: operator" in out
    # a stranger is refused before anything
    _run("--as", "nobody@else.example", "deal", "show", "d1", code=4)
    # the operator cannot make itself a steward; the steward cannot make itself anything
    out = _run(
        "deal",
        "add-member",
        "d1",
        "--person",
        "it@seller.example",
        "--role",
        "seller_steward",
        code=4,
    )
    assert "nobody may member.add for themselves" in out
    stores = AppStores.connect(
        records_url=f"sqlite:///{home / 'vault.sqlite'}",
        keystore_url=f"sqlite:///{home / 'keystore.sqlite'}",
    )
    try:
        with stores.records_session() as s:
            rows = s.execute(select(AuditEvent.actor, AuditEvent.body)).all()
    finally:
        stores.dispose()
    bodies = [(actor, json.loads(body)) for actor, body in rows]
    assert all(actor for actor, _ in bodies)  # never (none)
    by_action = {(b["action"], b["actor"]): b for _, b in bodies}
    assert by_action["store.init", "it@seller.example"]["authn"] == "local"
    assert by_action["org.create", "it@seller.example"]["authn"] == "local"
    denied = by_action["org.create", "b@bidder.example"]
    assert denied["authn"] == "asserted" and denied["decision"] == "deny"
    assert by_action["identity", "nobody@else.example"]["decision"] == "deny"


def test_settings_errors_are_clean_at_the_cli(home: Path) -> None:
    f = home / "dealvault.toml"
    f.write_text('database_url = "sqlite:////tmp/x.sqlite"\n')
    f.chmod(0o600)
    out = _run("org", "list", code=2)
    assert "may not set database_url" in out
