"""The sign-in pages through the real ASGI app, as a browser uses them (forms, cookies,
redirects): invitation → password → TOTP → recovery codes, sign-in with a second factor,
password reset, sign-out, sessions and "sign out everywhere", language and time zone; and
their refusals (weak or differing passwords, wrong codes, a password-only session, a form
without its CSRF field, a redirect off the site)."""

from __future__ import annotations

import re
from email.header import decode_header, make_header

import pyotp
import pytest

from dealvault.flows import accounts
from tests.api.conftest import ANALYST, PASSWORD, Server
from tests.api.test_signin import events
from tests.conftest import STEWARD, P
from tests.web.conftest import Browser, browser, csrf_of, sign_up


def invite(server: Server, email: str = ANALYST, role: str = "bidder_clean_team") -> None:
    ctx = server.app.state.dealvault
    accounts.invite(server.stores, actor=P(STEWARD), rules=ctx.rules, mailer=ctx.mailer,
                    deal=server.world.deal, email=email, role=role, name="Analyst",
                    organization="Bidder A")  # fmt: skip


def sign_in(server: Server, b: Browser, *, password: str = PASSWORD, next: str = "/deals"):  # type: ignore[no-untyped-def]
    page = b.http.post(
        "/sign-in", data={"email": ANALYST, "password": password, "next": next},
        follow_redirects=True,
    )  # fmt: skip
    return page


@pytest.mark.parametrize("language", ["en", "zh"])
def test_invitation_to_the_deals_through_the_pages(server: Server, language: str) -> None:
    invite(server)
    b = sign_up(server, ANALYST, language=language)
    deals = b.get("/deals")
    assert deals.status_code == 200
    assert ("我的交易" in deals.text) == (language == "zh")
    assert f'href="/deals/{server.world.deal}"' in deals.text
    assert events(server, "account.activate") and events(server, "account.totp_enrol")


def test_the_invitation_refuses_differing_and_weak_passwords_in_the_readers_language(
    server: Server,
) -> None:
    invite(server)
    http = server.client()
    http.cookies.set("dealvault-lang", "zh")
    secret = server.mailbox.link_secret(ANALYST)
    differ = http.post("/account/invite", data={"secret": secret, "password": PASSWORD,
                                                "again": PASSWORD + "x"})  # fmt: skip
    assert differ.status_code == 400 and "两次输入的密码不一致" in differ.text
    short = http.post("/account/invite", data={"secret": secret, "password": "short",
                                               "again": "short"})  # fmt: skip
    assert short.status_code == 400 and "密码太短：请至少使用 12 个字符" in short.text
    # the link still works after the refusals, then never again
    ok = http.post("/account/invite", data={"secret": secret, "password": PASSWORD,
                                            "again": PASSWORD})  # fmt: skip
    assert ok.status_code == 200 and "data-totp-secret" in ok.text
    again = server.client().post("/account/invite", data={"secret": secret,
                                                          "password": PASSWORD,
                                                          "again": PASSWORD})  # fmt: skip
    assert again.status_code == 400 and "此链接无效" in again.text  # Chinese by default


def test_a_wrong_totp_code_at_enrolment_shows_a_new_code_to_scan(server: Server) -> None:
    invite(server)
    http = browser(server).http
    secret = server.mailbox.link_secret(ANALYST)
    page = http.post("/account/invite", data={"secret": secret, "password": PASSWORD,
                                              "again": PASSWORD})  # fmt: skip
    wrong = http.post("/account/enrol", data={"csrf": csrf_of(page), "code": "000000"})
    assert wrong.status_code == 400 and "the code does not match" in wrong.text
    key = re.search(r"data-totp-secret>([A-Z2-7]+)<", wrong.text)
    assert key
    done = http.post(
        "/account/enrol", data={"csrf": csrf_of(wrong), "code": pyotp.TOTP(key.group(1)).now()}
    )
    assert done.status_code == 200 and len(re.findall(r"<li><code>", done.text)) == 10


def test_sign_in_needs_the_password_then_the_code(server: Server) -> None:
    invite(server)
    first = sign_up(server, ANALYST)
    b = browser(server)
    wrong = sign_in(server, b, password="not the password at all")
    assert wrong.status_code == 401 and "wrong e-mail or password" in wrong.text
    code_page = sign_in(server, b, next=f"/deals/{server.world.deal}")
    assert code_page.url.path == "/sign-in/code"
    # with the password only, no deal page opens: the browser is sent to the code
    blocked = b.http.get("/deals", follow_redirects=False)
    assert blocked.status_code == 303 and blocked.headers["location"] == "/sign-in/code"
    bad = b.http.post("/sign-in/code", data={"csrf": csrf_of(code_page), "code": "123456",
                                             "next": "/deals"})  # fmt: skip
    assert bad.status_code == 401 and "the code is wrong" in bad.text
    good = b.http.post(
        "/sign-in/code",
        data={
            "csrf": csrf_of(bad),
            "code": first.recovery[0],
            "next": f"/deals/{server.world.deal}",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == f"/deals/{server.world.deal}"


def test_a_page_sends_a_stranger_to_sign_in_and_never_off_the_site(server: Server) -> None:
    http = server.client()
    r = http.get(f"/deals/{server.world.deal}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/sign-in?next=/deals/{server.world.deal}"
    page = http.get("/sign-in?next=//evil.example/x")
    assert 'name="next" value="/deals"' in page.text
    invite(server)
    sign_up(server, ANALYST)
    b = browser(server)
    out = sign_in(server, b, next="https://evil.example/")
    assert 'name="next" value="/deals"' in out.text


def test_a_change_without_its_csrf_field_is_refused(server: Server) -> None:
    invite(server)
    b = sign_up(server, ANALYST)
    r = b.http.post("/account/sessions/end-all", data={})
    assert r.status_code == 403 and "did not come from this site" in r.text
    r = b.http.post("/account/sessions/end-all", data={"csrf": "csrf_forged"})
    assert r.status_code == 403
    assert b.get("/deals").url.path == "/deals"  # still signed in


def test_sign_out_everywhere_ends_every_session(server: Server) -> None:
    invite(server)
    one = sign_up(server, ANALYST)
    assert one.totp is not None
    two = browser(server)
    page = sign_in(server, two)
    two.http.post("/sign-in/code", data={"csrf": csrf_of(page), "code": one.recovery[0]})
    listing = one.get("/account")
    assert listing.text.count('/end"') == 2  # both sessions listed, each with its button
    out = one.submit("/account", "/account/sessions/end-all", {})
    assert out.url.path == "/sign-in"
    for b in (one, two):
        assert (
            b.http.get("/deals", follow_redirects=False).headers["location"].startswith("/sign-in")
        )
    assert events(server, "auth.sessions_revoke_all")[-1]["counts"] == {"sessions": 2}


def test_sign_out_ends_the_session(server: Server) -> None:
    invite(server)
    b = sign_up(server, ANALYST)
    out = b.submit("/deals", "/sign-out", {})
    assert out.url.path == "/sign-in"
    assert b.http.get("/deals", follow_redirects=False).status_code == 303


def test_language_and_time_zone_follow_the_account(server: Server) -> None:
    invite(server)
    b = sign_up(server, ANALYST, language="en")
    bad = b.submit("/account", "/account/preferences", {"time_zone": "Mars/Olympus"})
    assert "is not an IANA time zone" in bad.text
    b.submit("/account", "/account/preferences", {"language": "zh", "time_zone": "Europe/London"})
    page = b.get("/account")
    assert "我的账户" in page.text and 'value="Europe/London"' in page.text
    # a new browser signing in gets the account's language at once
    assert b.totp is not None
    fresh = browser(server)
    code = sign_in(server, fresh)
    fresh.http.post("/sign-in/code", data={"csrf": csrf_of(code), "code": b.recovery[0]})
    assert "zh" in [c.value for c in fresh.http.cookies.jar if c.name == "dealvault-lang"]
    assert "我的交易" in fresh.get("/deals").text
    assert events(server, "account.preferences")


def test_the_language_switch_and_accept_language(server: Server) -> None:
    http = server.client()
    assert "登录数据室" in http.get("/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert (
        "Sign in to the data room" in http.get("/sign-in", headers={"Accept-Language": "en"}).text
    )
    r = http.get("/language/en?back=/sign-in", follow_redirects=True)
    assert "Sign in to the data room" in r.text
    r = http.get("/language/zh?back=//evil.example", follow_redirects=False)
    assert r.headers["location"] == "/deals"


def test_password_reset_through_the_pages(server: Server) -> None:
    invite(server)
    sign_up(server, ANALYST)
    http = browser(server).http
    sent = http.post("/account/forgot", data={"email": ANALYST})
    assert sent.status_code == 200 and "is on its way" in sent.text
    unknown = http.post("/account/forgot", data={"email": "nobody@bidder-a.example"})
    assert unknown.status_code == 200 and "is on its way" in unknown.text  # never says
    secret = server.mailbox.link_secret(ANALYST, kind="reset")
    new = PASSWORD + " and more"
    done = http.post("/account/reset", data={"secret": secret, "password": new, "again": new})
    assert done.status_code == 200 and "Sign in again" in done.text
    b = browser(server)
    assert sign_in(server, b, password=new).url.path == "/sign-in/code"


def test_every_page_answer_carries_the_security_headers(server: Server) -> None:
    http = server.client()
    for url in ("/sign-in", "/account/invite", "/deals/nowhere"):
        r = http.get(url)
        csp = r.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "script-src 'self'" in csp
        assert "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
    js = http.get("/static/vendor/htmx.min.js")
    assert js.status_code == 200 and "htmx" in js.text[:2000]
    assert js.headers["cache-control"].startswith("public")


def test_no_page_holds_an_inline_script_or_style(server: Server) -> None:
    """What the CSP would block must not be needed: no <script> without src, no style=
    attribute, no on*= handler, on any page a stranger or a member opens."""
    invite(server)
    b = sign_up(server, ANALYST)
    pages = [b.get(u).text for u in ("/deals", f"/deals/{server.world.deal}", "/account")]
    anonymous = ("/sign-in", "/account/invite", "/account/forgot", "/account/reset")
    pages += [server.client().get(u).text for u in anonymous]
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert not re.search(r"\sstyle=", html)
        assert not re.search(r"\son[a-z]+=", html)


def test_an_unknown_deal_is_a_page_not_a_traceback(server: Server) -> None:
    invite(server)
    b = sign_up(server, ANALYST, language="zh")
    r = b.http.get("/deals/no-such-deal")
    assert r.status_code == 404 and "未找到" in r.text
    assert "Traceback" not in r.text
    api = b.http.get("/api/deals/no-such-deal")
    assert api.headers["content-type"].startswith("application/json")  # the API answers JSON


def test_the_mails_are_in_chinese_and_english(server: Server) -> None:
    invite(server)
    to, raw, body = server.mailbox.messages[-1]
    subject = str(make_header(decode_header(raw)))
    assert to == ANALYST and "数据室邀请" in subject and "Invitation to deal" in subject
    assert "竞买方清洁团队" in body and "bidder's clean team" in body
    assert body.count("/account/invite#") == 2
    b = sign_up(server, ANALYST)
    b.submit("/account", "/account/preferences", {"language": "en"})
    browser(server).http.post("/account/forgot", data={"email": ANALYST})
    _, raw, body = server.mailbox.messages[-1]
    assert "重置" in str(make_header(decode_header(raw))) and body.index("Someone") < body.index(
        "有人"
    )  # English first
