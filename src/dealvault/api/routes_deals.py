"""A party's use cases over HTTP: deals, inventory, access requests, views and downloads,
invitations and the deal's audit log. Each handler calls one flow; the flow decides."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Path as InPath
from fastapi.responses import Response
from pydantic import BaseModel, Field

from dealvault.access.schemas import DealOut
from dealvault.api.deps import Actor, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, MAILING, Text, error_responses
from dealvault.audit.store import LogFilter
from dealvault.deidentify.levels import Level
from dealvault.flows import access_requests as requests
from dealvault.flows import accounts, admin, auditing, disclosure
from dealvault.flows.inventory import InventoryOut, inventory
from dealvault.ingest.fields import TableRole

router = APIRouter(prefix="/api", tags=["deals"], responses=error_responses(*COMMON))
#: path parameters: a deal's code, a dataset's name, an access request's number
DealCode = Annotated[Text, InPath(max_length=64)]
DatasetName = Annotated[Text, InPath(max_length=200)]
RequestId = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


@router.get("/deals")
def deals(ctx: Ctx, actor: Actor) -> list[DealOut]:
    """The deals you are a member of."""
    return admin.list_deals(ctx.stores, actor=actor)


@router.get("/deals/{deal}")
def deal(deal: DealCode, ctx: Ctx, actor: Actor) -> DealOut:
    return admin.show_deal(ctx.stores, actor=actor, code=deal)


@router.get("/deals/{deal}/datasets/{dataset}/inventory")
def dataset_inventory(deal: DealCode, dataset: DatasetName, ctx: Ctx, actor: Actor) -> InventoryOut:
    """What the dataset holds (metadata: columns, types, counts), never a value."""
    return inventory(ctx.stores, actor=actor, deal=deal, dataset=dataset)


class AccessIn(BaseModel):
    dataset: Text = Field(max_length=64)
    categories: list[Annotated[Text, Field(max_length=64)]] = Field(min_length=1, max_length=20)
    level: Text = Field(max_length=20)
    purpose: Text = Field(min_length=1, max_length=500)
    duration_days: int = Field(ge=1, le=365)
    row_cap: int | None = Field(default=None, ge=1, le=DB_INT_MAX)


@router.post("/deals/{deal}/requests", status_code=201)
def request_access(deal: DealCode, body: AccessIn, ctx: Ctx, actor: Actor) -> requests.RequestOut:
    """Ask for access above aggregate (approved by the roles the policy names)."""
    return requests.request_access(
        ctx.stores,
        actor=actor,
        deal=deal,
        dataset=body.dataset,
        categories=body.categories,
        level=body.level,
        purpose=body.purpose,
        duration_days=body.duration_days,
        row_cap=body.row_cap,
    )


@router.get("/deals/{deal}/requests")
def list_requests(
    deal: DealCode,
    ctx: Ctx,
    actor: Actor,
    status: Text | None = Query(default=None, max_length=20),
    mine: bool = False,
) -> list[requests.RequestOut]:
    return requests.list_requests(ctx.stores, actor=actor, deal=deal, status=status, mine=mine)


@router.get("/requests/{request_id}")
def show_request(request_id: RequestId, ctx: Ctx, actor: Actor) -> requests.RequestOut:
    return requests.show_request(ctx.stores, actor=actor, request_id=request_id)


class ApproveIn(BaseModel):
    comment: Text | None = Field(default=None, max_length=500)
    role: Text | None = Field(default=None, max_length=30)


class DenyIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/requests/{request_id}/approve")
def approve(request_id: RequestId, body: ApproveIn, ctx: Ctx, actor: Actor) -> requests.RequestOut:
    return requests.approve_request(
        ctx.stores, actor=actor, request_id=request_id, comment=body.comment, role=body.role
    )


@router.post("/requests/{request_id}/deny")
def deny(request_id: RequestId, body: DenyIn, ctx: Ctx, actor: Actor) -> requests.RequestOut:
    return requests.deny_request(ctx.stores, actor=actor, request_id=request_id, reason=body.reason)


class ViewOut(BaseModel):
    """One page of what you may see, with the disclosure's metadata (level, recipient,
    time, parameters, canary count)."""

    meta: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]
    offset: int
    total: int


def _request(
    actor: Actor,
    deal: DealCode,
    dataset: DatasetName,
    purpose: str,
    level: Level | None,
    table: TableRole,
    group_by: list[str] | None = None,
    measure: list[str] | None = None,
    window: tuple[int, int] | None = None,
    use: str | None = None,
) -> disclosure.DisclosureRequest:
    return disclosure.DisclosureRequest(
        window=window,
        use=use,
        actor=actor,
        deal=deal,
        dataset=dataset,
        level=level or Level.METADATA,
        purpose=purpose,
        table=table,
        group_by=group_by or [],
        measures=measure or ["count"],
    )


@router.get("/deals/{deal}/datasets/{dataset}/view", response_model=ViewOut)
def view(
    deal: DealCode,
    dataset: DatasetName,
    ctx: Ctx,
    actor: Actor,
    purpose: Text = Query(min_length=1, max_length=500),
    level: Level | None = None,
    table: TableRole = TableRole.CUSTOMERS,
    group_by: list[Text] = Query(default=[], max_length=5, description="aggregate: groups"),
    measure: list[Text] = Query(default=[], max_length=5, description="aggregate: measures"),
    offset: int = Query(default=0, ge=0, le=DB_INT_MAX),
    limit: int = Query(default=50, ge=1, le=500),
    use: Literal["marketing"] | None = Query(
        default=None,
        description="marketing: only the customers whose transfer package carried a marketing "
        "consent (docs/compliance.md)",
    ),
) -> Response:
    """A page of the dataset at your level (default: the highest you may have now)."""
    result = disclosure.view(
        ctx.stores,
        ctx.keyring,
        request=_request(
            actor, deal, dataset, purpose, level, table, group_by, measure, (offset, limit), use
        ),
        level=level,
        settings=ctx.settings,
    )
    report = result.meta.get("report") or {}
    if "rows_available" in report:  # record levels: only this page was released
        page, total = result.frame, int(report["rows_available"])
    else:  # aggregates and anonymized releases are made whole; the page is cut here
        page, total = result.frame.slice(offset, limit), result.frame.height
    # the page goes out as JSON written by polars in one pass (the shape of ViewOut, which
    # documents it): validating 50 rows of dicts through the response model cost more than
    # the rest of the edge together
    head = json.dumps(
        {"meta": result.meta, "columns": page.columns, "offset": offset, "total": total},
        default=str,
        ensure_ascii=False,
    )
    body = head[:-1] + ',"rows":' + (page.write_json() if page.width else "[]") + "}"
    return Response(body.encode(), media_type="application/json")


@router.get(
    "/deals/{deal}/datasets/{dataset}/download",
    responses={200: {"content": {m: {} for m in _MEDIA.values()}}},
    response_class=Response,
)
def download(
    deal: DealCode,
    dataset: DatasetName,
    ctx: Ctx,
    actor: Actor,
    purpose: Text = Query(min_length=1, max_length=500),
    level: Level | None = None,
    table: TableRole = TableRole.CUSTOMERS,
    group_by: list[Text] = Query(default=[], max_length=5, description="aggregate: groups"),
    measure: list[Text] = Query(default=[], max_length=5, description="aggregate: measures"),
    format: Literal["csv", "xlsx", "parquet"] = "csv",
    use: Literal["marketing"] | None = Query(
        default=None,
        description="marketing: only the customers whose transfer package carried a marketing "
        "consent (docs/compliance.md)",
    ),
) -> Response:
    """The file at your level: the level, recipient and time in its header, your canary
    records in it, formulas neutralised (as ``dealvault disclose`` writes it)."""
    from dealvault.deidentify.writers import write_disclosure

    result = disclosure.view(
        ctx.stores,
        ctx.keyring,
        request=_request(actor, deal, dataset, purpose, level, table, group_by, measure, use=use),
        level=level,
        settings=ctx.settings,
    )
    with tempfile.TemporaryDirectory(prefix="dealvault-dl-") as tmp:
        path = Path(tmp) / f"disclosure.{format}"
        write_disclosure(result.frame, path=path, fmt=format, meta=result.meta)
        body = path.read_bytes()
    name = f"{deal}-{dataset}-{result.meta['level']}.{format}"
    return Response(
        body,
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class InviteIn(BaseModel):
    email: Text = Field(max_length=254)
    role: Text = Field(max_length=30)
    name: Text | None = Field(default=None, max_length=200)
    organization: Text | None = Field(default=None, max_length=200)


@router.post("/deals/{deal}/invitations", status_code=201, responses=error_responses(*MAILING))
def invite(deal: DealCode, body: InviteIn, ctx: Ctx, actor: Actor) -> accounts.InviteOut:
    """Invite a person with a role in the deal; the one-time link goes to them by mail."""
    return accounts.invite(
        ctx.stores,
        actor=actor,
        rules=ctx.rules,
        mailer=ctx.mailer,
        deal=deal,
        email=body.email,
        role=body.role,
        name=body.name,
        organization=body.organization,
    )


class MemberIn(BaseModel):
    email: Text = Field(max_length=254)


@router.post("/deals/{deal}/members/disable")
def disable(deal: DealCode, body: MemberIn, ctx: Ctx, actor: Actor) -> accounts.AccountOut:
    """Disable a member's sign-in: their sessions and tokens stop at the next request."""
    return accounts.set_disabled(
        ctx.stores, actor=actor, deal=deal, email=body.email, disabled=True
    )


@router.post("/deals/{deal}/members/enable")
def enable(deal: DealCode, body: MemberIn, ctx: Ctx, actor: Actor) -> accounts.AccountOut:
    return accounts.set_disabled(
        ctx.stores, actor=actor, deal=deal, email=body.email, disabled=False
    )


@router.get("/deals/{deal}/audit")
def audit_log(
    deal: DealCode,
    ctx: Ctx,
    actor: Actor,
    action: Text | None = Query(default=None, max_length=64),
    since: datetime | None = None,
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    """The deal's audit events (for the roles that may read its log: auditor, counsel,
    steward)."""
    flt = LogFilter(deal=deal, action=action, since=since, limit=limit)
    return auditing.log(ctx.stores, actor=actor, flt=flt)
