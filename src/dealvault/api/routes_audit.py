"""A deal's audit log for the roles that read it (auditor, counsel, steward): an event's
inclusion proof, the deal's offline bundle (a zip of the directory ``audit export`` writes)
and the auditor's report. Each handler calls one flow; the flow decides and records."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi import Path as InPath
from fastapi.responses import Response

from dealvault.api.deps import Actor, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, Text, error_responses
from dealvault.flows import auditing, deal_audit

router = APIRouter(prefix="/api", tags=["audit"], responses=error_responses(*COMMON))
DealCode = Annotated[Text, InPath(max_length=64)]
Seq = Annotated[int, InPath(ge=0, le=DB_INT_MAX)]
ZIP = "application/zip"
_REPORT = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def zip_directory(folder: Path) -> bytes:
    """Every file under ``folder`` (relative names, fixed order), as a zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            zf.write(path, arcname=path.relative_to(folder).as_posix())
    return buf.getvalue()


def attachment(body: bytes, *, media: str, name: str) -> Response:
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/deals/{deal}/audit/events/{seq}/proof")
def prove(deal: DealCode, seq: Seq, ctx: Ctx, actor: Actor) -> deal_audit.ProofOut:
    """A C2SP tlog-proof that event ``seq`` of the deal is in the signed log, with the event:
    verifiable offline with the log's verifier key."""
    return deal_audit.prove_event(ctx.stores, actor=actor, deal=deal, seq=seq)


@router.get(
    "/deals/{deal}/audit/export",
    responses={200: {"content": {ZIP: {}}}},
    response_class=Response,
)
def export(deal: DealCode, ctx: Ctx, actor: Actor) -> Response:
    """The deal's offline audit bundle, zipped: its events, the other events as leaf hashes,
    the signed checkpoints and the keys (``dealvault audit verify-bundle`` checks it)."""
    with tempfile.TemporaryDirectory(prefix="dealvault-bundle-") as tmp:
        folder = Path(tmp) / "bundle"
        deal_audit.export_deal(ctx.stores, actor=actor, deal=deal, out_dir=folder)
        body = zip_directory(folder)
    return attachment(body, media=ZIP, name=f"{deal}-audit-bundle.zip")


@router.get(
    "/deals/{deal}/audit/report",
    responses={200: {"content": {m: {} for m in _REPORT.values()}}},
    response_class=Response,
)
def report(
    deal: DealCode, ctx: Ctx, actor: Actor, format: Literal["html", "pdf"] = "html"
) -> Response:
    """The auditor's report of the deal (as ``dealvault audit report --deal``): accesses by
    organisation, person and method of sign-in, denials, verification, checkpoints."""
    with tempfile.TemporaryDirectory(prefix="dealvault-report-") as tmp:
        path = Path(tmp) / f"report.{format}"
        auditing.report(ctx.stores, out=path, deal=deal, actor=actor)
        body = path.read_bytes()
    return attachment(body, media=_REPORT[format], name=f"{deal}-audit-report.{format}")
