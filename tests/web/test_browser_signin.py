"""Signing up and in with a real browser (Debian's Chromium through Playwright): the
invitation link (its secret read from the fragment by the page's script), password, TOTP
from the QR page's key, recovery codes, the deal; sign-out; a passkey made and used with
Chromium's virtual authenticator; and no page breaking its Content-Security-Policy."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest

from dealvault.access.device import COOKIE, device_id
from tests.api.conftest import ANALYST, PASSWORD, Server
from tests.api.test_signin import events
from tests.web.conftest import new_page
from tests.web.live import Live, axe_violations, screenshot
from tests.web.test_signin_pages import invite


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The browser tests run on the embedded store only: what a page does on PostgreSQL is
    tested through the app on both stores (the other tests of tests/web)."""
    return str(request.param)


def follow_invitation(page: Any, server: Server, email: str = ANALYST) -> pyotp.TOTP:
    """Open the mailed link, set the password, enrol TOTP; the recovery codes are shown."""
    secret = server.mailbox.link_secret(email)
    page.goto(f"/account/invite#{secret}")
    assert "#" not in page.url  # the script took the secret out of the address bar
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    key = page.locator("[data-totp-secret]").text_content()
    assert key
    totp = pyotp.TOTP(key.strip())
    page.get_by_label("Six-digit code").fill(totp.now())
    page.get_by_role("button", name="Confirm").click()
    assert page.locator("[data-recovery-codes] li").count() == 10
    return totp


def test_a_new_member_signs_up_and_reaches_the_deal(server: Server, page: Any, live: Live) -> None:
    invite(server)
    follow_invitation(page, server)
    screenshot(page, "recovery-codes")
    page.get_by_role("link", name="I have kept them: continue").click()
    page.get_by_role("link", name="Sale of the cleaning business").click()
    assert page.get_by_role("heading", name="Sale of the cleaning business").is_visible()
    assert page.locator("nav.tabs a[aria-current=page]").text_content() == "Overview"
    # switch to Chinese and back
    page.get_by_role("link", name="中文").click()
    assert page.get_by_role("heading", name="交易各方").is_visible()
    page.get_by_role("link", name="English").click()
    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/sign-in")
    page.goto("/deals")
    assert "/sign-in" in page.url


def test_sign_in_with_password_and_code_in_chinese(
    server: Server, chromium: Any, live: Live
) -> None:
    invite(server)
    first = new_page(chromium, live)
    totp = follow_invitation(first, server)
    first.context.close()
    page = new_page(chromium, live, language="zh")
    page.goto("/deals")
    assert "/sign-in" in page.url
    page.get_by_label("电子邮箱").fill(ANALYST)
    page.get_by_label("密码").fill("wrong password, surely")
    page.get_by_role("button", name="继续").click()
    assert page.get_by_role("alert").text_content().strip().endswith("电子邮箱或密码错误")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="继续").click()
    screenshot(page, "second-factor-zh")
    page.get_by_label(re.compile("身份验证器应用中的验证码")).fill("000000")
    page.get_by_role("button", name="登录", exact=True).click()
    assert "验证码错误" in page.get_by_role("alert").text_content()
    # the code of the next 30-second step (one step of clock drift is accepted): the current
    # step's code was used at enrolment, and a code is never accepted twice
    page.get_by_label(re.compile("身份验证器应用中的验证码")).fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="登录", exact=True).click()
    assert page.get_by_role("heading", name="我的交易").is_visible()
    assert page.csp == []
    # the browser kept the device cookie set by the first attempt; events name its hash
    (cookie,) = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    seen = {e.get("device") for e in events(server, "auth.password")}
    assert device_id(cookie["value"]) in seen
    page.context.close()


def test_a_passkey_made_at_sign_up_signs_in(server: Server, chromium: Any, live: Live) -> None:
    """Chromium's virtual authenticator (DevTools protocol) stands in for a security key."""
    invite(server)
    page = new_page(chromium, live)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
    }})  # fmt: skip
    secret = server.mailbox.link_secret(ANALYST)
    page.goto(f"/account/invite#{secret}")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("link", name="Use a passkey instead").click()
    page.get_by_role("button", name="Create a passkey").click()
    codes = page.locator("[data-passkey-codes] li")
    codes.first.wait_for()
    assert codes.count() == 10
    page.get_by_role("link", name="I have kept them: continue").click()
    assert page.get_by_role("heading", name="My deals").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("E-mail").fill(ANALYST)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Use a passkey").click()
    page.get_by_role("heading", name="My deals").wait_for()
    assert page.csp == []
    page.context.close()


def test_the_sign_in_pages_pass_the_accessibility_check(
    server: Server, chromium: Any, live: Live
) -> None:
    page = new_page(chromium, live, bypass_csp=True)
    for url in ("/sign-in", "/account/forgot", "/account/invite#x", "/account/reset#x"):
        page.goto(url)
        assert axe_violations(page) == [], url
    page.context.close()
