"""A real browser on the real server: the application of the ``server`` fixture served by
uvicorn on a loopback port, and Debian's Chromium driven by Playwright for Python
(``executable_path=/usr/bin/chromium``; Playwright's own browser download is not used).

Without Chromium the browser tests skip with a message, except where CI or
DEALVAULT_REQUIRE_BROWSER=1 says they must run (then they fail)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = os.environ.get("DEALVAULT_CHROMIUM", "/usr/bin/chromium")
AXE = (
    Path(__file__).resolve().parents[2] / "web-assets" / "node_modules" / "axe-core" / "axe.min.js"
)
SCREENS = Path(__file__).parent / "screens"


def _required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("DEALVAULT_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test process."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if _required():
            pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class Live:
    """The server on a loopback port, in a thread of the test process."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """``localhost``, not an address: a passkey's relying party must be a host name."""
        return f"http://localhost:{self.port}"

    def __enter__(self) -> Live:
        self.thread.start()
        end = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > end:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of ``impacts`` on the page as it is (axe-core is vendored from
    the npm registry by `make web-assets`; the page's context must bypass the CSP to run it)."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def screenshot(page: Any, name: str) -> None:
    """Keep a screenshot of the page (docs/web.md shows them; scripts/web_screens.py copies
    the chosen ones into docs/img/web/)."""
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)
