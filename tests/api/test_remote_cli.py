"""The remote CLI end to end: a bidder invited by mail finishes sign-up on a real server
process, then ``dealvault login`` and the party's commands go through the API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pyotp
import pytest
from typer.testing import CliRunner

from dealvault.cli.main import app
from tests.api.conftest import PASSWORD, Mailbox
from tests.api.test_serve_cli import _free_port, _ready
from tests.cli.test_cli import AS_OP, env, run, setup_deal  # noqa: F401
from tests.vault.helpers import customer_row, write_csv

NEW = "new@bidder.example"


def _sign_up(base: str, secret: str) -> tuple[pyotp.TOTP, list[str]]:
    http = httpx.Client(base_url=base)
    r = http.post("/api/account/activate", json={"secret": secret, "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookie = re.search(r"__Host-dealvault=([^;]+)", r.headers["set-cookie"])
    assert cookie is not None
    headers = {"Cookie": f"__Host-dealvault={cookie.group(1)}", "X-CSRF-Token": r.json()["csrf"]}
    begin = http.post("/api/account/totp/begin", headers=headers)
    totp = pyotp.TOTP(pyotp.parse_uri(begin.json()["uri"]).secret)
    done = http.post("/api/account/totp/finish", json={"code": totp.now()}, headers=headers)
    assert done.status_code == 200, done.text
    return totp, done.json()["recovery_codes"]


def test_login_then_party_commands_go_through_the_server(
    env: dict[str, str],  # noqa: F811
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, smtp_port = mailbox
    monkeypatch.setenv("DEALVAULT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEALVAULT_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("DEALVAULT_LOGIN_FILE", str(tmp_path / "cfg" / "login.json"))
    setup_deal()
    rows = [customer_row(i, 手机号=f"139{i:08d}") for i in range(12)]
    run("import", str(write_csv(tmp_path / "c.csv", rows)), "--deal", "d1", "--dataset", "crm")
    run("deal", "advance", "d1", "--reason", "teaser round done")
    run("person", "invite", NEW, "--deal", "d1", "--role", "bidder_business", "--name", "New",
        "--org", "Bidder A")  # fmt: skip
    run("--as", "trainer@seller.example", "training", "add", "--person", NEW, "--course",
        "confidentiality", "--completed", "2026-11-01")  # fmt: skip
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dealvault.cli.main", "serve", "--port", str(port),
         "--insecure-http"],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _ready(proc, port)
        totp, recovery = _sign_up(base, box.link_secret(NEW))
        r = CliRunner().invoke(
            app, ["login", "--server", base, "--email", NEW], input=f"{PASSWORD}\n{recovery[0]}\n"
        )
        assert r.exit_code == 0, r.output
        assert PASSWORD not in r.output and f"signed in to {base} as {NEW}" in r.output
        login = tmp_path / "cfg" / "login.json"
        assert (login.stat().st_mode & 0o777) == 0o600
        # the party's commands now go to the server: its identity is the session
        deals = json.loads(CliRunner().invoke(app, ["deal", "list", "--json"]).stdout)
        assert [d["code"] for d in deals] == ["d1"]
        agg = ["view", "--deal", "d1", "--dataset", "crm", "--purpose", "sizing", "--level",
               "aggregate", "--group-by", "gender"]  # fmt: skip
        r = CliRunner().invoke(app, agg)
        assert r.exit_code == 0, r.output
        assert "aggregate disclosure of d1/crm" in r.output and "13900000001" not in r.output
        r = CliRunner().invoke(app, ["view", "--deal", "d1", "--dataset", "crm", "--purpose",
                                     "x", "--level", "masked"])  # fmt: skip
        assert r.exit_code == 4 and "13900000001" not in r.output
        r = CliRunner().invoke(app, ["audit", "log", "--deal", "d1"])
        assert r.exit_code == 4  # a bidder does not read the deal's log
        out = tmp_path / "agg.csv"
        r = CliRunner().invoke(app, [*agg, "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert out.read_text("utf-8").startswith("# dealvault-disclosure: ")
        assert (out.stat().st_mode & 0o777) == 0o600
        r = CliRunner().invoke(app, ["logout"])
        assert r.exit_code == 0 and not login.exists()
        # the server recorded the session's reads with the method and the session id
        events = json.loads(run(*AS_OP, "audit", "log", "--actor", NEW, "--json"))
        reads = [e for e in events if e["action"] in ("deal.list", "disclose", "read")]
        assert reads and all(e["authn"] == "password+totp" for e in reads)
        assert all(str(e.get("session", "")).startswith("ses_") for e in reads)
        assert any(e["action"] == "auth.logout" for e in events)
        # a wrong code is refused without a traceback
        r = CliRunner().invoke(
            app, ["login", "--server", base, "--email", NEW], input=f"{PASSWORD}\n000000\n"
        )
        assert r.exit_code == 4 and "code is wrong" in r.output and "Traceback" not in r.output
        assert totp.now()  # (the device still works)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_outside_a_trial_store_a_party_cannot_name_itself(
    env: dict[str, str],  # noqa: F811
) -> None:
    run("init", "--operator", "it@seller.example", "--org", "Seller Co")
    op = ("--as", "it@seller.example")
    run(*op, "org", "add", "Bidder A", "--kind", "bidder")
    run(*op, "person", "add", "b@bidder.example", "--name", "B", "--org", "Bidder A")
    r = CliRunner().invoke(app, ["--as", "b@bidder.example", "deal", "list"])
    assert r.exit_code == 4 and "dealvault login --server" in r.output
    events = json.loads(run("--as", "it@seller.example", "audit", "log", "--action", "identity",
                            "--json"))  # fmt: skip
    assert events and events[-1]["actor"] == "b@bidder.example"
    assert events[-1]["decision"] == "deny"
