"""The cookies of a signed-in browser, shared by the API and the pages: the session
(HttpOnly, Secure, SameSite=Strict, a ``__Host-`` name) and its CSRF token for the pages'
forms (HttpOnly as well: no script reads it); and the browser's device cookie."""

from __future__ import annotations

from fastapi import Request, Response

from dealvault.access import device as dev
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


def browser_device(request: Request) -> tuple[str, bool]:
    """The browser's device value: its cookie's, else a new one (True: to be kept with
    :func:`keep_device`). Only a form posted by this site's own page should make a new one:
    a SameSite=Strict cookie is not sent with a link followed from another site, and a new
    value there would replace the browser's device."""
    raw = request.cookies.get(dev.COOKIE)
    if dev.valid(raw):
        assert raw is not None
        return raw, False
    return dev.new_value(), True


def keep_device(response: Response, raw: str) -> None:
    """The long-lived device cookie: Secure, HttpOnly, SameSite=Strict, a ``__Host-`` name."""
    response.set_cookie(
        dev.COOKIE, raw, max_age=dev.COOKIE_MAX_AGE, path="/", secure=True, httponly=True,
        samesite="strict",
    )  # fmt: skip
