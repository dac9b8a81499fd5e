"""Use cases on the audit log: verify, export, prove, query, checkpoint, cosign."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from dealvault.access.models import Person
from dealvault.audit import bundle, store
from dealvault.audit.models import AuditCosignature
from dealvault.audit.note import Signer
from dealvault.audit.report import ReportInput, render_html, render_pdf
from dealvault.audit.service import EventIn, ensure_checkpoint, make_checkpoint
from dealvault.audit.verify import Anchors, VerifyReport
from dealvault.db.base import utcnow
from dealvault.errors import Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit


class VerifyOut(BaseModel):
    ok: bool
    events: int
    root: str
    first_bad: int | None
    problems: list[str]
    checkpoints: list[dict[str, Any]]
    covered: int
    """Events covered by a checkpoint whose signature and root verified."""
    trust: str
    """``pinned-key`` or ``internal-consistency-only``."""
    trust_note: str
    pinned_key: str | None
    witnesses: list[str]
    witnessed: int | None
    """Events covered by a checkpoint every required witness cosigned (None: none required)."""


UNPINNED = (
    "only internal consistency was checked: the checkpoints were verified with the log key "
    "that the {what} names itself, so a log rewritten and re-signed under another key passes; "
    "pin the log's verifier key (--verifier-key, --verifier-key-file or "
    "DEALVAULT_AUDIT_VERIFIER_KEY) to detect that"
)


def _out(report: VerifyReport, anchors: Anchors, what: str) -> VerifyOut:
    pinned = anchors.pinned
    if pinned is None:
        note = UNPINNED.format(what=what)
    else:
        note = f"checkpoints verified with the pinned log key {pinned.name}+{pinned.key_id:08x}"
    if anchors.witnesses:
        since = anchors.witness_since.isoformat() if anchors.witness_since else "the start"
        note += f"; events from {since} on must be covered by a witnessed checkpoint"
    return VerifyOut(
        ok=report.ok,
        events=report.events,
        root=report.root,
        first_bad=report.first_bad,
        problems=report.problems,
        checkpoints=report.checkpoints,
        covered=report.covered,
        trust="internal-consistency-only" if pinned is None else "pinned-key",
        trust_note=note,
        pinned_key=None if pinned is None else pinned.key_string(),
        witnesses=[w.key_string() for w in anchors.witnesses],
        witnessed=report.witnessed if anchors.witnesses else None,
    )


def verify(stores: AppStores, *, anchors: Anchors | None = None) -> VerifyOut:
    """Recompute the whole log from the database; changes nothing. Without a pinned key
    (``anchors``) only internal consistency is checked, and the result says so."""
    anchors = anchors or Anchors()
    with stores.records_session() as s, stores.records_session() as leaves:
        return _out(store.verify_store(s, leaves, anchors=anchors), anchors, "store")


def verify_bundle(*, path: Path, anchors: Anchors | None = None) -> VerifyOut:
    anchors = anchors or Anchors()
    return _out(bundle.verify_bundle(bundle=path, anchors=anchors), anchors, "bundle")


def export(stores: AppStores, *, out_dir: Path, actor: str | None) -> dict[str, object]:
    with stores.unit_of_work() as uow:
        audit(
            stores,
            uow,
            EventIn(action="audit.export", actor=actor, objects={"bundle": out_dir.name}),
        )
        if stores.audit.can_sign:
            ensure_checkpoint(uow.records, stores.audit, reason="export")
    with stores.records_session() as s:
        return bundle.export_bundle(s, out_dir=out_dir)


def prove(stores: AppStores, *, seq: int, out: Path, actor: str | None) -> dict[str, object]:
    """Write a C2SP tlog-proof for event ``seq`` and the event itself next to it."""
    with stores.unit_of_work() as uow:
        text = store.prove(uow.records, stores.audit, seq=seq)
        body = store.event_body(uow.records, seq=seq)
        audit(stores, uow, EventIn(action="audit.prove", actor=actor, objects={"event": seq}))
    out.write_bytes(text)
    event_file = out.with_suffix(".event.json")
    event_file.write_bytes(body)
    return {"proof": str(out), "event": str(event_file), "index": seq}


def log(stores: AppStores, *, flt: store.LogFilter) -> list[dict[str, Any]]:
    with stores.records_session() as s:
        return store.query(s, flt=flt)


def checkpoint(stores: AppStores, *, actor: str | None) -> dict[str, object]:
    if not stores.audit.can_sign:
        raise Invalid("this store has no audit signing key; run 'dealvault init'")
    with stores.unit_of_work() as uow:
        audit(stores, uow, EventIn(action="audit.checkpoint", actor=actor))
        cp = make_checkpoint(uow.records, stores.audit, reason="on demand")
        return {"id": cp.id, "size": cp.size, "root": cp.root.hex(), "note": cp.note}


def cosign(
    stores: AppStores, *, cosigner_key: str, checkpoint_id: int | None, actor: str | None
) -> dict[str, object]:
    signer = Signer.from_key(cosigner_key)
    with stores.unit_of_work() as uow:
        row = store.cosign(uow.records, cosigner=signer, checkpoint_id=checkpoint_id)
        audit(
            stores,
            uow,
            EventIn(
                action="audit.cosign",
                actor=actor,
                objects={"checkpoint": row.checkpoint_id, "cosigner": signer.name},
            ),
        )
        return {"checkpoint": row.checkpoint_id, "cosigner": signer.name, "line": row.line.strip()}


def report(
    stores: AppStores, *, out: Path, deal: str | None, actor: str | None
) -> dict[str, object]:
    """The auditor's report (HTML, or PDF when ``out`` ends in .pdf), with a fresh verification."""
    verification = verify(stores)
    with stores.records_session() as s:
        events = store.query(s, flt=store.LogFilter(deal=deal, limit=10**9))
        people = {p.email: p.organization.name for p in s.scalars(select(Person)).all()}
        cps = []
        for cp in store.checkpoints(s):
            cosigners = s.scalars(
                select(AuditCosignature.name).where(AuditCosignature.checkpoint_id == cp.id)
            ).all()
            cps.append(
                {
                    "id": cp.id,
                    "size": cp.size,
                    "root": cp.root.hex(),
                    "reason": cp.reason,
                    "at": cp.at.isoformat(),
                    "cosigners": list(cosigners),
                }
            )
    data = ReportInput(
        title=f"Audit report — deal {deal}" if deal else "Audit report — all deals",
        generated_at=utcnow(),
        origin=stores.audit.origin,
        events=events,
        people=people,
        verification=verification.model_dump(),
        checkpoints=cps,
    )
    if out.suffix.lower() == ".pdf":
        out.write_bytes(render_pdf(data=data))
    else:
        out.write_text(render_html(data=data), encoding="utf-8")
    with stores.unit_of_work() as uow:
        audit(
            stores,
            uow,
            EventIn(
                action="audit.report",
                actor=actor,
                deal=deal,
                objects={"file": out.name},
                counts={"events": len(events)},
            ),
        )
    return {"report": str(out), "events": len(events), "verified": verification.ok}
