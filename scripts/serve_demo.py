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
BANK, AUDIT = "华信证券（演示）", "明正会计师事务所（演示）"
DEAL = "dataroom-2026"
PASSWORD = "demo only: lantern orchard 2026"
#: one invented account per role: (e-mail, role, organisation, name)
PEOPLE = (
    (STEWARD, "seller_steward", SELLER, "陈静"),
    ("analyst@lvyuan.example", "bidder_business", BIDDER, "王磊"),
    ("clean@lvyuan.example", "bidder_clean_team", BIDDER, "李娜"),
    ("counsel@jincheng.example", "counsel", LAW, "赵敏"),
    ("banker@huaxin.example", "intermediary", BANK, "孙浩"),
    ("security@jingjie.example", "security_officer", SELLER, "周洁"),
    ("auditor@mingzheng.example", "auditor", AUDIT, "吴涛"),
    ("receiver@lvyuan.example", "buyer_receiver", BIDDER, "郑阳"),
)
NDA = (
    "保密协议（演示）/ Non-disclosure agreement (demo)\n\n"
    "接收方对数据室中的全部信息负有保密义务，仅为评估本交易之目的使用。\n"
    "The recipient keeps everything in the data room confidential and uses it only to "
    "evaluate this transaction.\n"
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
    dv(env, "org", "add", BANK, "--kind", "intermediary", check=False)
    dv(env, "org", "add", AUDIT, "--kind", "auditor", check=False)
    dv(env, "deal", "create", DEAL, "--name", "Data room demo", "--seller", SELLER, "--bidder",
       BIDDER, "--kind", "asset", "--steward", STEWARD)  # fmt: skip
    for org, role in ((LAW, "counsel"), (BANK, "intermediary"), (AUDIT, "auditor")):
        dv(env, "deal", "add-party", DEAL, "--org", org, "--role", role, actor=STEWARD)
    out = DEMO / "dataroom-export"
    dv(env, "synth", "--rows", "2000", "--seed", "11", "--out", str(out), "--format", "csv")
    dv(env, "import", str(out / "customers.csv"), "--deal", DEAL, "--dataset", "crm",
       actor=STEWARD)  # fmt: skip
    dv(env, "deal", "advance", DEAL, "--reason", "teaser round done", actor=STEWARD)
    nda = DEMO / "dataroom-nda.txt"
    nda.write_text(NDA, encoding="utf-8")
    dv(env, "agreement", "add", "--deal", DEAL, "--org", BIDDER, "--kind", "nda", "--title",
       "NDA (demo)", "--effective", date.today().isoformat(), "--document", str(nda),
       "--acceptance", "click", actor=STEWARD)  # fmt: skip


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
        DEALVAULT_PUBLIC_URL=f"http://localhost:{args.port}",
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
    base = f"http://localhost:{args.port}"  # a host name: passkeys need one
    try:
        # the server first (it opens the store and makes its keys), then the set-up
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        set_up_deal(env)
        saved = DEMO / "serve-demo-accounts.txt"
        if not saved.exists():  # the first run signs the invented people up
            lines = []
            done = (date.today() - timedelta(days=10)).isoformat()
            for email, role, org, name in PEOPLE:
                # nobody invites themselves: the store's operator invites the steward
                by = OPERATOR if email == STEWARD else STEWARD
                dv(env, "person", "invite", email, "--deal", DEAL, "--role", role, "--name",
                   name, "--org", org, actor=by)  # fmt: skip
                dv(env, "training", "add", "--person", email, "--course", "confidentiality",
                   "--completed", done, actor="hr@jingjie.example", check=False)  # fmt: skip
                secret, codes = sign_up(base, inbox.secret(email))
                lines.append(
                    f"  {email} ({role})\n    password:    {PASSWORD}\n    TOTP secret: {secret}"
                    f"  (add it to an authenticator app)\n    a recovery code: {codes[0]}"
                )
            fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
        print(f"\ndealvault data room: open {base}/sign-in in a browser"
              f"  (API documentation: {base}/docs)\n")  # fmt: skip
        print(saved.read_text("utf-8"), end="")
        print(
            "\nsign in from another terminal (the code: your authenticator app, or\n"
            "  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\"):\n"
            f"  dealvault login --server {base} --email {PEOPLE[1][0]}\n"
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
