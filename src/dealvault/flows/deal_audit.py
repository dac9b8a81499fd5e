"""One deal's part of the audit log for the roles that read it (auditor, counsel, steward):
an event's inclusion proof and the deal's offline bundle, each decided on the deal
(``audit_log.prove``, ``audit_log.export``) and recorded in the log."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select

from dealvault.access import service as access
from dealvault.access.principal import Principal
from dealvault.audit import store
from dealvault.audit.deal_bundle import export_deal_bundle
from dealvault.audit.models import AuditEvent
from dealvault.audit.service import EventIn, ensure_checkpoint
from dealvault.errors import NotFound
from dealvault.files import write_private
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize


class ProofOut(BaseModel):
    """A C2SP tlog-proof of one event against a signed checkpoint, and the event's bytes."""

    index: int
    proof: str
    """The c2sp.org/tlog-proof@v1 text (the signed checkpoint at its end)."""
    event: str
    """The event's canonical JSON: the leaf data the proof is for."""


def prove_event(stores: AppStores, *, actor: Principal, deal: str, seq: int) -> ProofOut:
    """A proof that event ``seq`` of ``deal`` is in the signed log (a checkpoint is signed
    first if none covers it yet). An event of another deal is not found."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="audit_log.prove",
            deal=d,
            event=EventIn(action="audit.prove", objects={"event": seq}),
        )
        owner = s.scalar(select(AuditEvent.deal).where(AuditEvent.seq == seq))
        if owner != d.code:
            raise NotFound(f"event {seq} is not in the audit log of deal {d.code}")
        text = store.prove(s, stores.audit, seq=seq)
        body = store.event_body(s, seq=seq)
        audit(stores, uow, event)
    return ProofOut(index=seq, proof=text.decode("utf-8"), event=body.decode("utf-8"))


def write_proof(*, out: Path, proof: bytes, event: bytes, index: int) -> dict[str, object]:
    """The proof at ``out`` and the event beside it (``.event.json``), both 0600."""
    write_private(out, proof)
    event_file = out.with_suffix(".event.json")
    write_private(event_file, event)
    return {"proof": str(out), "event": str(event_file), "index": index}


def export_deal(
    stores: AppStores, *, actor: Principal, deal: str, out_dir: Path
) -> dict[str, object]:
    """The deal's offline bundle in ``out_dir`` (new or empty): its events, the other events'
    leaf hashes, the checkpoints (one is signed first) and the keys; returns the manifest."""
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal)
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="audit_log.export",
            deal=d,
            event=EventIn(action="audit.export", objects={"bundle": "deal"}),
        )
        audit(stores, uow, event)
        if stores.audit.can_sign:
            ensure_checkpoint(uow.records, stores.audit, reason="export")
    with stores.records_session() as s:
        return export_deal_bundle(s, deal=d.code, out_dir=out_dir)
