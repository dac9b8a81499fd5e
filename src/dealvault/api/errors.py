"""The API's one error shape and its statuses: ``{"error": code, "message": text}`` for a
refused use case, a malformed request and an unknown path alike, declared in the OpenAPI
description of every operation (``responses=``) so that a client, and the schema fuzz,
know every answer an operation can give."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dealvault.errors import (
    Busy,
    Conflict,
    DealvaultError,
    Forbidden,
    IntegrityError,
    Invalid,
    KeyUnavailable,
    NotFound,
    Throttled,
    Unauthenticated,
    Unavailable,
)

#: the largest id or count the stores keep (a 32-bit INTEGER column on PostgreSQL)
DB_INT_MAX = 2**31 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text cannot contain NUL characters")
    return value


#: text the stores can keep: PostgreSQL refuses NUL in text, so the edge refuses it (422)
#: instead of the database (500)
Text = Annotated[str, AfterValidator(_no_nul)]

#: most specific first
_STATUS: tuple[tuple[type[DealvaultError], int], ...] = (
    (Unauthenticated, 401),
    (Throttled, 429),
    (Forbidden, 403),
    (NotFound, 404),
    (Busy, 503),
    (Conflict, 409),
    (IntegrityError, 409),
    (Invalid, 400),
    (KeyUnavailable, 503),
    (Unavailable, 502),
)


def status_of(exc: DealvaultError) -> int:
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


class ErrorOut(BaseModel):
    """Every error answer. The message is the CLI's and never holds a personal value."""

    error: str = Field(
        description="A stable code: unauthenticated, denied, csrf, not_found, invalid, "
        "malformed, conflict, throttled, …"
    )
    message: str


_WHY = {
    400: "Invalid: the request is well formed but the use case refuses it.",
    401: "Not signed in, or the session or token has ended.",
    403: "Denied (the message says why), a missing or wrong CSRF header, or an unusable link.",
    404: "Not found (or not visible to you).",
    409: "Conflict with the current state.",
    422: "A malformed request: a parameter or the body does not match this description.",
    429: "Locked after repeated failed sign-in attempts; Retry-After says when to try again.",
    502: "The mail server did not answer.",
    503: "Busy, or the master key is unavailable; Retry-After says when to try again.",
}
_RETRY = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}}

#: what every operation under /api can answer besides its success
COMMON = (400, 401, 403, 404, 409, 422, 429, 503)
#: and an operation that sends mail
MAILING = (*COMMON, 502)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: each status with the error model."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorOut, "description": _WHY[code]}
        if code in (429, 503):
            entry["headers"] = _RETRY
        out[code] = entry
    return out


def _answer(status: int, code: str, message: str) -> JSONResponse:
    headers = {"Retry-After": "5"} if status in (429, 503) else None
    return JSONResponse(
        ErrorOut(error=code, message=message).model_dump(), status_code=status, headers=headers
    )


async def on_dealvault_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DealvaultError)
    return _answer(status_of(exc), exc.code, str(exc))


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "request"


async def on_malformed(request: Request, exc: Exception) -> JSONResponse:
    """A request that does not match the description: which parameter and why, never the
    value sent (FastAPI's own answer echoes the input, a password or an e-mail included)."""
    assert isinstance(exc, RequestValidationError)
    problems = [f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
    shown = "; ".join(problems[:5]) + (
        f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    )
    return _answer(422, "malformed", f"malformed request: {shown}")


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own answers (an unknown path, a method the path does not take)."""
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    response = _answer(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response
