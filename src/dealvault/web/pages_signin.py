"""Signing in on the web: password, second factor (TOTP code, recovery code or passkey),
the invitation (password, then TOTP or a passkey, then recovery codes), password reset and
sign-out. Each form posts to the flow the API uses."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dealvault.access.device import device_id
from dealvault.access.principal import Principal
from dealvault.api.cookies import browser_device, forget_session, keep_device, keep_session
from dealvault.api.deps import Client, Ctx
from dealvault.errors import DealvaultError, Invalid
from dealvault.flows import accounts, preferences, signin
from dealvault.web.cookies import keep_preferences
from dealvault.web.deps import Anonymous, Signing
from dealvault.web.errors import go
from dealvault.web.render import Viewer, render

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=1024)]


def local_path(value: str | None, default: str = "/deals") -> str:
    """``value`` if it is a path of this site (never another site: no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:300]
    return default


def _step(nxt: str | None, then: str) -> str:
    if nxt == "totp":
        return "/sign-in/code?next=" + quote(then, safe="/")
    if nxt == "enrol":
        return "/account/enrol"
    return then


@router.get("/")
def home(request: Request) -> Response:
    return go(request, "/deals")


@router.get("/sign-in")
def sign_in_page(request: Request, viewer: Anonymous, next: str | None = None) -> Response:
    return render(request, viewer, "signin/sign_in.html", next=local_path(next), error=None)


@router.post("/sign-in")
def sign_in(
    request: Request,
    viewer: Anonymous,
    ctx: Ctx,
    client: Client,
    email: Annotated[str, Form(max_length=254)],
    password: Field,
    next: Annotated[str, Form(max_length=300)] = "/deals",
) -> Response:
    then = local_path(next)
    raw, fresh = browser_device(request)
    response: Response
    try:
        out = signin.login(
            ctx.stores, rules=ctx.rules, email=email, password=password, client=client,
            device=device_id(raw),
        )  # fmt: skip
    except DealvaultError as exc:
        response = render(
            request, viewer, "signin/sign_in.html", status=401, next=then, error=str(exc),
            email=email,
        )  # fmt: skip
    else:
        response = go(request, _step(out.next, then))
        keep_session(response, ctx.rules, out)
    if fresh:
        keep_device(response, raw)
    return response


@router.get("/sign-in/code")
def code_page(request: Request, actor: Signing, next: str | None = None) -> Response:
    _, viewer = actor
    return render(request, viewer, "signin/code.html", next=local_path(next), error=None)


def _signed_in(ctx: Ctx, response: Response, out: accounts.SignIn) -> Response:
    """Keep the new session and the account's display preferences."""
    keep_session(response, ctx.rules, out)
    who = signin.session_principal(ctx.stores, rules=ctx.rules, secret=out.secret, client=None)
    prefs = preferences.profile(ctx.stores, actor=who[0])
    keep_preferences(response, language=prefs.language, time_zone=prefs.time_zone)
    return response


@router.post("/sign-in/code")
def code(
    request: Request,
    ctx: Ctx,
    client: Client,
    actor: Signing,
    code: Annotated[str, Form(max_length=64)],
    next: Annotated[str, Form(max_length=300)] = "/deals",
) -> Response:
    who, viewer = actor
    then = local_path(next)
    try:
        out = signin.second_factor(
            ctx.stores, ctx.keyring, rules=ctx.rules, actor=who, code=code, client=client
        )
    except DealvaultError as exc:
        return render(request, viewer, "signin/code.html", status=401, next=then, error=str(exc))
    return _signed_in(ctx, go(request, then), out)


@router.post("/sign-out")
def sign_out(request: Request, ctx: Ctx, actor: Signing) -> Response:
    signin.logout(ctx.stores, actor=actor[0])
    response = go(request, "/sign-in")
    forget_session(response)
    return response


# -- the invitation ------------------------------------------------------------------------
def _same(password: str, again: str) -> None:
    if password != again:
        raise Invalid("the two passwords differ")


@router.get("/account/invite")
def invite_page(request: Request, viewer: Anonymous) -> Response:
    """The invitation link's page: its secret stays in the link's fragment (a script puts
    it in the form), so it is never in a server's log."""
    return render(request, viewer, "signin/invite.html", error=None)


@router.post("/account/invite")
def invite(
    request: Request,
    viewer: Anonymous,
    ctx: Ctx,
    client: Client,
    secret: Annotated[str, Form(max_length=200)],
    password: Field,
    again: Field,
) -> Response:
    raw, fresh = browser_device(request)
    try:
        _same(password, again)
        out = accounts.activate(
            ctx.stores, rules=ctx.rules, secret=secret, password=password, client=client,
            device=device_id(raw),
        )  # fmt: skip
    except DealvaultError as exc:
        return render(request, viewer, "signin/invite.html", status=400, error=str(exc))
    who, _ = signin.session_principal(
        ctx.stores, rules=ctx.rules, secret=out.secret, client=client, device=device_id(raw)
    )
    response = _totp_page(request, ctx, who, replace(viewer, csrf=out.csrf))
    keep_session(response, ctx.rules, out)
    if fresh:
        keep_device(response, raw)
    return response


def _qr(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _totp_page(
    request: Request, ctx: Ctx, who: Principal, viewer: Viewer, *, error: str | None = None
) -> Response:
    """A new TOTP secret to scan (pending until a code from it confirms it)."""
    out = accounts.begin_totp(ctx.stores, ctx.keyring, actor=who)
    secret = out.uri.split("secret=")[1].split("&")[0]
    return render(
        request, viewer, "signin/enrol.html", status=400 if error else 200,
        qr=_qr(out.qr_svg), secret=secret, error=error,
    )  # fmt: skip


@router.get("/account/enrol")
def enrol_start(request: Request, actor: Signing) -> Response:
    """Where a second factor is set up: an authenticator app, or a passkey (nothing is made
    until the person asks, so reloading the page changes nothing)."""
    return render(request, actor[1], "signin/enrol_start.html")


@router.post("/account/enrol/begin")
def enrol_begin(request: Request, ctx: Ctx, actor: Signing) -> Response:
    return _totp_page(request, ctx, *actor)


@router.post("/account/enrol")
def enrol(
    request: Request,
    ctx: Ctx,
    actor: Signing,
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    who, viewer = actor
    try:
        out = accounts.finish_totp(ctx.stores, ctx.keyring, actor=who, code=code)
    except DealvaultError as exc:
        return _totp_page(request, ctx, who, viewer, error=str(exc))
    viewer = replace(viewer, csrf=out.session.csrf)
    response = render(request, viewer, "signin/recovery.html", codes=out.recovery_codes)
    return _signed_in(ctx, response, out.session)


# -- password reset ------------------------------------------------------------------------
@router.get("/account/forgot")
def forgot_page(request: Request, viewer: Anonymous) -> Response:
    return render(request, viewer, "signin/forgot.html", sent=False, error=None)


@router.post("/account/forgot")
def forgot(
    request: Request,
    viewer: Anonymous,
    ctx: Ctx,
    client: Client,
    email: Annotated[str, Form(max_length=254)],
) -> Response:
    try:
        signin.request_reset(
            ctx.stores, rules=ctx.rules, mailer=ctx.mailer, email=email, client=client
        )
    except DealvaultError as exc:
        return render(request, viewer, "signin/forgot.html", status=400, sent=False,
                      error=str(exc))  # fmt: skip
    return render(request, viewer, "signin/forgot.html", sent=True, error=None)


@router.get("/account/reset")
def reset_page(request: Request, viewer: Anonymous) -> Response:
    return render(request, viewer, "signin/reset.html", done=False, error=None)


@router.post("/account/reset")
def reset(
    request: Request,
    viewer: Anonymous,
    ctx: Ctx,
    client: Client,
    secret: Annotated[str, Form(max_length=200)],
    password: Field,
    again: Field,
) -> Response:
    try:
        _same(password, again)
        signin.reset_password(
            ctx.stores, rules=ctx.rules, secret=secret, password=password, client=client
        )
    except DealvaultError as exc:
        return render(request, viewer, "signin/reset.html", status=400, done=False,
                      error=str(exc))  # fmt: skip
    return render(request, viewer, "signin/reset.html", done=True, error=None)


@router.get("/language/{language}")
def language(language: str, request: Request, back: str | None = None) -> Response:
    """Switch the pages' language in this browser (a signed-in person keeps it for good on
    their account page)."""
    from dealvault.web.i18n import LANGUAGES

    response = go(request, local_path(back, "/deals"))
    if language in LANGUAGES:
        keep_preferences(response, language=language, time_zone=None)
    return response
