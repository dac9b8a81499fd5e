"""Passkeys as the second factor: sign-up with a passkey instead of TOTP, sign-in with it,
and what must fail (another origin, a replayed assertion, someone else's passkey)."""

from __future__ import annotations

from tests.api.authenticator import SoftAuthenticator
from tests.api.conftest import ANALYST, OTHER, PASSWORD, Server, activate
from tests.api.test_signin import events, invite

ORIGIN = "https://dataroom.example"


def _sign_up_with_passkey(server: Server, email: str) -> SoftAuthenticator:
    http = server.client()
    secret = server.mailbox.link_secret(email)
    r = http.post("/api/account/activate", json={"secret": secret, "password": PASSWORD})
    csrf = r.json()["csrf"]
    options = http.post("/api/account/passkeys/begin", headers={"X-CSRF-Token": csrf})
    assert options.status_code == 200, options.text
    assert options.json()["rp"]["id"] == "dataroom.example"
    device = SoftAuthenticator(origin=ORIGIN)
    done = http.post(
        "/api/account/passkeys/finish",
        json={"credential": device.create(options.json())},
        headers={"X-CSRF-Token": csrf},
    )
    assert done.status_code == 200, done.text
    enrolled = done.json()["enrolled"]
    assert len(enrolled["recovery_codes"]) == 10
    assert http.get("/api/deals").status_code == 200  # signed in
    return device


def _password(server: Server, email: str) -> tuple[object, str]:
    http = server.client()
    r = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return http, r.json()["csrf"]


def test_sign_up_and_sign_in_with_a_passkey(server: Server) -> None:
    invite(server, ANALYST)
    device = _sign_up_with_passkey(server, ANALYST)
    http, csrf = _password(server, ANALYST)
    h = {"X-CSRF-Token": csrf}
    assert http.get("/api/deals").status_code == 403  # password alone: nothing
    options = http.post("/api/auth/passkey/begin", headers=h).json()
    assertion = device.get(options, rp_id="dataroom.example")
    r = http.post("/api/auth/passkey/finish", json={"credential": assertion}, headers=h)
    assert r.status_code == 200, r.text
    assert http.get("/api/deals").status_code == 200
    used = [e for e in events(server, "deal.list") if e["actor"] == ANALYST]
    assert used[-1]["authn"] == "password+webauthn"
    # the same assertion again (a replay) is refused: the challenge was used up
    http2, csrf2 = _password(server, ANALYST)
    http2.post("/api/auth/passkey/begin", headers={"X-CSRF-Token": csrf2})
    again = http2.post("/api/auth/passkey/finish", json={"credential": assertion},
                       headers={"X-CSRF-Token": csrf2})  # fmt: skip
    assert again.status_code == 401


def test_a_passkey_for_another_origin_or_person_is_refused(server: Server) -> None:
    invite(server, ANALYST)
    device = _sign_up_with_passkey(server, ANALYST)
    invite(server, OTHER)
    other = activate(server, OTHER)  # TOTP
    assert other.totp is not None
    # a phishing site's origin
    http, csrf = _password(server, ANALYST)
    options = http.post("/api/auth/passkey/begin", headers={"X-CSRF-Token": csrf}).json()
    phished = device.get(options, rp_id="dataroom.example", origin="https://dataroom.example.evil")
    r = http.post("/api/auth/passkey/finish", json={"credential": phished},
                  headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert r.status_code == 401 and http.get("/api/deals").status_code == 403
    # the analyst's passkey does not open the other person's account
    http, csrf = _password(server, OTHER)
    r = http.post("/api/auth/passkey/begin", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 400  # that account has no passkey
    assert events(server, "auth.second_factor")
