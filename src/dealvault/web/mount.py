"""``mount_web(app)``: the pages, their static files (the app's own CSS and scripts, and
htmx vendored by the build) and their answers to refusals, on the server application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import polars as pl
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
    from dealvault.web import (
        pages_account,
        pages_alerts,
        pages_audit,
        pages_compliance,
        pages_data,
        pages_deals,
        pages_incidents,
        pages_signin,
        pages_steward,
        pages_transfer,
    )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInNeeded, errors.on_sign_in_needed)
    routers = (
        pages_signin.router,  # sign-in, invitation, reset
        pages_account.router,  # one's own account
        pages_deals.router,  # deal list, overview, agreement and training gates
        *pages_steward.routers(),  # inventory, people, requests, agreements, timeline
        pages_data.router,  # aggregates, records and their files
        pages_audit.router,  # the audit log explorer, proofs, bundle, report
        pages_transfer.router,  # plans, ledger, packages, reviews, certificates
        pages_compliance.router,  # a plan's compliance gate, waivers, assessment sign-off
        pages_alerts.router,  # security alerts: list, one alert, acknowledge
        pages_incidents.router,  # incidents: list, one incident, team, notes, tasks, impact
    )
    for router in routers:
        app.include_router(router)


def warm_up() -> None:
    """What every first request would otherwise pay, paid once when a serving process
    starts (the app's lifespan: after the fork of the workers, as polars' threads do not
    survive a fork): the templates compiled in both languages, and the region gazetteer
    that aggregates by province and city use (built from GB/T 2260 on first use)."""
    from dealvault.deidentify.regions import region_codes
    from dealvault.web.i18n import LANGUAGES
    from dealvault.web.render import TEMPLATES, environment

    for language in LANGUAGES:
        env = environment(language)
        for path in sorted(TEMPLATES.rglob("*.html")):
            env.get_template(path.relative_to(TEMPLATES).as_posix())
    region_codes(addresses=pl.Series(["北京市东城区"]))
