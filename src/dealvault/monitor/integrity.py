"""The log's own integrity, checked as the monitor reads it: each new event against its leaf
in the stored Merkle tree, each new signed checkpoint against the tree and the one before it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.audit import merkle
from dealvault.audit.checkpoint import checkpoint_of, open_checkpoint
from dealvault.audit.models import AuditCheckpoint, AuditNode
from dealvault.audit.service import DbNodeStore
from dealvault.audit.store import checkpoint_note, log_verifier
from dealvault.db.raw import raw_rows
from dealvault.errors import DealvaultError, NotFound


@dataclass(frozen=True)
class Finding:
    """Something wrong with the log: ``kind`` audit_integrity or checkpoint_chain, the event it
    is about (None: a checkpoint), and what, in words."""

    kind: str
    seq: int | None
    what: str


def check_events(
    session: Session, *, after: int, seqs: Sequence[int], bodies: Sequence[bytes]
) -> list[Finding]:
    """Each event of a batch (``seq > after``, in order) against its stored leaf hash; a
    missing event (a gap) or leaf is a finding too."""
    if not seqs:
        return []
    lo, hi = after + 1, max(seqs)
    leaves = {
        int(i): bytes(h)
        for i, h in raw_rows(
            session.connection(),
            select(AuditNode.idx, AuditNode.hash).where(
                AuditNode.level == 0, AuditNode.idx >= lo, AuditNode.idx <= hi
            ),
        )
    }
    out: list[Finding] = []
    present = set(seqs)
    for gap in sorted(set(range(lo, hi + 1)) - present)[:10]:
        why = "deleted: the tree has its leaf" if gap in leaves else "missing from the tree too"
        out.append(Finding("audit_integrity", gap, f"event {gap} is missing ({why})"))
    for seq, body in zip(seqs, bodies, strict=True):
        leaf = leaves.get(seq)
        if leaf is None:
            out.append(
                Finding("audit_integrity", seq, f"event {seq} has no leaf in the tree (inserted)")
            )
        elif merkle.leaf_hash(body) != leaf:
            out.append(
                Finding("audit_integrity", seq, f"event {seq} differs from its leaf (altered)")
            )
        if len(out) >= 10:
            break
    return out


def check_checkpoints(session: Session, *, after: int) -> tuple[list[Finding], int]:
    """Checkpoints with ``id > after``: signed by the log key, their root that of the stored
    tree at their size, and each extending the one before it (not smaller, and a consistency
    proof from it verifies). Returns the findings and the last checkpoint id seen."""
    rows = list(
        session.scalars(select(AuditCheckpoint).where(AuditCheckpoint.id > after).order_by("id"))
    )
    if not rows:
        return [], after
    try:
        verifier = log_verifier(session)
    except NotFound:
        return [], rows[-1].id  # an unsigned store: nothing to check checkpoints against
    previous = session.scalar(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.id <= after)
        .order_by(AuditCheckpoint.id.desc())
        .limit(1)
    )
    store = DbNodeStore(session)
    size = store.size()
    out: list[Finding] = []
    for cp in rows:
        name = f"checkpoint #{cp.id}"
        try:
            opened = open_checkpoint(checkpoint_note(session, cp), log_verifier=verifier)
            signed = opened.checkpoint
        except DealvaultError as exc:
            out.append(Finding("audit_integrity", None, f"{name} does not verify: {exc}"))
            continue
        if signed.size != cp.size or signed.root != bytes(cp.root):
            out.append(
                Finding("audit_integrity", None, f"{name}: its columns differ from its note")
            )
        if signed.size > size or merkle.root_at(store, signed.size) != signed.root:
            out.append(
                Finding("audit_integrity", None, f"{name}: the stored tree has another root")
            )
        if previous is not None:
            out += _extends(store, previous, cp, name)
        previous = cp
    return out, rows[-1].id


def _extends(
    store: DbNodeStore, previous: AuditCheckpoint, cp: AuditCheckpoint, name: str
) -> list[Finding]:
    old, new = checkpoint_of(previous.note), checkpoint_of(cp.note)
    if new.size < old.size:
        return [
            Finding(
                "checkpoint_chain",
                None,
                f"{name} (size {new.size}) is smaller than checkpoint #{previous.id} "
                f"(size {old.size}): it does not extend it",
            )
        ]
    try:
        merkle.verify_consistency(
            old_size=old.size,
            new_size=new.size,
            old_root=old.root,
            new_root=new.root,
            path=merkle.consistency_proof(store, old.size, new.size),
        )
    except DealvaultError as exc:
        return [
            Finding(
                "checkpoint_chain",
                None,
                f"{name} does not extend checkpoint #{previous.id}: {exc}",
            )
        ]
    return []
