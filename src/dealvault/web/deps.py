"""What every page gets: the viewer (language, time zone, CSRF token), the signed-in
principal from the session cookie, and the CSRF check of every change (a form field or
htmx's header, compared with the session's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dealvault.access.principal import Principal
from dealvault.accounts import secrets as sec
from dealvault.api.deps import COOKIE, CSRF_COOKIE, CSRF_HEADER, Client, Ctx, Device
from dealvault.errors import Forbidden, Unauthenticated
from dealvault.flows import signin
from dealvault.web import i18n
from dealvault.web.render import Viewer

#: the person's language and time zone (display only: set at sign-in from the account)
LANG_COOKIE = "dealvault-lang"
TZ_COOKIE = "dealvault-tz"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInNeeded(Exception):
    """The page needs a complete sign-in: ``step`` is where the person goes next."""

    def __init__(self, step: str) -> None:
        super().__init__(step)
        self.step = step


def viewer_of(request: Request, *, email: str | None = None) -> Viewer:
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return Viewer(
        language=i18n.negotiate(chosen=chosen, accept=request.headers.get("accept-language")),
        tz=i18n.zone(request.cookies.get(TZ_COOKIE)),
        csrf=request.cookies.get(CSRF_COOKIE),
        email=email,
    )


async def anonymous(request: Request) -> Viewer:
    """The viewer of a page anybody may open (sign-in, invitation, reset)."""
    return viewer_of(request)


Anonymous = Annotated[Viewer, Depends(anonymous)]


async def sent_csrf(request: Request) -> str | None:
    """The CSRF token a change carries: htmx's header, else the form's ``csrf`` field."""
    if request.method in _SAFE:
        return None
    given = request.headers.get(CSRF_HEADER)
    if given:
        return given
    form = await request.form()
    value = form.get("csrf")
    return value if isinstance(value, str) else None


def _session(
    request: Request, ctx: Ctx, client: Client, device: Device, csrf: str | None
) -> tuple[Principal, Viewer]:
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise SignInNeeded("sign-in")
    try:
        who, digest = signin.session_principal(
            ctx.stores, rules=ctx.rules, secret=secret, client=client, device=device
        )
    except Unauthenticated as exc:
        raise SignInNeeded("sign-in") from exc
    if request.method not in _SAFE and (not csrf or not sec.same(sec.digest(csrf), digest)):
        raise Forbidden("the form has expired or did not come from this site", code="csrf")
    return who, viewer_of(request, email=who.email)


Csrf = Annotated[str | None, Depends(sent_csrf)]


def signing(
    request: Request, ctx: Ctx, client: Client, device: Device, csrf: Csrf
) -> tuple[Principal, Viewer]:
    """A session part-way through signing in (the second factor and its set-up pages)."""
    return _session(request, ctx, client, device, csrf)


def signed_in(
    request: Request, ctx: Ctx, client: Client, device: Device, csrf: Csrf
) -> tuple[Principal, Viewer]:
    """A session past its second factor; a session with the password only goes to it."""
    who, viewer = _session(request, ctx, client, device, csrf)
    if not who.second_factor:
        raise SignInNeeded("code")
    return who, viewer


Signing = Annotated[tuple[Principal, Viewer], Depends(signing)]
Member = Annotated[tuple[Principal, Viewer], Depends(signed_in)]
