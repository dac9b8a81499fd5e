"""`make serve-demo`: the server on the demo store, with a data room deal and invented
accounts that have finished their sign-up; prints how to sign in, then serves until Ctrl-C.

Invitation mails go to a local SMTP server started here (nothing leaves the machine); each
account's TOTP secret is printed so that an authenticator app (or pyotp) can give codes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pyotp
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / os.environ.get("DEMO_DIR", ".demo")
OPERATOR = "it@jingjie.example"
STEWARD = "steward@jingjie.example"
SELLER, BIDDER, LAW = "晶洁日用品有限公司", "绿源家居集团", "金诚律师事务所"
DEAL = "dataroom-2026"
PASSWORD = "demo only: lantern orchard 2026"
PEOPLE = (
    ("analyst@lvyuan.example", "bidder_business"),
    ("counsel@jincheng.example", "counsel"),
)


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content)
        body = msg.get_payload(decode=True)
        self.mails.append((str(msg["To"]), body.decode() if isinstance(body, bytes) else ""))
        return "250 OK"

    def secret(self, to: str) -> str:
        for _ in range(250):
            for who, body in reversed(self.mails):
                m = re.search(r"/account/invite#(\S+)", body)
                if who == to and m:
                    return m.group(1)
            time.sleep(0.02)
        raise SystemExit(f"no invitation mail reached {to}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dv(env: dict[str, str], *args: str, actor: str = OPERATOR, check: bool = True) -> str:
    run = subprocess.run(
        ["dealvault", "--as", actor, *args], env=env, capture_output=True, text=True, check=False
    )
    if check and run.returncode != 0:
        raise SystemExit(f"dealvault {' '.join(args[:3])} failed:\n{run.stdout}{run.stderr}")
    return run.stdout


def set_up_deal(env: dict[str, str]) -> None:
    """A data room deal at due diligence with 2,000 invented customers (once)."""
    if any(d["code"] == DEAL for d in json.loads(dv(env, "deal", "list", "--json"))):
        return
    dv(env, "org", "add", LAW, "--kind", "law_firm", check=False)
    dv(env, "deal", "create", DEAL, "--name", "Data room demo", "--seller", SELLER, "--bidder",
       BIDDER, "--kind", "asset", "--steward", STEWARD)  # fmt: skip
    dv(env, "deal", "add-party", DEAL, "--org", LAW, "--role", "counsel", actor=STEWARD)
    out = DEMO / "dataroom-export"
    dv(env, "synth", "--rows", "2000", "--seed", "11", "--out", str(out), "--format", "csv")
    dv(env, "import", str(out / "customers.csv"), "--deal", DEAL, "--dataset", "crm",
       actor=STEWARD)  # fmt: skip
    dv(env, "deal", "advance", DEAL, "--reason", "teaser round done", actor=STEWARD)
    done = (date.today() - timedelta(days=10)).isoformat()
    dv(env, "training", "add", "--person", PEOPLE[0][0], "--course", "confidentiality",
       "--completed", done, actor="hr@jingjie.example", check=False)  # fmt: skip


def sign_up(base: str, secret: str) -> tuple[str, list[str]]:
    """Follow the invitation: password, TOTP; the TOTP secret and recovery codes."""
    http = httpx.Client(base_url=base, timeout=60)
    r = http.post("/api/account/activate", json={"secret": secret, "password": PASSWORD})
    r.raise_for_status()
    cookie = re.search(r"__Host-dealvault=([^;]+)", r.headers["set-cookie"])
    assert cookie is not None
    h = {"Cookie": f"__Host-dealvault={cookie.group(1)}", "X-CSRF-Token": r.json()["csrf"]}
    uri = http.post("/api/account/totp/begin", headers=h).json()["uri"]
    totp = pyotp.parse_uri(uri)
    done = http.post("/api/account/totp/finish", json={"code": totp.now()}, headers=h)
    done.raise_for_status()
    return str(totp.secret), list(done.json()["recovery_codes"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--once", action="store_true", help="set up, print, stop (for tests)")
    args = ap.parse_args()
    store = DEMO / "store"
    env = dict(os.environ)
    env.update(
        DEALVAULT_HOME=str(store),
        DEALVAULT_PASSPHRASE="demo passphrase, not for production",
        DEALVAULT_ARGON2_MEMORY_KIB="16384",
        DEALVAULT_ARGON2_TIME_COST="2",
        DEALVAULT_PUBLIC_URL=f"http://127.0.0.1:{args.port}",
    )
    if not (store / "vault.sqlite").exists():
        print("no demo store yet: running scripts/demo.sh first", flush=True)
        subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], env=env, check=True)
    inbox = Inbox()
    smtp_port = free_port()
    mail = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    mail.start()
    env.update(DEALVAULT_SMTP_HOST="127.0.0.1", DEALVAULT_SMTP_PORT=str(smtp_port))
    server = subprocess.Popen(
        ["dealvault", "serve", "--port", str(args.port), "--insecure-http"], env=env
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        set_up_deal(env)
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        saved = DEMO / "serve-demo-accounts.txt"
        if not saved.exists():  # the first run signs the invented people up
            lines = []
            for email, role in PEOPLE:
                dv(env, "person", "invite", email, "--deal", DEAL, "--role", role, actor=STEWARD)
                secret, codes = sign_up(base, inbox.secret(email))
                lines.append(
                    f"  {email} ({role})\n    password:    {PASSWORD}\n    TOTP secret: {secret}"
                    f"  (add it to an authenticator app)\n    a recovery code: {codes[0]}"
                )
            fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
        print(f"\ndealvault demo server: {base}  (API documentation: {base}/docs)\n")
        print(saved.read_text("utf-8"), end="")
        print(
            "\nsign in from another terminal (the code: your authenticator app, or\n"
            "  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\"):\n"
            f"  dealvault login --server {base} --email {PEOPLE[0][0]}\n"
            f"  dealvault deal list\n"
            f"  dealvault view --deal {DEAL} --dataset crm --purpose sizing --level aggregate "
            "--group-by gender\n  dealvault logout\n\nCtrl-C stops the server.",
            flush=True,
        )
        if not args.once:
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.terminate()
        server.wait(timeout=30)
        mail.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
