"""The web pages under test: the server fixture of tests/api (real ASGI app, real SMTP
server, both stores), and a browser-like client that reads each form's CSRF field as a
browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import pyotp

from tests.api.conftest import PASSWORD, Server, mailbox, server  # noqa: F401 - fixtures

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
