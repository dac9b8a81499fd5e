"""A deal's door on the web: the list of one's deals, the overview, and what stands before
the content (the click-through agreement to accept, the training to complete)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from dealvault.api.deps import Ctx
from dealvault.errors import DealvaultError, Invalid
from dealvault.flows import acceptance, admin
from dealvault.flows.entry import EntryOut, enter_deal
from dealvault.web.deps import Member
from dealvault.web.errors import go
from dealvault.web.nav import sections_for
from dealvault.web.render import Viewer, render

router = APIRouter(include_in_schema=False)
DealCode = Annotated[str, Path(max_length=64)]


def deal_page(
    request: Request,
    viewer: Viewer,
    entry: EntryOut,
    template: str,
    *,
    section: str,
    status: int = 200,
    **context: Any,
) -> Response:
    """A page of the deal, with its menu for the person's roles."""
    return render(
        request, viewer, template, status=status, entry=entry, deal=entry.deal,
        sections=sections_for(entry.roles), section=section, **context,
    )  # fmt: skip


def gate(request: Request, entry: EntryOut, *, needs_training: bool = False) -> Response | None:
    """Where a person goes before the deal's content: the agreement awaiting their
    acceptance first, then (for pages above metadata) the training they lack."""
    code = entry.deal.code
    if entry.awaiting:
        return go(request, f"/deals/{code}/agreements/{entry.awaiting[0].id}/accept")
    if needs_training and entry.training_problem:
        return go(request, f"/deals/{code}/training")
    return None


@router.get("/deals")
def deals(request: Request, ctx: Ctx, member: Member) -> Response:
    who, viewer = member
    return render(request, viewer, "deals/list.html", deals=admin.list_deals(ctx.stores, actor=who))


@router.get("/deals/{deal}")
def overview(deal: DealCode, request: Request, ctx: Ctx, member: Member) -> Response:
    from dealvault.web.pages_steward import role_panels  # (it imports this module)

    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    return gate(request, entry) or deal_page(
        request, viewer, entry, "deals/overview.html", section="",
        **role_panels(ctx, who, entry),
    )  # fmt: skip


@router.get("/deals/{deal}/training")
def training(deal: DealCode, request: Request, ctx: Ctx, member: Member) -> Response:
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    return deal_page(request, viewer, entry, "deals/training.html", section="")


@router.get("/deals/{deal}/agreements/{agreement_id}/accept")
def accept_page(
    deal: DealCode, agreement_id: int, request: Request, ctx: Ctx, member: Member
) -> Response:
    """The agreement to accept: its document (read here or downloaded) and its SHA-256."""
    who, viewer = member
    entry = enter_deal(ctx.stores, actor=who, deal=deal)
    doc = acceptance.review_document(ctx.stores, ctx.keyring, actor=who, agreement_id=agreement_id)
    text = _readable(doc.content, doc.name)
    return deal_page(
        request, viewer, entry, "deals/accept.html", section="agreements",
        document=doc, text=text, error=None,
    )  # fmt: skip


def _readable(content: bytes, name: str | None) -> str | None:
    """The document as text where it is text (shown on the page); else None (downloaded)."""
    if name and not name.lower().endswith((".txt", ".md")):
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


@router.get("/deals/{deal}/agreements/{agreement_id}/document")
def document(
    deal: DealCode, agreement_id: int, request: Request, ctx: Ctx, member: Member
) -> Response:
    who, _ = member
    doc = acceptance.review_document(ctx.stores, ctx.keyring, actor=who, agreement_id=agreement_id)
    name = f"agreement-{doc.agreement}" + _suffix(doc.name)
    return Response(
        doc.content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "X-Document-SHA256": doc.sha256},
    )  # fmt: skip


def _suffix(name: str | None) -> str:
    if name and "." in name:
        ext = name.rsplit(".", 1)[1].lower()
        if ext.isalnum() and len(ext) <= 5:
            return "." + ext
    return ""


@router.post("/deals/{deal}/agreements/{agreement_id}/accept")
def accept(
    deal: DealCode,
    agreement_id: int,
    request: Request,
    ctx: Ctx,
    member: Member,
    sha256: Annotated[str, Form(max_length=80)],
    agree: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """The click-through signature: the box ticked and the document's SHA-256 confirmed."""
    who, viewer = member
    try:
        if agree != "yes":
            raise Invalid("tick the box to confirm that you have read and accept the agreement")
        acceptance.accept(ctx.stores, actor=who, agreement_id=agreement_id, document_sha256=sha256)
    except DealvaultError as exc:
        entry = enter_deal(ctx.stores, actor=who, deal=deal)
        doc = acceptance.review_document(
            ctx.stores, ctx.keyring, actor=who, agreement_id=agreement_id
        )
        return deal_page(
            request, viewer, entry, "deals/accept.html", section="agreements", status=400,
            document=doc, text=_readable(doc.content, doc.name), error=str(exc),
        )  # fmt: skip
    return go(request, f"/deals/{deal}")
