"""The display preferences a browser keeps (language, time zone): set at sign-in from the
account, and by the language switch."""

from __future__ import annotations

from fastapi import Response

from dealvault.web.deps import LANG_COOKIE, TZ_COOKIE

_YEAR = 365 * 24 * 3600


def keep_preferences(response: Response, *, language: str | None, time_zone: str | None) -> None:
    if language:
        response.set_cookie(LANG_COOKIE, language, max_age=_YEAR, path="/", samesite="lax")
    if time_zone:
        response.set_cookie(TZ_COOKIE, time_zone, max_age=_YEAR, path="/", samesite="lax")
