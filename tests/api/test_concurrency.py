"""Two server workers on PostgreSQL: many parallel views against one grant never deliver
more rows than its cap (the cap is reserved under a row lock in each view's transaction)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.api.conftest import PASSWORD, Mailbox
from tests.api.test_serve_cli import _free_port, _ready
from tests.cli.test_cli import AS_OP, INIT, STEWARD, TRAINER, env, run  # noqa: F401
from tests.vault.helpers import customer_row, write_csv

CLEAN, COUNSEL = "clean@bidder.example", "counsel@law.example"
CAP = 30


def _deal_with_a_capped_grant(tmp_path: Path) -> None:
    run(*INIT)
    for org, kind in (("Bidder A", "bidder"), ("Law LLP", "law_firm")):
        run(*AS_OP, "org", "add", org, "--kind", kind)
    for email, org in ((STEWARD, "Seller Co"), (TRAINER, "Seller Co"), (COUNSEL, "Law LLP"),
                       (CLEAN, "Bidder A")):  # fmt: skip
        run(*AS_OP, "person", "add", email, "--name", email.split("@")[0], "--org", org)
    run(*AS_OP, "store", "grant", TRAINER, "--role", "training_admin")
    run(*AS_OP, "deal", "create", "d1", "--name", "Deal", "--seller", "Seller Co", "--bidder",
        "Bidder A", "--steward", STEWARD)  # fmt: skip
    run("deal", "add-party", "d1", "--org", "Law LLP", "--role", "counsel")
    run("deal", "add-member", "d1", "--person", COUNSEL, "--role", "counsel")
    run("deal", "add-member", "d1", "--person", CLEAN, "--role", "bidder_clean_team")
    done = (date.today() - timedelta(days=10)).isoformat()
    for who in (STEWARD, CLEAN):
        run("--as", TRAINER, "training", "add", "--person", who, "--course", "confidentiality",
            "--completed", done)  # fmt: skip
    rows = [customer_row(i, 手机号=f"139{i:08d}") for i in range(60)]
    run("import", str(write_csv(tmp_path / "c.csv", rows)), "--deal", "d1", "--dataset", "crm")
    run("agreement", "add", "--deal", "d1", "--org", "Bidder A", "--kind", "clean_team",
        "--title", "CTA", "--effective", done, "--signer", CLEAN)  # fmt: skip
    run("deal", "advance", "d1", "--reason", "teaser round done")
    run("deal", "advance", "d1", "--to", "clean_team", "--reason", "clean team phase")
    asked = run("--as", CLEAN, "access", "request", "--deal", "d1", "--dataset", "crm",
                "--category", "identity,contact", "--level", "masked", "--purpose",
                "spot checks", "--days", "7", "--row-cap", str(CAP), "--json")  # fmt: skip
    req = json.loads(asked)
    run("access", "approve", str(req["id"]))
    run("--as", COUNSEL, "access", "approve", str(req["id"]))


def test_parallel_views_on_two_workers_never_pass_the_row_cap(
    env: dict[str, str],  # noqa: F811
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pg_database: Callable[[], str],
) -> None:
    box, smtp_port = mailbox
    for key, value in {
        "DEALVAULT_DATABASE_URL": pg_database(),
        "DEALVAULT_KEYSTORE_URL": pg_database(),
        "DEALVAULT_SMTP_HOST": "127.0.0.1",
        "DEALVAULT_SMTP_PORT": str(smtp_port),
    }.items():
        monkeypatch.setenv(key, value)
    _deal_with_a_capped_grant(tmp_path)
    run("person", "invite", CLEAN, "--deal", "d1", "--role", "bidder_clean_team")
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dealvault.cli.main", "serve", "--port", str(port),
         "--insecure-http", "--workers", "2"],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its workers can be stopped with it, whatever happens
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _ready(proc, port)
        http = httpx.Client(base_url=base, timeout=120)
        r = http.post("/api/account/activate",
                      json={"secret": box.link_secret(CLEAN), "password": PASSWORD})  # fmt: skip
        cookie = re.search(r"__Host-dealvault=([^;]+)", r.headers["set-cookie"])
        assert cookie is not None
        h = {"Cookie": f"__Host-dealvault={cookie.group(1)}", "X-CSRF-Token": r.json()["csrf"]}
        totp = pyotp.TOTP(
            pyotp.parse_uri(http.post("/api/account/totp/begin", headers=h).json()["uri"]).secret
        )
        done = http.post("/api/account/totp/finish", json={"code": totp.now()}, headers=h)
        assert done.status_code == 200, done.text
        cookie = re.search(r"__Host-dealvault=([^;]+)", done.headers["set-cookie"])
        assert cookie is not None
        h = {"Cookie": f"__Host-dealvault={cookie.group(1)}"}

        messages: list[str] = []

        def view(_: int) -> tuple[int, int]:
            with httpx.Client(base_url=base, timeout=120) as c:
                params = {"purpose": "spot checks", "level": "masked", "limit": 500}
                got = c.get("/api/deals/d1/datasets/crm/view", headers=h, params=params)
            rows = len(got.json()["rows"]) if got.status_code == 200 else 0
            messages.append(got.json().get("message", "") if got.status_code != 200 else "")
            return got.status_code, rows

        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(view, range(24)))
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # a worker that does not stop: the whole group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    statuses = {s for s, _ in results}
    # 503: a request that raced another one to make the recipient's canaries (retry)
    assert statuses <= {200, 403, 503}, (results, set(messages))
    delivered = sum(n for _, n in results)
    assert delivered == CAP, results  # all of the cap, and never a row more
    assert any(s == 403 for s, _ in results)  # the rest were refused: the cap is used up
