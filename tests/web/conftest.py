"""The web pages under test: the server fixture of tests/api (real ASGI app, real SMTP
server, both stores), and a browser-like client that reads each form's CSRF field as a
browser would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pyotp
import pytest

from tests.api.conftest import PASSWORD, Server, mailbox, server  # noqa: F401 - fixtures
from tests.web.live import Live, chromium  # noqa: F401 - a fixture

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(page: httpx.Response) -> str:
    m = _CSRF.search(page.text)
    assert m, "the page has no form with a CSRF field"
    return m.group(1)


@dataclass
class Browser:
    """A client that follows the pages as a person would (cookies kept, redirects shown)."""

    http: httpx.Client
    totp: pyotp.TOTP | None = None
    #: the recovery codes shown at sign-up (each signs in once, whatever the clock says)
    recovery: list[str] = field(default_factory=list)

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url, follow_redirects=True)

    def submit(self, page_url: str, action: str, data: dict[str, str]) -> httpx.Response:
        """Open ``page_url``, then post ``data`` to ``action`` with the page's CSRF field."""
        page = self.http.get(page_url, follow_redirects=True)
        fields = {"csrf": csrf_of(page), **data} if 'name="csrf"' in page.text else data
        return self.http.post(action, data=fields, follow_redirects=True)


def browser(server: Server, *, language: str = "en") -> Browser:  # noqa: F811
    """A new browser with no session, its pages in ``language``."""
    http = server.client()
    http.cookies.set("dealvault-lang", language)
    return Browser(http=http)


def sign_up(server: Server, email: str, *, language: str = "en") -> Browser:  # noqa: F811
    """Follow the mailed invitation through the pages: password, TOTP, recovery codes."""
    b = browser(server, language=language)
    secret = server.mailbox.link_secret(email)
    r = b.http.post(
        "/account/invite",
        data={"secret": secret, "password": PASSWORD, "again": PASSWORD},
        follow_redirects=True,
    )
    assert r.status_code == 200, r.text
    m = re.search(r"data-totp-secret>([A-Z2-7]+)<", r.text)
    assert m, r.text
    b.totp = pyotp.TOTP(m.group(1))
    done = b.http.post(
        "/account/enrol", data={"csrf": csrf_of(r), "code": b.totp.now()}, follow_redirects=True
    )
    assert done.status_code == 200
    assert "data-recovery-codes" in done.text
    b.recovery = re.findall(r"<li><code>([^<]+)</code></li>", done.text)
    return b


@pytest.fixture
def live(server: Server) -> Iterator[Live]:  # noqa: F811
    """The server fixture's application served on a loopback port (for a real browser)."""
    ctx = server.app.state.dealvault
    with Live(server.app) as running:
        # the mailed links and the passkeys' relying party name this server
        ctx.rules = replace(ctx.rules, public_url=running.url)
        yield running


def new_page(
    chromium: Any,  # noqa: F811 - the fixture, passed in
    live: Live,
    *,
    language: str = "en",
    bypass_csp: bool = False,
) -> Any:
    """A page in a fresh browser context (no cookies), its pages in ``language``. Every
    message the browser logs about the Content-Security-Policy is kept in ``page.csp``."""
    context = chromium.new_context(
        base_url=live.url, locale="zh-CN" if language == "zh" else "en-GB",
        bypass_csp=bypass_csp,
    )  # fmt: skip
    context.add_cookies([{"name": "dealvault-lang", "value": language, "url": live.url}])
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.csp = []
    pg.on(
        "console",
        lambda m: pg.csp.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return pg


@pytest.fixture
def page(chromium: Any, live: Live) -> Iterator[Any]:  # noqa: F811
    """A fresh English page; the test fails if the page broke its own CSP."""
    pg = new_page(chromium, live)
    try:
        yield pg
        assert pg.csp == [], f"the page broke its Content-Security-Policy: {pg.csp}"
    finally:
        pg.context.close()
