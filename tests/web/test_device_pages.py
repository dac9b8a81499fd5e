"""The browser's device cookie: set at sign-in when the browser has none (Secure, HttpOnly,
SameSite=Strict, ~400 days), kept afterwards, and recorded only as a hash with every event of
the browser's sessions, a failed sign-in included."""

from __future__ import annotations

import json

from sqlalchemy import select

from dealvault.access.device import COOKIE, device_id
from dealvault.audit.models import AuditEvent
from tests.api.conftest import ANALYST, Server
from tests.web.conftest import browser, csrf_of, sign_up
from tests.web.test_signin_pages import invite, sign_in


def _log(server: Server) -> list[bytes]:
    with server.stores.records_session() as s:
        return [bytes(b) for b in s.scalars(select(AuditEvent.body).order_by(AuditEvent.seq))]


def test_the_device_cookie_is_set_at_sign_in_kept_and_recorded_hashed(server: Server) -> None:
    invite(server)
    first = sign_up(server, ANALYST)  # the invitation's form sets it too
    assert device_id(first.http.cookies.get(COOKIE)) is not None
    b = browser(server)
    wrong = b.http.post("/sign-in", data={"email": ANALYST, "password": "not it at all"})
    assert wrong.status_code == 401
    set_cookie = [h for h in wrong.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")]
    assert len(set_cookie) == 1
    flags = set_cookie[0].lower()
    assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags
    assert "max-age=34560000" in flags and "path=/" in flags
    raw = b.http.cookies.get(COOKIE)
    assert raw is not None and device_id(raw) is not None
    code_page = sign_in(server, b)
    assert code_page.url.path == "/sign-in/code"
    assert b.http.cookies.get(COOKIE) == raw  # kept: no new device at the next sign-in
    done = b.http.post(
        "/sign-in/code",
        data={"csrf": csrf_of(code_page), "code": first.recovery[0], "next": "/deals"},
        follow_redirects=True,
    )
    assert done.status_code == 200 and b.http.cookies.get(COOKIE) == raw
    log = [json.loads(e) for e in _log(server)]
    mine = [e for e in log if e["actor"] == ANALYST and e.get("device") == device_id(raw)]
    actions = [(e["action"], e["decision"]) for e in mine]
    assert ("auth.password", "deny") in actions and ("auth.password", "allow") in actions
    assert ("auth.second_factor", "allow") in actions and ("deal.list", "allow") in actions
    assert all(e["authn"] for e in mine if e["action"] == "deal.list")
    signed_up = device_id(first.http.cookies.get(COOKIE))
    enrolled = [e["action"] for e in log if e.get("device") == signed_up]
    assert enrolled[:2] == ["account.activate", "account.totp_begin"]
    everything = b"\n".join(_log(server))
    for value in (raw, first.http.cookies.get(COOKIE)):
        assert value is not None and value.encode() not in everything
