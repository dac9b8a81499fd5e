"""The data of a deal on the web, second part: records (bidder clean team under an approved
grant, and the seller's stewards) at the level granted, released page by page on the server
(50 rows: only the page counts against the grant's row cap), with the disclosure's metadata,
the rows the grant may still deliver, and a visible watermark with the viewer's name,
organisation and the time; downloads at the same level (CSV, XLSX, Parquet, and a page as
PDF), each carrying the recipient in its metadata, the recipient's canary customers and (XLSX,
PDF) a visible watermark.

A member without a record level sees what level they have, why records are refused (the
flow's reasons) and the way to ask for access."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dealvault.access.principal import Principal
from dealvault.api.deps import Ctx
from dealvault.api.errors import DB_INT_MAX
from dealvault.deidentify.levels import Level
from dealvault.errors import Forbidden
from dealvault.flows import disclosure
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.flows.my_access import GrantLeftOut, MyAccessOut, my_access
from dealvault.web.deps import Member
from dealvault.web.pages_data_files import (
    PURPOSE_DOWNLOAD,
    PURPOSE_RECORDS,
    DatasetQ,
    chosen_dataset,
    rows_of,
    serve_disclosure,
    serve_pdf,
    shown_watermark,
)
from dealvault.web.pages_deals import DealCode, deal_page, gate
from dealvault.web.render import Viewer

router = APIRouter(include_in_schema=False)
#: rows per page: what one page releases (and counts against a grant's row cap)
PAGE_SIZE = 50
RecordLevel = Literal["full", "masked", "pseudonymized", "anonymized"]
LevelQ = Annotated[RecordLevel | None, Query()]
PageQ = Annotated[int, Query(ge=1, le=DB_INT_MAX // PAGE_SIZE)]


def _records(
    ctx: Any,
    who: Principal,
    *,
    deal: str,
    dataset: str,
    level: str,
    window: tuple[int, int] | None,
    purpose: str,
) -> disclosure.Disclosure:
    request = disclosure.DisclosureRequest(
        actor=who, deal=deal, dataset=dataset, level=Level(level), purpose=purpose,
        window=window,
    )  # fmt: skip
    return disclosure.view(
        ctx.stores, ctx.keyring, request=request, level=Level(level), settings=ctx.settings
    )


def _window(page: int) -> tuple[int, int]:
    return (page - 1) * PAGE_SIZE, PAGE_SIZE


def page_of(result: disclosure.Disclosure, page: int) -> tuple[Any, int]:
    """The page's rows and the whole view's length: a paged release is the page already; an
    anonymized release is made whole (k-anonymity holds for the whole), the page is cut here."""
    report = result.meta.get("report") or {}
    if "rows_available" in report:
        return result.frame, int(report["rows_available"])
    offset, limit = _window(page)
    return result.frame.slice(offset, limit), result.frame.height


@router.get("/deals/{deal}/records")
def records(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    dataset: DatasetQ = None,
    level: LevelQ = None,
    page: PageQ = 1,
) -> Response:
    """One page of records at the level asked for (default: the highest granted)."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    blocked = gate(request, entry, needs_training=True)
    if blocked is not None:
        return blocked
    name = chosen_dataset(entry, dataset)
    if name is None:
        return deal_page(
            request, viewer, entry, "data/records.html", section="records", dataset=None,
            mine=None, denied=False,
        )  # fmt: skip
    mine = my_access(ctx.stores, actor=who, deal=deal, dataset=name)
    levels = offered(mine)
    wanted = level or (levels[0] if levels else None)
    if wanted is None:
        return _denied(request, viewer, entry, mine, reasons=mine.reasons, level=None)
    try:
        result = _records(
            ctx, who, deal=deal, dataset=name, level=wanted, window=_window(page),
            purpose=PURPOSE_RECORDS,
        )  # fmt: skip
    except Forbidden as exc:
        reasons = str(exc).removeprefix("access denied: ").split("; ")
        return _denied(request, viewer, entry, mine, reasons=reasons, level=wanted)
    rows, total = page_of(result, page)
    report = result.meta.get("report") or {}
    pages = max(1, -(-total // PAGE_SIZE))
    grant = _grant(mine, report.get("grant"))
    before = report.get("rows_left_before")
    left = None if before is None else max(0, int(before) - int(result.meta.get("rows", 0)))
    return deal_page(
        request, viewer, entry, "data/records.html", section="records", dataset=name,
        mine=mine, levels=levels, denied=False, level=wanted, meta=result.meta, report=report,
        columns=rows.columns, rows=rows_of(rows), page=page, pages=pages, total=total,
        page_size=PAGE_SIZE, first=(page - 1) * PAGE_SIZE + 1, grant=grant, rows_left=left,
        mark=shown_watermark(result.meta, viewer),
    )  # fmt: skip


def offered(mine: MyAccessOut) -> list[str]:
    """The record levels the page offers, most revealing first: not anonymized when a level
    above it is open (an anonymized release is made whole, so opening it spends the row cap
    at once; it stays reachable by its address)."""
    above = [lv for lv in mine.record_levels if lv != Level.ANONYMIZED.value]
    return above or list(mine.record_levels)


def _grant(mine: MyAccessOut, grant_id: object) -> GrantLeftOut | None:
    return next((g for g in mine.grants if g.id == grant_id), None)


def _denied(
    request: Request,
    viewer: Viewer,
    entry: EntryOut,
    mine: MyAccessOut,
    *,
    reasons: list[str],
    level: str | None,
) -> Response:
    """No records: the level the person has, the flow's reasons, and where to ask."""
    return deal_page(
        request, viewer, entry, "data/records.html", section="records", status=403,
        dataset=mine.dataset, mine=mine, denied=True, reasons=reasons, level=level,
    )  # fmt: skip


@router.get("/deals/{deal}/records/download")
def records_download(
    deal: DealCode,
    ctx: Ctx,
    member: Member,
    dataset: Annotated[str, Query(min_length=1, max_length=200)],
    level: Annotated[RecordLevel, Query()],
    page: PageQ = 1,
    format: Literal["csv", "xlsx", "parquet", "pdf"] = "csv",
    scope: Literal["page", "all"] = "page",
) -> Response:
    """The records at the level of the page, as a file: the page shown, or (CSV, XLSX,
    Parquet) every row the grant may still deliver. A PDF is always one page."""
    who, viewer = member
    whole = scope == "all" and format != "pdf"
    result = _records(
        ctx, who, deal=deal, dataset=dataset, level=level,
        window=None if whole else _window(page), purpose=PURPOSE_DOWNLOAD,
    )  # fmt: skip
    if not whole:
        rows, _ = page_of(result, page)
        result = disclosure.Disclosure(frame=rows, meta=result.meta)
    if format == "pdf":
        return serve_pdf(viewer, result, page=page)
    return serve_disclosure(result, fmt=format, suffix="" if whole else f"-page{page}")
