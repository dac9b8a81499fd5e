"""One deal's part of the audit log for the roles that read it (auditor, counsel, steward):
an event's inclusion proof and the deal's offline bundle, each decided on the deal
(``audit_log.prove``, ``audit_log.export``) and recorded in the log."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from dealvault.access import service as access
from dealvault.access.principal import Principal
from dealvault.audit import store
from dealvault.audit.checkpoint import checkpoint_of
from dealvault.audit.deal_bundle import export_deal_bundle
from dealvault.audit.merkle import leaf_hash
from dealvault.audit.models import AuditEvent
from dealvault.audit.note import SignatureCheck, SignatureStatus, Verifier, parse_note
from dealvault.audit.proof import parse_proof, verify_proof
from dealvault.audit.service import EventIn, ensure_checkpoint
from dealvault.errors import IntegrityError, Invalid, NotFound
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


class SignatureView(BaseModel):
    """One signature line of a checkpoint note, as checked with the keys the store knows."""

    name: str
    key_id: str
    #: ``log`` (the log's own key), ``cosigner`` (a witness's key), ``unknown``
    kind: str
    #: ``verified``, ``bad`` or ``unknown`` (no key to check it with)
    status: str
    #: when a witness cosigned (cosignatures only)
    cosigned_at: datetime | None = None


class ProofView(BaseModel):
    """An event with its inclusion proof, laid out to be read, and the server's check of it
    with the log's key (which a reader should compare with the key they hold)."""

    seq: int
    event: dict[str, Any]
    #: the event's canonical JSON: the exact leaf bytes
    event_json: str
    leaf_hash: str
    tree_size: int
    origin: str
    root_hex: str
    root_base64: str
    #: the inclusion path, leaf to root (hex)
    path: list[str]
    checkpoint_note: str
    signatures: list[SignatureView]
    log_key: str | None
    verified: bool
    problem: str | None
    #: the c2sp.org/tlog-proof@v1 text
    proof: str


def event_proof(stores: AppStores, *, actor: Principal, deal: str, seq: int) -> ProofView:
    """``prove_event`` (decided and recorded as ``audit_log.prove``), checked here with the
    log's key as this store holds it and the witnesses' registered keys: what the proof says,
    and whether it holds."""
    got = prove_event(stores, actor=actor, deal=deal, seq=seq)
    parsed = parse_proof(got.proof)
    cp = checkpoint_of(parsed.checkpoint_note)
    leaf = got.event.encode("utf-8")
    log_key = stores.audit.verifier
    with stores.records_session() as s:
        cosigners = store.cosigner_verifiers(s)
    problem: str | None = None
    checks: list[SignatureCheck] = []
    if log_key is None:
        problem = "this store has no audit log key to check the checkpoint with"
    else:
        try:
            done = verify_proof(
                proof_text=got.proof, leaf_data=leaf, log_verifier=log_key, cosigners=cosigners
            )
            checks = list(done.signatures)
        except (IntegrityError, Invalid) as exc:
            problem = str(exc)
    if not checks:
        _, sigs = parse_note(parsed.checkpoint_note)
        checks = [SignatureCheck(x.name, x.key_id, SignatureStatus.UNKNOWN) for x in sigs]
    return ProofView(
        seq=seq,
        event=json.loads(leaf),
        event_json=got.event,
        leaf_hash=leaf_hash(leaf).hex(),
        tree_size=cp.size,
        origin=cp.origin,
        root_hex=cp.root.hex(),
        root_base64=base64.b64encode(cp.root).decode("ascii"),
        path=[h.hex() for h in parsed.path],
        checkpoint_note=parsed.checkpoint_note.decode("utf-8"),
        signatures=[_signature(c, log_key, cosigners) for c in checks],
        log_key=None if log_key is None else log_key.key_string(),
        verified=problem is None,
        problem=problem,
        proof=got.proof,
    )


def _signature(
    check: SignatureCheck, log_key: Verifier | None, cosigners: list[Verifier]
) -> SignatureView:
    who = (check.name, check.key_id)
    kind = "unknown"
    if log_key is not None and who == (log_key.name, log_key.key_id):
        kind = "log"
    elif any(who == (c.name, c.key_id) for c in cosigners):
        kind = "cosigner"
    return SignatureView(
        name=check.name,
        key_id=f"{check.key_id:08x}",
        kind=kind,
        status=check.status.value,
        cosigned_at=None
        if check.timestamp is None
        else datetime.fromtimestamp(check.timestamp, UTC),
    )
