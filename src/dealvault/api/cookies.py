"""The cookies of a signed-in browser, shared by the API and the pages: the session
(HttpOnly, Secure, SameSite=Strict, a ``__Host-`` name) and its CSRF token for the pages'
forms (HttpOnly as well: no script reads it)."""

from __future__ import annotations

from fastapi import Response

from dealvault.api.deps import COOKIE, CSRF_COOKIE
from dealvault.flows.accounts import AccountRules, SignIn


def keep_session(response: Response, rules: AccountRules, out: SignIn) -> None:
    age = int(rules.timeouts.absolute.total_seconds())
    for name, value in ((COOKIE, out.secret), (CSRF_COOKIE, out.csrf)):
        response.set_cookie(
            name, value, max_age=age, path="/", secure=True, httponly=True, samesite="strict"
        )


def forget_session(response: Response) -> None:
    for name in (COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")
