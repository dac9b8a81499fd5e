"""Invitation -> password -> TOTP -> a view at the allowed level, through the real ASGI app
and a real SMTP server; and every way in that must fail."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from sqlalchemy import update

from dealvault.accounts.models import AccountLink, AuthSession
from dealvault.db.base import utcnow
from dealvault.flows import accounts
from tests.api.conftest import ANALYST, OTHER, PASSWORD, Server, Signed, activate
from tests.conftest import BIDDER_PERSON, STEWARD, P

assert ANALYST == BIDDER_PERSON


def invite(server: Server, email: str, role: str = "bidder_business", deal: str = "") -> None:
    ctx = server.app.state.dealvault
    out = accounts.invite(
        server.stores,
        actor=P(STEWARD),
        rules=ctx.rules,
        mailer=ctx.mailer,
        deal=deal or server.world.deal,
        email=email,
        role=role,
    )
    assert out.mailed and out.email == email


def events(server: Server, action: str) -> list[dict[str, object]]:
    from dealvault.audit.store import LogFilter, query

    with server.stores.records_session() as s:
        return query(s, flt=LogFilter(action=action))


def test_invitation_password_totp_then_a_view_at_the_allowed_level(server: Server) -> None:
    invite(server, ANALYST)
    to, subject, body = server.mailbox.messages[-1]
    assert to == ANALYST and "clean-2026" in subject
    assert "https://dataroom.example/account/invite#dvi_" in body
    me = activate(server, ANALYST)
    assert len(me.recovery) == 10
    deals = me.http.get("/api/deals")
    assert deals.status_code == 200 and [d["code"] for d in deals.json()] == ["clean-2026"]
    view = me.http.get(
        "/api/deals/clean-2026/datasets/crm/view",
        params={"purpose": "sizing the base", "level": "aggregate", "group_by": "gender"},
    )
    assert view.status_code == 200, view.text
    page = view.json()
    assert page["meta"]["level"] == "aggregate" and page["total"] >= 1
    assert "13900000001" not in view.text and "user1@example.com" not in view.text
    masked = me.http.get(
        "/api/deals/clean-2026/datasets/crm/view", params={"purpose": "x", "level": "masked"}
    )
    assert masked.status_code == 403 and "13900000001" not in masked.text
    # every event of the session names the person, the method, the session and the client
    seen = [e for e in events(server, "read") + events(server, "disclose") if e["actor"] == ANALYST]
    seen += [e for e in events(server, "deal.list") if e["actor"] == ANALYST]
    assert seen, "the reads were recorded"
    for e in seen:
        assert e["authn"] == "password+totp" and str(e["session"]).startswith("ses_")
        assert e["client"] == "127.0.0.1"
    logins = events(server, "auth.second_factor") + events(server, "account.totp_enrol")
    assert logins


def test_wrong_password_wrong_code_replayed_code_and_lockout(server: Server) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    http = server.client()
    bad = http.post("/api/auth/login", json={"email": ANALYST, "password": "wrong " + PASSWORD})
    assert bad.status_code == 401 and bad.json()["message"] == "wrong e-mail or password"
    unknown = http.post("/api/auth/login", json={"email": "nobody@x.invalid", "password": "x"})
    assert unknown.status_code == 401 and unknown.json() == bad.json()  # no enumeration
    ok = http.post("/api/auth/login", json={"email": ANALYST, "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["next"] == "totp"
    csrf = ok.json()["csrf"]
    # a half-signed-in session sees nothing
    assert http.get("/api/deals").status_code == 403
    assert me.totp is not None
    used = me.totp.now()  # used at enrolment a moment ago: a replay
    replay = http.post(
        "/api/auth/second-factor", json={"code": used}, headers={"X-CSRF-Token": csrf}
    )
    assert replay.status_code == 401
    wrong = http.post(
        "/api/auth/second-factor", json={"code": "000000"}, headers={"X-CSRF-Token": csrf}
    )
    assert wrong.status_code in (401, 429)
    # the third failure (password + codes) locked the account: even the right code is refused
    locked = http.post("/api/auth/login", json={"email": ANALYST, "password": PASSWORD})
    assert locked.status_code == 429 and "locked" in locked.json()["message"]
    assert events(server, "auth.lockout") and events(server, "auth.locked")
    assert all(
        e["decision"] == "deny"
        for e in events(server, "auth.password")
        if e["actor"] == "anonymous"
    )


def test_recovery_code_works_once(server: Server) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    for expect in (200, 401):
        http = server.client()
        ok = http.post("/api/auth/login", json={"email": ANALYST, "password": PASSWORD})
        r = http.post("/api/auth/second-factor", json={"code": me.recovery[0]},
                      headers={"X-CSRF-Token": ok.json()["csrf"]})  # fmt: skip
        assert r.status_code == expect, r.text


def test_links_expire_and_work_once(server: Server) -> None:
    invite(server, ANALYST)
    secret = server.mailbox.link_secret(ANALYST)
    http = server.client()
    weak = http.post("/api/account/activate", json={"secret": secret, "password": "password1234"})
    assert weak.status_code == 400 and "too common" in weak.json()["message"]
    mine = http.post(
        "/api/account/activate", json={"secret": secret, "password": "analyst " + PASSWORD}
    )
    assert mine.status_code == 400 and "e-mail" in mine.json()["message"]
    # a refused password does not use the link up; a good one does, once
    assert (
        http.post(
            "/api/account/activate", json={"secret": secret, "password": PASSWORD}
        ).status_code
        == 200
    )
    again = http.post("/api/account/activate", json={"secret": secret, "password": PASSWORD})
    assert again.status_code == 403 and "expired or was already used" in again.json()["message"]
    invite(server, OTHER)
    late = server.mailbox.link_secret(OTHER)
    with server.stores.records_session() as s:  # the invitation has expired
        s.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    expired = http.post("/api/account/activate", json={"secret": late, "password": PASSWORD})
    assert expired.status_code == 403 and "expired" in expired.json()["message"]


def test_sessions_end_idle_absolute_revoked_and_disabled(server: Server) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    assert me.http.get("/api/deals").status_code == 200
    with server.stores.records_session() as s:  # idle for longer than the idle timeout
        s.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(hours=2)))
        s.commit()
    assert me.http.get("/api/deals").status_code == 401
    me = _sign_in(server, me)
    with server.stores.records_session() as s:  # past the absolute timeout
        s.execute(update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert me.http.get("/api/deals").status_code == 401
    me = _sign_in(server, me)
    listed = me.http.get("/api/account/sessions").json()
    current = next(x for x in listed if x["current"])
    assert me.post(f"/api/account/sessions/{current['id']}", params={}).status_code in (404, 405)
    assert (
        me.http.delete(
            f"/api/account/sessions/{current['id']}", headers={"X-CSRF-Token": me.csrf}
        ).status_code
        == 204
    )
    assert me.http.get("/api/deals").status_code == 401
    me = _sign_in(server, me)
    accounts.set_disabled(
        server.stores, actor=P(STEWARD), deal="clean-2026", email=ANALYST, disabled=True
    )
    assert me.http.get("/api/deals").status_code == 401  # the very next request
    http = server.client()
    r = http.post("/api/auth/login", json={"email": ANALYST, "password": PASSWORD})
    assert r.status_code == 401 and "disabled" in r.json()["message"]


def _sign_in(server: Server, me: Signed) -> Signed:
    """Sign in again (with a recovery code: the TOTP code of this step was used already)."""
    http = server.client()
    ok = http.post("/api/auth/login", json={"email": ANALYST, "password": PASSWORD})
    assert ok.status_code == 200, ok.text
    code = me.recovery.pop()
    r = http.post(
        "/api/auth/second-factor", json={"code": code}, headers={"X-CSRF-Token": ok.json()["csrf"]}
    )
    assert r.status_code == 200, r.text
    return Signed(http=http, csrf=r.json()["csrf"], totp=me.totp, recovery=me.recovery)


def test_csrf_is_required_for_every_change(server: Server) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    body = {"dataset": "crm", "categories": ["contact"], "level": "masked", "purpose": "p",
            "duration_days": 5}  # fmt: skip
    missing = me.http.post("/api/deals/clean-2026/requests", json=body)
    assert missing.status_code == 403 and "X-CSRF-Token" in missing.json()["message"]
    wrong = me.http.post(
        "/api/deals/clean-2026/requests", json=body, headers={"X-CSRF-Token": "csrf_x"}
    )
    assert wrong.status_code == 403


def test_tokens_are_scoped_expiring_revocable_and_shown_once(server: Server) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    made = me.post("/api/account/tokens", json={"name": "script", "scopes": ["read"], "days": 7})
    assert made.status_code == 201, made.text
    secret, tid = made.json()["secret"], made.json()["token"]["id"]
    listed = me.http.get("/api/account/tokens").json()
    assert [t["id"] for t in listed] == [tid] and secret not in str(listed)
    bearer = server.client()
    bearer.headers["Authorization"] = f"Bearer {secret}"
    assert bearer.get("/api/deals").status_code == 200
    body = {"dataset": "crm", "categories": ["contact"], "level": "masked", "purpose": "p",
            "duration_days": 5}  # fmt: skip
    scoped = bearer.post("/api/deals/clean-2026/requests", json=body)
    assert scoped.status_code == 403 and "scopes" in scoped.json()["message"]
    assert (
        bearer.post("/api/account/tokens", json={"name": "x", "scopes": ["read"]}).status_code
        == 403
    )
    assert (
        me.http.delete(f"/api/account/tokens/{tid}", headers={"X-CSRF-Token": me.csrf}).status_code
        == 200
    )
    assert bearer.get("/api/deals").status_code == 401


def test_a_bidder_cannot_see_another_bidders_deal_or_act_as_operator(server: Server) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    assert (
        me.post("/api/deals/clean-2026/members/disable", json={"email": STEWARD}).status_code == 403
    )
    r = me.post(
        "/api/deals/clean-2026/invitations",
        json={"email": "x@bidder-a.example", "role": "bidder_business"},
    )
    assert r.status_code == 403
    assert me.http.get("/api/deals/clean-2026/audit").status_code == 403
    assert me.http.get("/api/deals/nope").status_code == 404
    # nothing without a sign-in
    anon = server.client()
    for url in (
        "/api/deals",
        "/api/deals/clean-2026",
        "/api/deals/clean-2026/datasets/crm/view?purpose=x",
    ):
        r = anon.get(url)
        assert r.status_code == 401 and "13900000001" not in r.text


def test_password_reset_ends_every_session(server: Server) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    http = server.client()
    for email in (ANALYST, "nobody@x.invalid"):
        r = http.post("/api/account/reset-request", json={"email": email})
        assert r.status_code == 202
    secret = server.mailbox.link_secret(ANALYST, kind="reset")
    new = "orchid lantern 4412 meadow"
    assert (
        http.post("/api/account/reset", json={"secret": secret, "password": new}).status_code == 204
    )
    assert me.http.get("/api/deals").status_code == 401
    ok = http.post("/api/auth/login", json={"email": ANALYST, "password": new})
    assert ok.status_code == 200 and ok.json()["next"] == "totp"


def test_health_and_openapi(server: Server) -> None:
    http = server.client()
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}
    spec = http.get("/openapi.json").json()
    assert (
        "/api/auth/login" in spec["paths"]
        and "/api/deals/{deal}/datasets/{dataset}/view" in spec["paths"]
    )


def test_a_page_releases_only_its_rows(server: Server) -> None:
    """A masked view through the API releases (and records, and counts against a grant) the
    page asked for, not the whole dataset."""
    ctx = server.app.state.dealvault
    accounts.invite(server.stores, actor=P("operator@seller.example"), rules=ctx.rules,
                    mailer=ctx.mailer, deal=server.world.deal, email=STEWARD,
                    role="seller_steward")  # fmt: skip
    me = activate(server, STEWARD)
    url = "/api/deals/clean-2026/datasets/crm/view"
    pages = [
        me.http.get(url, params={"purpose": "checks", "level": "masked", "offset": o, "limit": 5})
        for o in (0, 5, 18)
    ]
    assert [p.status_code for p in pages] == [200, 200, 200], pages[0].text
    bodies = [p.json() for p in pages]
    assert [len(b["rows"]) for b in bodies] == [5, 5, 2]
    assert {b["total"] for b in bodies} == {20}
    ids = [tuple(r["token"] for r in b["rows"]) for b in bodies[:2]]
    assert not set(ids[0]) & set(ids[1])  # two different pages
    released = [e for e in events(server, "disclose") if e["actor"] == STEWARD]
    assert [e["counts"]["rows"] for e in released[-3:]] == [5, 5, 2]
    assert [e["subjects"]["count"] for e in released[-3:]] == [5, 5, 2]


def test_the_registers_are_read_by_the_roles_the_policy_names(server: Server) -> None:
    ctx = server.app.state.dealvault
    accounts.invite(server.stores, actor=P("operator@seller.example"), rules=ctx.rules,
                    mailer=ctx.mailer, deal=server.world.deal, email=STEWARD,
                    role="seller_steward")  # fmt: skip
    steward = activate(server, STEWARD)
    for path in ("agreements", "plans", "packages", "certificates"):
        r = steward.http.get(f"/api/deals/clean-2026/{path}")
        assert r.status_code == 200 and r.json() == [], (path, r.text)
    for path in ("/api/agreements/999", "/api/plans/999"):
        assert steward.http.get(path).status_code == 404
    invite(server, ANALYST)
    analyst = activate(server, ANALYST)
    for path in ("agreements", "plans", "packages", "certificates"):
        r = analyst.http.get(f"/api/deals/clean-2026/{path}")
        assert r.status_code == 403, (path, r.text)
    assert [e["decision"] for e in events(server, "agreement.list")][-1] == "deny"


def test_a_totp_device_is_replaced_only_from_a_signed_in_session(server: Server) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    h = {"X-CSRF-Token": me.csrf}
    # a session with the password only may not change the second factor
    half = server.client()
    ok = half.post("/api/auth/login", json={"email": ANALYST, "password": PASSWORD})
    refused = half.post("/api/account/totp/begin", headers={"X-CSRF-Token": ok.json()["csrf"]})
    assert refused.status_code == 403 and "second factor" in refused.json()["message"]
    # signed in with the current device: a new one is set up and confirmed
    begin = me.http.post("/api/account/totp/begin", headers=h)
    assert begin.status_code == 200, begin.text
    new = pyotp.TOTP(pyotp.parse_uri(begin.json()["uri"]).secret)
    wrong = me.http.post("/api/account/totp/finish", json={"code": "000000"}, headers=h)
    assert wrong.status_code in (400, 422), wrong.text
    done = me.http.post("/api/account/totp/finish", json={"code": new.now()}, headers=h)
    assert done.status_code == 200, done.text
    assert len(done.json()["recovery_codes"]) == 10 and done.json()["recovery_codes"] != me.recovery
    assert events(server, "account.totp_replace")
    # from now on the new device signs in; the old device's codes do not
    old = server.client()
    ok = old.post("/api/auth/login", json={"email": ANALYST, "password": PASSWORD})
    stale = old.post(
        "/api/auth/second-factor",
        json={"code": me.totp.now() if me.totp else ""},
        headers={"X-CSRF-Token": ok.json()["csrf"]},
    )
    assert stale.status_code == 401
    # the old recovery codes are gone with the old device
    again = server.client()
    ok = again.post("/api/auth/login", json={"email": ANALYST, "password": PASSWORD})
    gone = again.post(
        "/api/auth/second-factor",
        json={"code": me.recovery[0]},
        headers={"X-CSRF-Token": ok.json()["csrf"]},
    )
    assert gone.status_code in (401, 429)
