"""A dataset's inventory, for every member (metadata: its columns, their types, categories
and fill rates, the counts and the suggested grade; never a value), and the steward's
classification overrides, column by column."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from dealvault.api.deps import Ctx
from dealvault.classify.types import TYPES
from dealvault.flows.entry import enter_deal
from dealvault.flows.inventory import inventory, override_column
from dealvault.ingest.fields import Category
from dealvault.vault.colstats import SKETCH_K
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.pages_steward import offers

router = APIRouter(include_in_schema=False)
Name = Annotated[str, Form(min_length=1, max_length=200)]
Choice = Annotated[str, Form(max_length=40)]


def inventory_url(deal: str, dataset: str) -> str:
    return f"/deals/{deal}/inventory?dataset={quote(dataset, safe='')}"


@router.get("/deals/{deal}/inventory")
def inventory_page(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    dataset: Annotated[str | None, Query(max_length=200)] = None,
    column: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """The dataset's description (``column``: the one whose classification the steward is
    about to change, chosen in the form)."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if (waiting := gate(request, entry)) is not None:
        return waiting
    chosen = dataset or (entry.datasets[0] if entry.datasets else None)
    inv = inventory(ctx.stores, actor=who, deal=deal, dataset=chosen) if chosen else None
    return deal_page(
        request, viewer, entry, "steward/inventory.html", section="inventory",
        inv=inv, chosen=chosen, column=column, can_override=offers(entry, "dataset.override"),
        pii_types=sorted(TYPES), categories=[c.value for c in Category], sketch_k=SKETCH_K,
    )  # fmt: skip


@router.post("/deals/{deal}/inventory/override")
def override(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    dataset: Name,
    target: Annotated[str, Form(min_length=3, max_length=300)],
    pii_type: Choice = "",
    category: Choice = "",
    sensitive: Choice = "",
) -> Response:
    """A steward's classification of one column, ``target`` = table/column (an empty
    choice keeps what is there)."""
    who, _ = member
    table, _sep, column = target.partition("/")
    override_column(
        ctx.stores, actor=who, deal=deal, dataset=dataset, table=table, column=column,
        pii_type=pii_type or None, category=category or None,
        sensitive={"yes": True, "no": False}.get(sensitive),
    )  # fmt: skip
    return go(request, inventory_url(deal, dataset))
