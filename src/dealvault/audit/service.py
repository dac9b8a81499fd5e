"""Recording audit events in the caller's transaction, tree upkeep and signed checkpoints."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dealvault.audit import merkle
from dealvault.audit.checkpoint import Checkpoint, sign_checkpoint
from dealvault.audit.models import AuditCheckpoint, AuditEvent, AuditNode
from dealvault.audit.note import Signer
from dealvault.db.base import utcnow
from dealvault.db.bulk import bulk_insert
from dealvault.errors import Invalid

EVENT_VERSION = 1


@dataclass(frozen=True)
class AuditConfig:
    """How this store's log signs: its origin line, its signer, and the checkpoint cadence."""

    origin: str
    signer: Signer | None = None
    checkpoint_every: int = 1000

    def __repr__(self) -> str:
        return f"AuditConfig(origin={self.origin!r}, checkpoint_every={self.checkpoint_every})"


class SubjectPacker:
    """Collects subject ids incrementally (compressed, with a running digest): bounded memory
    for an event that touches a million customers."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(1)
        self._h = hashlib.sha256()
        self._parts: list[bytes] = []
        self.count = 0

    def add(self, subjects: Sequence[str]) -> None:
        if not subjects:
            return
        data = ("\n" if self.count else "") + "\n".join(subjects)
        raw = data.encode("ascii")
        self._h.update(raw)
        self._parts.append(self._z.compress(raw))
        self.count += len(subjects)

    def finish(self) -> tuple[str, bytes]:
        self._parts.append(self._z.flush())
        return "sha256:" + self._h.hexdigest(), b"".join(self._parts)


@dataclass(frozen=True)
class EventIn:
    """What a use case says happened. Never a personal value: customers by subject id only."""

    action: str
    actor: str | None = None
    deal: str | None = None
    objects: Mapping[str, str | int | None] = field(default_factory=dict)
    purpose: str | None = None
    decision: str | None = None
    reasons: Sequence[str] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    subjects: Sequence[str] | SubjectPacker = ()


class DbNodeStore:
    """The Merkle tree's stored complete nodes in ``audit_nodes`` (merkle.NodeStore)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._size: int | None = None

    def size(self) -> int:
        if self._size is None:
            n = self.session.scalar(
                select(func.count()).select_from(AuditNode).where(AuditNode.level == 0)
            )
            self._size = int(n or 0)
        return self._size

    def get(self, level: int, index: int) -> bytes:
        got = self.get_many([(level, index)])
        return got[(level, index)]

    def get_many(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        out: dict[tuple[int, int], bytes] = {}
        for level, idxs in by_level.items():
            for i in range(0, len(idxs), 500):
                for lv, ix, h in self.session.execute(
                    select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(
                        AuditNode.level == level, AuditNode.idx.in_(idxs[i : i + 500])
                    )
                ):
                    out[(lv, ix)] = bytes(h)
        missing = [k for k in keys if k not in out]
        if missing:
            raise KeyError(f"audit tree nodes missing: {missing[:3]}")
        return out

    def put_many(self, items: Sequence[tuple[int, int, bytes]]) -> None:
        bulk_insert(self.session, table="audit_nodes", columns=("level", "idx", "hash"), rows=items)
        self._size = None


def pack_subjects(subjects: Sequence[str] | SubjectPacker) -> tuple[int, str, bytes]:
    """(count, digest, compressed list) of subject ids, in the order given."""
    if isinstance(subjects, SubjectPacker):
        return (subjects.count, *subjects.finish())
    joined = "\n".join(subjects).encode("ascii")
    return len(subjects), "sha256:" + hashlib.sha256(joined).hexdigest(), zlib.compress(joined, 1)


def unpack_subjects(packed: bytes) -> list[str]:
    data = zlib.decompress(packed).decode("ascii")
    return data.split("\n") if data else []


def _timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def event_body(seq: int, at: datetime, ev: EventIn, subjects: tuple[int, str] | None) -> bytes:
    """The canonical (RFC 8785) bytes of an event: the Merkle leaf."""
    doc: dict[str, Any] = {
        "v": EVENT_VERSION,
        "seq": seq,
        "at": _timestamp(at),
        "actor": ev.actor,
        "action": ev.action,
        "deal": ev.deal,
        "objects": dict(ev.objects),
        "purpose": ev.purpose,
        "decision": ev.decision,
        "reasons": list(ev.reasons),
        "counts": dict(ev.counts),
        "subjects": None if subjects is None else {"count": subjects[0], "digest": subjects[1]},
    }
    return bytes(rfc8785.dumps(doc))


def _lock(session: Session) -> None:
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE audit_events IN EXCLUSIVE MODE"))


def record_many(session: Session, cfg: AuditConfig, events: Sequence[EventIn]) -> list[int]:
    """Append events in the caller's transaction (committed with the change they describe)."""
    if not events:
        return []
    for ev in events:
        if not ev.action:
            raise Invalid("an audit event needs an action")
    _lock(session)
    store = DbNodeStore(session)
    start = store.size()
    at = utcnow()
    rows, subject_rows, leaves = [], [], []
    for i, ev in enumerate(events):
        seq = start + i
        summary = None
        if isinstance(ev.subjects, SubjectPacker) or ev.subjects:
            count, digest, packed = pack_subjects(ev.subjects)
            subject_rows.append((seq, count, packed))
            summary = (count, digest)
        body = event_body(seq, at, ev, summary)
        rows.append((seq, at, ev.actor, ev.action, ev.deal, ev.decision, body))
        leaves.append(merkle.leaf_hash(body))
    session.add_all(
        AuditEvent(seq=s, at=a, actor=ac, action=act, deal=d, decision=dec, body=b)
        for s, a, ac, act, d, dec, b in rows
    )
    session.flush()
    if subject_rows:
        bulk_insert(
            session,
            table="audit_event_subjects",
            columns=("seq", "count", "packed"),
            rows=subject_rows,
        )
    merkle.append_leaves(store, leaves)
    end = start + len(events)
    every = cfg.checkpoint_every
    if cfg.signer is not None and every > 0 and end // every > start // every:
        make_checkpoint(session, cfg, reason=f"every {every} events")
    return [start + i for i in range(len(events))]


def record(session: Session, cfg: AuditConfig, event: EventIn) -> int:
    return record_many(session, cfg, [event])[0]


def tree_size(session: Session) -> int:
    return DbNodeStore(session).size()


def make_checkpoint(session: Session, cfg: AuditConfig, *, reason: str) -> AuditCheckpoint:
    """Sign the current tree head as a C2SP checkpoint note (in the caller's transaction)."""
    if cfg.signer is None:
        raise Invalid("this store has no audit signing key; run 'dealvault init'")
    store = DbNodeStore(session)
    size = store.size()
    root = merkle.root_at(store, size)
    note = sign_checkpoint(Checkpoint(origin=cfg.origin, size=size, root=root), signer=cfg.signer)
    cp = AuditCheckpoint(
        size=size, root=root, note=note.decode("utf-8"), reason=reason, at=utcnow()
    )
    session.add(cp)
    session.flush()
    return cp
