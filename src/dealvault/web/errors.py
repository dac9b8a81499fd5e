"""How a page answers a refusal: the same reason the CLI gives (never a personal value), on
a page in the viewer's language; a page that needs a sign-in sends the browser to it."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dealvault.api.errors import status_of
from dealvault.errors import DealvaultError
from dealvault.web.deps import SignInNeeded, viewer_of
from dealvault.web.render import render

#: where each sign-in step is
STEPS = {"sign-in": "/sign-in", "code": "/sign-in/code", "enrol": "/account/enrol"}


def is_page(request: Request) -> bool:
    """Whether the request is for a page (not the API, its schema or the health checks)."""
    path = request.url.path
    return not (
        path.startswith("/api/")
        or path in ("/openapi.json", "/docs", "/redoc", "/healthz", "/readyz")
    )


def go(request: Request, url: str) -> Response:
    """Send the browser to ``url``: a 303, or htmx's own redirect for an htmx request."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


async def on_sign_in_needed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    url = STEPS.get(exc.step, "/sign-in")
    if exc.step == "sign-in" and request.method == "GET" and request.url.path != "/":
        url += "?next=" + quote(request.url.path, safe="/")
    return go(request, url)


async def page_error(request: Request, exc: Exception) -> Response:
    """A refused use case on a page: its status and reason."""
    assert isinstance(exc, DealvaultError)
    status = status_of(exc)
    return render(
        request, viewer_of(request), "error.html", status=status,
        code=exc.code, status_code=status, message=str(exc),
    )  # fmt: skip


async def page_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return render(
        request, viewer_of(request), "error.html", status=exc.status_code,
        code="not_found" if exc.status_code == 404 else "http_error",
        status_code=exc.status_code, message="",
    )  # fmt: skip


async def malformed(request: Request, exc: Exception) -> Response:
    """A form that does not match what the page expects: which field, never its value."""
    from fastapi.exceptions import RequestValidationError

    assert isinstance(exc, RequestValidationError)
    fields = sorted({str(e.get("loc", ("", "?"))[-1]) for e in exc.errors()})
    return render(
        request, viewer_of(request), "error.html", status=422, code="malformed",
        status_code=422, message="malformed form: " + ", ".join(fields[:5]),
    )  # fmt: skip
