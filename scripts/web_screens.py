"""Screenshots of the main web pages for docs/web.md, taken from a running `make
serve-demo` (it prints the accounts; they are read from .demo/serve-demo-accounts.txt) with
Debian's Chromium through Playwright. Writes docs/img/web/<name>.png.

    make serve-demo            # in one terminal
    .venv/bin/python scripts/web_screens.py [--base http://localhost:8443]
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import pyotp
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / os.environ.get("DEMO_DIR", ".demo")
OUT = ROOT / "docs" / "img" / "web"
PASSWORD = "demo only: lantern orchard 2026"
DEAL = "dataroom-2026"
#: (account, language, [(name, path)]): the pages each role is shown on
SHOTS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("steward@jingjie.example", "zh", (
        ("steward-overview-zh", f"/deals/{DEAL}"),
        ("steward-inventory-zh", f"/deals/{DEAL}/inventory?dataset=crm"),
        ("steward-requests-zh", f"/deals/{DEAL}/requests"),
        ("steward-people-zh", f"/deals/{DEAL}/people"),
    )),
    ("analyst@lvyuan.example", "en", (
        ("business-aggregates-en", f"/deals/{DEAL}/aggregates?dataset=crm&group_by=province"),
    )),
    ("clean@lvyuan.example", "zh", (
        ("clean-agreement-zh", f"/deals/{DEAL}"),
        ("clean-records-zh", f"/deals/{DEAL}/records?dataset=crm"),
    )),
    ("counsel@jincheng.example", "en", (
        ("counsel-timeline-en", f"/deals/{DEAL}/timeline"),
    )),
    ("auditor@mingzheng.example", "en", (
        ("auditor-log-en", f"/deals/{DEAL}/audit"),
    )),
    ("receiver@lvyuan.example", "en", (("buyer-transfer-en", f"/deals/{DEAL}/transfer"),)),
)  # fmt: skip


def totp_secret(accounts: str, email: str) -> str:
    m = re.search(re.escape(email) + r".*?TOTP secret: (\S+)", accounts, re.S)
    if m is None:
        raise SystemExit(f"{email} is not in {DEMO / 'serve-demo-accounts.txt'}")
    return m.group(1)


def sign_in(page: Page, email: str, secret: str) -> None:
    page.goto("/sign-in")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.click("button.primary")
    page.fill("#f-code", pyotp.TOTP(secret).at(time.time() + 30))  # never a code used before
    page.click("button.primary")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--base", default="http://localhost:8443")
    args = ap.parse_args()
    accounts = (DEMO / "serve-demo-accounts.txt").read_text("utf-8")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for email, language, pages in SHOTS:
            ctx = browser.new_context(
                base_url=args.base, viewport={"width": 1280, "height": 860},
                locale="zh-CN" if language == "zh" else "en-GB",
            )  # fmt: skip
            ctx.add_cookies([{"name": "dealvault-lang", "value": language, "url": args.base}])
            page = ctx.new_page()
            sign_in(page, email, totp_secret(accounts, email))
            for name, path in pages:
                page.goto(path)
                page.screenshot(path=str(OUT / f"{name}.png"))
                print(f"{name}: {path} -> {page.url}")
            ctx.close()
        browser.close()


if __name__ == "__main__":
    main()
