"""``mount_web(app)``: the pages, their static files (the app's own CSS and scripts, and
htmx vendored by the build) and their answers to refusals, on the server application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from dealvault.web import errors
from dealvault.web.deps import SignInNeeded

STATIC = Path(__file__).parent / "static"
Handler = Callable[[Request, Exception], Awaitable[Response]]


def either(api: Handler, page: Handler) -> Handler:
    """One exception handler for both edges: JSON for the API, a page for the web."""

    async def handle(request: Request, exc: Exception) -> Response:
        return await (page if errors.is_page(request) else api)(request, exc)

    return handle


def mount_web(app: FastAPI) -> None:
    from dealvault.web import pages_account, pages_deals, pages_signin

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInNeeded, errors.on_sign_in_needed)
    for router in (pages_signin.router, pages_account.router, pages_deals.router):
        app.include_router(router)
    from dealvault.web import pages_audit, pages_transfer  # audit log, transfer

    app.include_router(pages_audit.router)
    app.include_router(pages_transfer.router)
