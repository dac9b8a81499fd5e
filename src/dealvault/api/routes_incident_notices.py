"""An incident's legal clocks and notices over HTTP: the clocks and notices for the incident's
team (seller stewards, security officers), and the partners' acknowledgement of a partner
notice by their own authenticated people. Each handler calls one flow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as InPath

from dealvault.api.deps import Actor, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, error_responses
from dealvault.flows import incident_notices, incident_partners, legal_clocks
from dealvault.incidents.clocks import ClockOut
from dealvault.incidents.notice_schemas import BatchOut, NoticeOut

router = APIRouter(prefix="/api", tags=["incidents"], responses=error_responses(*COMMON))
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]


@router.get("/incidents/{incident_id}/clocks")
def clocks(incident_id: Id, ctx: Ctx, actor: Actor) -> list[ClockOut]:
    """The incident's legal clocks: due time, time left or overdue, met (notice sent)."""
    return legal_clocks.show_clocks(ctx.stores, actor=actor, incident_id=incident_id)


@router.get("/incidents/{incident_id}/notices")
def notices(incident_id: Id, ctx: Ctx, actor: Actor) -> list[NoticeOut]:
    """The incident's notices (without their text), partners' acknowledgements included."""
    return incident_notices.list_notices(ctx.stores, actor=actor, incident_id=incident_id)


@router.get("/incidents/{incident_id}/notice-batches")
def batches(incident_id: Id, ctx: Ctx, actor: Actor) -> list[BatchOut]:
    """The incident's per-customer notice batches: counts per delivery status."""
    return incident_notices.list_batches(ctx.stores, actor=actor, incident_id=incident_id)


@router.post("/incidents/{incident_id}/partner-notices/{notice_id}/ack")
def acknowledge(incident_id: Id, notice_id: Id, ctx: Ctx, actor: Actor) -> NoticeOut:
    """Acknowledge a partner notice for your organisation (a person of a party it is
    addressed to; once per organisation)."""
    return incident_partners.acknowledge(
        ctx.stores, actor=actor, notice_id=notice_id, incident_id=incident_id
    )
