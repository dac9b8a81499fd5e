"""One's own account on the web: profile, language and time zone, the sessions signed in
(end one, or all of them: sign out everywhere)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dealvault.access.principal import Principal
from dealvault.api.cookies import forget_session
from dealvault.api.deps import Ctx
from dealvault.errors import DealvaultError
from dealvault.flows import own_account, preferences
from dealvault.web.cookies import keep_preferences
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.i18n import LANGUAGES, zone
from dealvault.web.pages_signin import local_path
from dealvault.web.render import Viewer, render

router = APIRouter(include_in_schema=False)

#: the time zones offered first (any IANA name may be typed)
ZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo", "Europe/London",
         "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC")  # fmt: skip


def _page(
    request: Request, ctx: Ctx, member: tuple[Principal, Viewer], *, error: str | None = None
) -> Response:
    who, viewer = member
    return render(
        request, viewer, "account/account.html",
        profile=preferences.profile(ctx.stores, actor=who),
        sessions=own_account.list_sessions(ctx.stores, actor=who),
        zones=ZONES, languages=LANGUAGES, error=error,
    )  # fmt: skip


@router.get("/account")
def account(request: Request, ctx: Ctx, member: Member) -> Response:
    return _page(request, ctx, member)


@router.post("/account/preferences")
def set_preferences(
    request: Request,
    ctx: Ctx,
    member: Member,
    language: Annotated[str | None, Form(max_length=8)] = None,
    time_zone: Annotated[str | None, Form(max_length=64)] = None,
    back: Annotated[str, Form(max_length=300)] = "/account",
) -> Response:
    who = member[0]
    try:
        out = preferences.set_preferences(
            ctx.stores, actor=who, language=language or None, time_zone=time_zone or None
        )
    except DealvaultError as exc:
        return _page(request, ctx, member, error=str(exc))
    response = go(request, local_path(back, "/account"))
    keep_preferences(response, language=out.language, time_zone=str(zone(out.time_zone)))
    return response


@router.post("/account/sessions/{session_id}/end")
def end_session(session_id: str, request: Request, ctx: Ctx, member: Member) -> Response:
    who, _ = member
    own_account.revoke_session(ctx.stores, actor=who, session_id=session_id[:64])
    if session_id == who.session_id:
        response = go(request, "/sign-in")
        forget_session(response)
        return response
    return go(request, "/account")


@router.post("/account/sessions/end-all")
def sign_out_everywhere(request: Request, ctx: Ctx, member: Member) -> Response:
    preferences.sign_out_everywhere(ctx.stores, actor=member[0])
    response = go(request, "/sign-in")
    forget_session(response)
    return response
