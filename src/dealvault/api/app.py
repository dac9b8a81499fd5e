"""``create_app(settings, keyring=...)``: the FastAPI application (nothing is built at
import time), its error mapping and its health endpoints."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from dealvault import __version__, mail
from dealvault.access.principal import Principal
from dealvault.api.deps import ServerContext
from dealvault.api.errors import on_dealvault_error, on_http_error, on_malformed
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import DealvaultError
from dealvault.flows.accounts import AccountRules, Mailer
from dealvault.flows.context import AppStores
from dealvault.web import errors as web_errors
from dealvault.web.mount import either, mount_web
from dealvault.web.security import HEADERS


class Ready(BaseModel):
    status: str = Field(description="ready, or unavailable (503)")
    reason: str | None = Field(default=None, description="what is not ready")


def _smtp_mailer(settings: Settings) -> Mailer:
    def send(to: str, subject: str, body: str) -> None:
        mail.send(settings, to=to, subject=subject, body=body)

    return send


def _store_keys(stores: AppStores, keyring: KeyRing) -> None:
    """Make the store keys the requests use (canary identities, account secrets) once, before
    any worker starts: concurrent first uses would otherwise race to create them."""
    from dealvault.accounts.service import ACCOUNT_KEY_PURPOSE
    from dealvault.transfer.canary_seal import PURPOSE as CANARY

    with stores.unit_of_work() as uow:
        for purpose in (CANARY, ACCOUNT_KEY_PURPOSE):
            keyring.store_key(uow.keys, purpose=purpose, create=True)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """In each serving process, before its first request: what the pages would otherwise
    prepare on a first request (``web.mount.warm_up``)."""
    from dealvault.web.mount import warm_up

    warm_up()
    ticker = _ticker(app.state.dealvault)
    if ticker is not None:
        ticker.start()
    try:
        yield
    finally:
        if ticker is not None:
            ticker.stop()


def _ticker(ctx: ServerContext) -> Any:
    """The monitor of this serving process (docs/monitoring.md), when it has someone to act
    as and an interval."""
    interval = ctx.settings.monitor_interval_seconds
    if ctx.monitor_actor is None or interval <= 0:
        return None
    from dealvault.api.monitor_ticker import MonitorTicker
    from dealvault.flows.alert_delivery import Delivery

    return MonitorTicker(
        ctx.stores,
        actor=ctx.monitor_actor,
        delivery=Delivery.from_settings(ctx.settings, mailer=ctx.mailer),
        interval=interval,
        batch=ctx.settings.monitor_batch,
    )


def create_app(
    settings: Settings,
    *,
    keyring: KeyRing,
    stores: AppStores | None = None,
    mailer: Mailer | None = None,
    monitor_actor: Principal | None = None,
) -> FastAPI:
    """The server application on ``settings``' stores, with the master key already unlocked
    in ``keyring`` (kept in memory only). With ``monitor_actor`` (the operator who starts the
    server), each serving process evaluates the monitoring rules every
    ``monitor_interval_seconds``."""
    from dealvault.api import (
        routes_account,
        routes_agreements,
        routes_audit,
        routes_closing,
        routes_compliance,
        routes_deals,
        routes_incident_notices,
        routes_incidents,
        routes_monitor,
    )
    from dealvault.flows.setup import load_audit_config

    if stores is None:
        stores = AppStores.connect(
            records_url=settings.resolved_database_url,
            keystore_url=settings.resolved_keystore_url,
            lock_timeout=settings.lock_timeout,
        )
        stores.audit = load_audit_config(settings, stores=stores, keyring=lambda: keyring)
    if stores.audit.can_sign:
        _ = stores.audit.signer  # unwrap the log's signing key now, not in a request
    _store_keys(stores, keyring)
    ctx = ServerContext(
        settings=settings,
        stores=stores,
        keyring=keyring,
        rules=AccountRules.from_settings(settings),
        mailer=mailer or _smtp_mailer(settings),
        trusted=tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies),
        monitor_actor=monitor_actor,
    )
    app = FastAPI(
        lifespan=_lifespan,
        title="dealvault",
        version=__version__,
        description="The data room of a company transfer: every party signs in; every read is "
        "decided by the deal's policy and recorded in the audit log.",
    )
    app.state.dealvault = ctx

    app.add_exception_handler(DealvaultError, either(on_dealvault_error, web_errors.page_error))
    app.add_exception_handler(RequestValidationError, either(on_malformed, web_errors.malformed))
    app.add_exception_handler(
        StarletteHTTPException, either(on_http_error, web_errors.page_not_found)
    )

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        response_model_exclude_none=True,
        responses={503: {"model": Ready, "description": "A database does not answer."}},
    )
    def readyz(response: Response) -> Ready:
        """Both databases answer and the master key is unlocked."""
        try:
            for engine in (stores.records_engine, stores.keystore_engine):
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
        except Exception:
            response.status_code = 503
            return Ready(status="unavailable", reason="database")
        return Ready(status="ready")

    app.include_router(routes_account.router)
    app.include_router(routes_deals.router)
    app.include_router(routes_closing.router)
    app.include_router(routes_agreements.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_monitor.router)
    app.include_router(routes_incidents.router)
    app.include_router(routes_incident_notices.router)
    app.include_router(routes_compliance.router)
    mount_web(app)
    return app
