"""A deal's audit log on the web, for the roles its policy lets read it (auditor, counsel,
steward): the explorer (filters by person, action, time and sign-in method; pages of 50,
newest first, on the server), one event with its inclusion proof and checkpoint, the offline
bundle and the audit report. Every handler calls flows; they decide and record."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi import Path as InPath
from fastapi.responses import Response

from dealvault.access.principal import Authn
from dealvault.api.deps import Ctx
from dealvault.api.errors import DB_INT_MAX
from dealvault.api.routes_audit import ZIP, attachment, zip_directory
from dealvault.audit.store import LogFilter
from dealvault.flows import auditing, deal_audit
from dealvault.flows.entry import enter_deal
from dealvault.web.deps import Member
from dealvault.web.pages_deals import DealCode, deal_page, gate

router = APIRouter(include_in_schema=False)
Seq = Annotated[int, InPath(ge=0, le=DB_INT_MAX)]
Position = Annotated[int | None, Query(ge=0, le=DB_INT_MAX)]
Short = Annotated[str | None, Query(max_length=64)]
#: a page of the explorer
PAGE = 50
#: how a person may have signed in, as the filter offers it
AUTHN = tuple(a.value for a in Authn)
_REPORT = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def _moment(value: str | None, tz: ZoneInfo) -> datetime | None:
    """A ``datetime-local`` field's value, read in the viewer's time zone, as UTC; None when
    empty or not a time (the form shows it again, and says so)."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=tz)).astimezone(UTC)


@router.get("/deals/{deal}/audit")
def explorer(
    deal: DealCode,
    request: Request,
    ctx: Ctx,
    member: Member,
    person: Short = None,
    action: Short = None,
    authn: Short = None,
    since: Short = None,
    until: Short = None,
    before: Position = None,
    after: Position = None,
) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if stop := gate(request, entry):
        return stop
    start, end = _moment(since, viewer.tz), _moment(until, viewer.tz)
    bad_time = bool(since and start is None) or bool(until and end is None)
    flt = LogFilter(
        action=(action or "").strip() or None,
        authn=authn if authn in AUTHN else None,
        since=start,
        until=end,
        before=before,
        after=None if before is not None else after,
    )
    page = auditing.explore(
        ctx.stores, actor=who, deal=deal, flt=flt, person=person or None, page=PAGE
    )
    filters = {
        "person": person or "",
        "action": action or "",
        "authn": flt.authn or "",
        "since": since or "",
        "until": until or "",
    }
    kept = {k: v for k, v in filters.items() if v}

    def link(**position: int) -> str:
        return f"/deals/{deal}/audit?" + urlencode({**kept, **position})

    return deal_page(
        request, viewer, entry, "audit/log.html", section="audit",
        page=page, filters=filters, filtered=bool(kept), authn_methods=AUTHN,
        newer_url=link(after=page.newer) if page.newer is not None else None,
        older_url=link(before=page.older) if page.older is not None else None,
        first_page=before is not None or after is not None,
        newest_url=f"/deals/{deal}/audit?" + urlencode(kept),
        bad_time=bad_time, page_size=PAGE,
    )  # fmt: skip


@router.get("/deals/{deal}/audit/events/{seq}")
def event(deal: DealCode, seq: Seq, request: Request, ctx: Ctx, member: Member) -> Response:
    """One event in full, with its inclusion proof and the signed checkpoint it leads to."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    if stop := gate(request, entry):
        return stop
    view = deal_audit.event_proof(ctx.stores, actor=who, deal=deal, seq=seq)
    return deal_page(request, viewer, entry, "audit/event.html", section="audit", view=view)


@router.get("/deals/{deal}/audit/events/{seq}/proof")
def proof_file(deal: DealCode, seq: Seq, ctx: Ctx, member: Member) -> Response:
    """The C2SP tlog-proof of the event, as ``dealvault audit prove`` writes it."""
    who, _ = member
    got = deal_audit.prove_event(ctx.stores, actor=who, deal=deal, seq=seq)
    return attachment(
        got.proof.encode("utf-8"), media="text/plain; charset=utf-8",
        name=f"{deal}-event-{seq}.tlog-proof",
    )  # fmt: skip


@router.get("/deals/{deal}/audit/events/{seq}/event.json")
def event_file(deal: DealCode, seq: Seq, ctx: Ctx, member: Member) -> Response:
    """The event's exact bytes (the leaf the proof is for)."""
    who, _ = member
    got = deal_audit.prove_event(ctx.stores, actor=who, deal=deal, seq=seq)
    return attachment(
        got.event.encode("utf-8"), media="application/json",
        name=f"{deal}-event-{seq}.event.json",
    )  # fmt: skip


@router.get("/deals/{deal}/audit/bundle")
def bundle(deal: DealCode, ctx: Ctx, member: Member) -> Response:
    """The deal's offline bundle, zipped (``dealvault audit verify-bundle`` checks it)."""
    who, _ = member
    with tempfile.TemporaryDirectory(prefix="dealvault-bundle-") as tmp:
        folder = Path(tmp) / "bundle"
        deal_audit.export_deal(ctx.stores, actor=who, deal=deal, out_dir=folder)
        body = zip_directory(folder)
    return attachment(body, media=ZIP, name=f"{deal}-audit-bundle.zip")


@router.get("/deals/{deal}/audit/report")
def report(
    deal: DealCode, ctx: Ctx, member: Member, format: Literal["html", "pdf"] = "pdf"
) -> Response:
    """The audit report of the deal, with a fresh verification of the log."""
    who, _ = member
    with tempfile.TemporaryDirectory(prefix="dealvault-report-") as tmp:
        path = Path(tmp) / f"report.{format}"
        auditing.report(ctx.stores, out=path, deal=deal, actor=who)
        body = path.read_bytes()
    return attachment(body, media=_REPORT[format], name=f"{deal}-audit-report.{format}")
