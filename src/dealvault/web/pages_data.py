"""The data of a deal on the web, first part: safe aggregates (bidder business team, and
every role whose ceiling reaches the aggregate level) as tables and charts — bars per group,
provinces as a tile map — with suppressed cells shown as suppressed, and their downloads.

Every number comes from ``disclosure.view`` at the aggregate level (decided, recorded), the
choice of groupings and measures from ``my_access.my_access``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dealvault.access.principal import Principal
from dealvault.api.deps import Ctx
from dealvault.deidentify.levels import Level
from dealvault.deidentify.measures import parse_measure
from dealvault.errors import Invalid
from dealvault.flows import disclosure
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.flows.my_access import MyAccessOut, my_access
from dealvault.ingest.fields import Category
from dealvault.web.deps import Member
from dealvault.web.pages_data_charts import bar_chart, cells, tile_map
from dealvault.web.pages_data_files import (
    PURPOSE_AGGREGATES,
    PURPOSE_DOWNLOAD,
    ChoiceQ,
    DatasetQ,
    chosen_dataset,
    serve_disclosure,
)
from dealvault.web.pages_data_records import router as records_router
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.render import Viewer

router = APIRouter(include_in_schema=False)
router.include_router(records_router)
#: groupings drawn as a map of provinces as well as bars
MAP_GROUPS = frozenset({"province"})


def _aggregate(
    ctx: Any, who: Principal, *, deal: str, dataset: str, group: str | None, measure: str,
    purpose: str,
) -> disclosure.Disclosure:  # fmt: skip
    request = disclosure.DisclosureRequest(
        actor=who,
        deal=deal,
        dataset=dataset,
        level=Level.AGGREGATE,
        purpose=purpose,
        group_by=[group] if group else [],
        measures=[measure],
        categories=categories_for(group, measure),
    )
    return disclosure.view(
        ctx.stores, ctx.keyring, request=request, level=Level.AGGREGATE, settings=ctx.settings
    )


#: the categories each grouping or measure of the customers is made from (the region comes
#: from the address or the ID number, the age from the birth date or the ID number, order
#: summaries from the orders); anything else: every category but free text
C = Category
SOURCES: dict[str, tuple[Category, ...]] = {
    "province": (C.CONTACT, C.SENSITIVE),
    "city": (C.CONTACT, C.SENSITIVE),
    "district": (C.CONTACT, C.SENSITIVE),
    "gender": (C.IDENTITY,),
    "age_band": (C.IDENTITY, C.SENSITIVE),
    "age": (C.IDENTITY, C.SENSITIVE),
    "favourite_product": (C.PREFERENCE,),
    "purchase_frequency": (C.PREFERENCE,),
    "registered_at": (C.PREFERENCE,),
    "order_count": (C.TRANSACTION,),
    "total_amount": (C.TRANSACTION,),
    "first_order": (C.TRANSACTION,),
    "last_order": (C.TRANSACTION,),
    "": (C.IDENTITY,),  # no grouping, a count: any one category gives every customer
}
_OTHERS = (C.IDENTITY, C.CONTACT, C.PREFERENCE, C.SENSITIVE, C.TRANSACTION)


def categories_for(group: str | None, measure: str) -> list[str]:
    """The categories an aggregate needs decrypted, and no more: decrypting every order (or
    every column) for a count by province was most of the page's time. Never free text: no
    grouping is made from it."""
    wanted: list[Category] = []
    for name in ((group or "").partition(":")[0], parse_measure(measure).column or ""):
        wanted += SOURCES.get(name, _OTHERS)
    return list(dict.fromkeys(c.value for c in wanted))


def _choices(
    mine: MyAccessOut, group_by: str | None, measure: str | None
) -> tuple[str | None, str]:
    group = group_by if group_by is not None else (mine.groupings[0] if mine.groupings else None)
    return (group or None), (measure or "count")


def value_column(measure: str) -> str:
    """The column a chart draws: the measure's, or the number of customers for a count."""
    m = parse_measure(measure)
    return "customers" if m.kind == "count" else m.output


@router.get("/deals/{deal}/aggregates")
def aggregates(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    dataset: DatasetQ = None,
    group_by: ChoiceQ = None,
    measure: ChoiceQ = None,
) -> Response:
    """Safe aggregates of a dataset: the table, a bar chart (and a map by province), what
    suppression hid and why."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    blocked = gate(request, entry, needs_training=True)
    if blocked is not None:
        return blocked
    name = chosen_dataset(entry, dataset)
    if name is None:
        return _page(request, viewer, entry, dataset=None)
    mine = my_access(ctx.stores, actor=who, deal=deal, dataset=name)
    group, chosen = _choices(mine, group_by, measure)
    error: str | None = None
    result: disclosure.Disclosure | None = None
    try:
        result = _aggregate(
            ctx, who, deal=deal, dataset=name, group=group, measure=chosen,
            purpose=PURPOSE_AGGREGATES,
        )  # fmt: skip
    except Invalid as exc:  # a grouping or measure the data does not allow
        error = str(exc)
    return _page(
        request, viewer, entry, dataset=name, mine=mine, group=group, measure=chosen,
        result=result, error=error, status=400 if error else 200,
    )  # fmt: skip


def _page(
    request: Request,
    viewer: Viewer,
    entry: EntryOut,
    *,
    dataset: str | None,
    mine: MyAccessOut | None = None,
    group: str | None = None,
    measure: str = "count",
    result: disclosure.Disclosure | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    rows: list[dict[str, Any]] = result.frame.to_dicts() if result is not None else []
    value = value_column(measure) if result is not None else "customers"
    chart = bar_chart(rows, group=group, value=value) if result is not None and group else None
    tiles = (
        tile_map(rows, group=group, value=value)
        if result is not None and group in MAP_GROUPS
        else None
    )
    # a count's record column repeats the customers column on a table of customers: not shown
    hidden_columns = {"suppressed"} | ({"count"} if measure == "count" else set())
    columns = [c for c in (result.frame.columns if result is not None else [])
               if c not in hidden_columns]  # fmt: skip
    report = (result.meta.get("report") or {}) if result is not None else {}
    params = (result.meta.get("parameters") or {}) if result is not None else {}
    hidden = [r for r in rows if r.get("suppressed")]
    return deal_page(
        request, viewer, entry, "data/aggregates.html", section="aggregates", status=status,
        dataset=dataset, mine=mine, group=group, measure=measure, result=result, rows=rows,
        columns=columns, value=value, chart=chart, tiles=tiles, report=report, params=params,
        hidden=len(hidden), cells=len(cells(rows, group=group)) if group else len(rows),
        error=error,
    )  # fmt: skip


@router.get("/deals/{deal}/aggregates/download")
def aggregates_download(
    deal: DealCode,
    ctx: Ctx,
    member: Member,
    dataset: Annotated[str, Query(min_length=1, max_length=200)],
    group_by: ChoiceQ = None,
    measure: ChoiceQ = None,
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """The aggregate on the page as a file, with the same metadata as ``dealvault disclose``
    writes (level, recipient, time, parameters, suppression report)."""
    who, _ = member
    if group_by is not None and not group_by:
        group_by = None
    result = _aggregate(
        ctx, who, deal=deal, dataset=dataset, group=group_by, measure=measure or "count",
        purpose=PURPOSE_DOWNLOAD,
    )  # fmt: skip
    if result.meta.get("level") != Level.AGGREGATE.value:  # pragma: no cover - view's level
        raise Invalid("not an aggregate")
    return serve_disclosure(result, fmt=format, suffix=f"-{group_by or 'total'}".replace(":", "-"))
