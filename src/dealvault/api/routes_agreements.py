"""A party's click-through agreements over HTTP: the ones of your organisation that await
your acceptance (or that you accepted), the document you are asked to accept, and its
acceptance, confirming the SHA-256 of what you read (each decided and recorded by its flow;
an agreement of another organisation is not found)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as InPath
from fastapi.responses import Response
from pydantic import BaseModel, Field

from dealvault.access.acceptance import AcceptanceOut, MyAgreementOut
from dealvault.api.deps import Actor, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, Text, error_responses
from dealvault.flows import acceptance

router = APIRouter(prefix="/api", tags=["agreements"], responses=error_responses(*COMMON))

DealCode = Annotated[Text, InPath(max_length=64)]
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
OCTETS = "application/octet-stream"
SHA_HEADER = "X-Document-SHA256"
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


class AcceptIn(BaseModel):
    """What the person confirms: the SHA-256 of the document they read."""

    document_sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="SHA-256 (hex) of the document downloaded from /api/agreements/{id}/document",
    )


@router.get("/deals/{deal}/agreements/mine")
def my_agreements(deal: DealCode, ctx: Ctx, actor: Actor) -> list[MyAgreementOut]:
    """The deal's click-through agreements of your organisation that await your acceptance,
    or that you accepted."""
    return acceptance.pending(ctx.stores, actor=actor, deal=deal)


@router.get(
    "/agreements/{agreement_id}/document",
    responses={
        200: {
            "content": {OCTETS: {}},
            "headers": {
                SHA_HEADER: {
                    "description": "The document's SHA-256: what the acceptance confirms.",
                    "schema": {"type": "string"},
                }
            },
        }
    },
    response_class=Response,
)
def agreement_document(agreement_id: Id, ctx: Ctx, actor: Actor) -> Response:
    """The document of a click-through agreement of your organisation, as you are asked to
    accept it (checked against its SHA-256, sent in the X-Document-SHA256 header)."""
    doc = acceptance.review_document(
        ctx.stores, ctx.keyring, actor=actor, agreement_id=agreement_id
    )
    suffix = _SUFFIX.fullmatch("." + (doc.name or "").rpartition(".")[2])
    name = f"agreement-{doc.agreement}{suffix.group(0) if suffix else ''}"
    return Response(
        doc.content,
        media_type=OCTETS,
        headers={
            SHA_HEADER: doc.sha256,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@router.post("/agreements/{agreement_id}/accept")
def accept_agreement(agreement_id: Id, body: AcceptIn, ctx: Ctx, actor: Actor) -> AcceptanceOut:
    """Accept a click-through agreement of your organisation: recorded as your signature
    with the time, your session's client address and the document's SHA-256 (409 when the
    SHA-256 is not the current document's, or when you accepted it already)."""
    return acceptance.accept(
        ctx.stores, actor=actor, agreement_id=agreement_id, document_sha256=body.document_sha256
    )
