"""Security alerts over HTTP for the deal's seller stewards and security officers (and the
store's operators), and the inbound webhook of the seller's SMS/e-mail gateway reporting
canary hits, authenticated by an HMAC signature. Each handler calls one flow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as InPath
from pydantic import BaseModel, Field, ValidationError

from dealvault.access.principal import Authn, Principal
from dealvault.api.deps import Actor, Client, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, Text, error_responses
from dealvault.errors import Invalid, NotFound, Unauthenticated
from dealvault.flows import alerts
from dealvault.flows.alert_delivery import Delivery
from dealvault.flows.canary_hits import CanaryHitOut, report_hit
from dealvault.monitor.alerts import AlertOut
from dealvault.monitor.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_problem

router = APIRouter(prefix="/api", tags=["alerts"], responses=error_responses(*COMMON))
DealCode = Annotated[Text, InPath(max_length=64)]
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
Status = Annotated[Literal["open", "acknowledged"] | None, Query()]
Severity = Annotated[Literal["info", "warning", "critical"] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=10_000)]


class AckIn(BaseModel):
    note: Text = Field(min_length=1, max_length=2000, description="What was done about it.")


@router.get("/alerts")
def list_all(
    ctx: Ctx, actor: Actor, status: Status = None, severity: Severity = None, limit: Limit = 200
) -> list[AlertOut]:
    """The alerts of every deal you may read alerts of (seller steward, security officer),
    and for an operator the store's own; newest first."""
    return alerts.list_alerts(
        ctx.stores, actor=actor, status=status, severity=severity, limit=limit
    )


@router.get("/deals/{deal}/alerts")
def list_deal(
    deal: DealCode,
    ctx: Ctx,
    actor: Actor,
    status: Status = None,
    severity: Severity = None,
    limit: Limit = 200,
) -> list[AlertOut]:
    """The deal's alerts, newest first (readable while the deal is frozen)."""
    return alerts.list_alerts(
        ctx.stores, actor=actor, deal=deal, status=status, severity=severity, limit=limit
    )


@router.get("/alerts/{alert_id}")
def show(alert_id: Id, ctx: Ctx, actor: Actor) -> AlertOut:
    return alerts.show_alert(ctx.stores, actor=actor, alert_id=alert_id)


@router.post("/alerts/{alert_id}/ack")
def acknowledge(alert_id: Id, body: AckIn, ctx: Ctx, actor: Actor) -> AlertOut:
    """Mark the alert as handled, saying what was done (a frozen deal stays frozen)."""
    return alerts.acknowledge(ctx.stores, actor=actor, alert_id=alert_id, note=body.note)


class CanaryHitIn(BaseModel):
    """One contact of a canary's phone or e-mail address, as the gateway saw it."""

    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    at: datetime | None = Field(default=None, description="When (default: now).")


async def raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/canary/hits",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CanaryHitIn.model_json_schema()}},
        },
        "parameters": [
            {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
            for h in (TIMESTAMP_HEADER, SIGNATURE_HEADER)
        ],
    },
)
def canary_hit(
    request: Request, ctx: Ctx, client: Client, body: Annotated[bytes, Depends(raw_body)]
) -> CanaryHitOut:
    """The seller's SMS/e-mail gateway reports that a canary phone or address was contacted.
    Signed, not signed in: the ``X-Dealvault-Signature`` header is ``sha256=`` and the hex
    HMAC-SHA-256 (key: DEALVAULT_CANARY_WEBHOOK_SECRET) of ``X-Dealvault-Timestamp`` (Unix
    seconds, within 5 minutes of now), a dot and the body. Acts as the account
    DEALVAULT_CANARY_GATEWAY (store role canary_gateway). The value sent is never recorded,
    logged or answered: only the canary's id."""
    settings = ctx.settings
    secret, gateway = settings.canary_webhook_secret, settings.canary_gateway
    if secret is None or not gateway:
        raise NotFound("the canary webhook is not configured on this server")
    problem = signature_problem(
        secret.get_secret_value().encode(),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        given=request.headers.get(SIGNATURE_HEADER),
        body=body,
    )
    if problem is not None:
        raise Unauthenticated(f"canary webhook: {problem}")
    try:
        hit = CanaryHitIn.model_validate_json(body)
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors())
        raise Invalid(f"malformed canary hit ({where})") from None
    if (hit.phone is None) == (hit.email is None):
        raise Invalid("a canary hit names a phone or an e-mail address (one of them)")
    channel, value = ("phone", hit.phone) if hit.phone is not None else ("email", hit.email)
    assert value is not None
    actor = Principal(email=gateway.strip().lower(), authn=Authn.WEBHOOK, client=client)
    return report_hit(
        ctx.stores,
        ctx.keyring,
        actor=actor,
        channel=channel,
        value=value,
        at=hit.at,
        source="webhook",
        delivery=Delivery.from_settings(settings, mailer=ctx.mailer),
    )
