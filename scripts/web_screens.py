"""Screenshots of the main web pages for docs/web.md: runs the browser tests (Debian's
Chromium through Playwright, invented data), which keep a screenshot of each main page in
tests/web/screens/, and copies the ones the documentation shows into docs/img/web/.

    .venv/bin/python scripts/web_screens.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCREENS = ROOT / "tests" / "web" / "screens"
OUT = ROOT / "docs" / "img" / "web"
#: the screenshots docs/web.md shows
SHOWN = (
    "second-factor-zh",
    "recovery-codes",
    "agreement-accept",
    "steward-dashboard-zh",
    "business-aggregates-zh",
    "clean-records-en",
    "auditor-log-en",
    "buyer-package-en",
    "officer-incident-en",
)


def main() -> None:
    tests = [
        "tests/web/test_browser_signin.py",
        "tests/web/test_gates.py",
        "tests/web/test_browser_roles.py",
        "tests/web/test_browser_audit_transfer.py",
        "tests/web/test_browser_incidents.py",
    ]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-k", "sqlite", *tests],
        cwd=ROOT,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit("the browser tests failed: no screenshot copied")
    OUT.mkdir(parents=True, exist_ok=True)
    for name in SHOWN:
        shutil.copyfile(SCREENS / f"{name}.png", OUT / f"{name}.png")
        print(f"docs/img/web/{name}.png")


if __name__ == "__main__":
    main()
