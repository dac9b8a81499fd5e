"""The log as stored: checkpoints with cosignatures, keys, verification, proofs, queries."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.audit import merkle
from dealvault.audit.checkpoint import cosign_checkpoint
from dealvault.audit.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEvent,
    AuditEventSubjects,
    AuditKey,
)
from dealvault.audit.note import Signer, Verifier
from dealvault.audit.proof import build_proof
from dealvault.audit.service import (
    AuditConfig,
    DbNodeStore,
    make_checkpoint,
    unpack_subjects,
)
from dealvault.audit.verify import CheckpointIn, VerifyReport, verify_events
from dealvault.db.base import utcnow
from dealvault.errors import Invalid, NotFound


def log_verifier(session: Session) -> Verifier:
    key = session.scalar(select(AuditKey.verifier_key).where(AuditKey.role == "log"))
    if key is None:
        raise NotFound("this store has no audit log key; run 'dealvault init'")
    return Verifier.from_key(key)


def register_log_key(session: Session, cfg: AuditConfig) -> bool:
    """Record the log's public key (once); True when it was new."""
    if cfg.signer is None:
        raise Invalid("no audit signer to register")
    vkey = cfg.signer.verifier().key_string()
    if session.get(AuditKey, vkey) is not None:
        return False
    session.add(AuditKey(verifier_key=vkey, name=cfg.origin, role="log", at=utcnow()))
    session.flush()
    return True


def cosigner_verifiers(session: Session) -> list[Verifier]:
    keys = session.scalars(select(AuditKey.verifier_key).where(AuditKey.role == "cosigner"))
    return [Verifier.from_key(k) for k in keys]


def checkpoint_note(session: Session, cp: AuditCheckpoint) -> bytes:
    """The checkpoint's note with every cosignature line added since."""
    lines = session.scalars(
        select(AuditCosignature.line)
        .where(AuditCosignature.checkpoint_id == cp.id)
        .order_by(AuditCosignature.id)
    ).all()
    return (cp.note + "".join(lines)).encode("utf-8")


def checkpoints(session: Session) -> list[AuditCheckpoint]:
    return list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))


def _as_bytes(value: object) -> bytes:
    """Column bytes; a tampered row may hold text instead (SQLite is loosely typed)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    assert isinstance(value, bytes | bytearray | memoryview)
    return bytes(value)


CHUNK = 20_000


def _event_chunks(session: Session) -> Iterator[list[tuple[int, bytes, bytes | None]]]:
    """Every event with its subject list, in order, in chunks: a plain DB-API cursor, since
    this is the verifier's hot path (SQLAlchemy's row handling would cost more than hashing)."""
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        cur.execute(
            "SELECT e.seq, e.body, s.packed FROM audit_events e "
            "LEFT JOIN audit_event_subjects s ON s.seq = e.seq ORDER BY e.seq"
        )
        while rows := cur.fetchmany(CHUNK):
            if all(type(r[1]) is bytes for r in rows):
                yield list(rows)
            else:  # a tampered row may hold text (SQLite is loosely typed)
                yield [
                    (int(q), _as_bytes(b), None if p is None else _as_bytes(p)) for q, b, p in rows
                ]
    finally:
        cur.close()


def _leaf_source(session: Session) -> Callable[[int, int], list[bytes]]:
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    mark = "%s" if session.connection().dialect.name == "postgresql" else "?"
    sql = (
        f"SELECT hash FROM audit_nodes WHERE level = 0 AND idx >= {mark} AND idx < {mark} "
        "ORDER BY idx"
    )

    def leaves(start: int, end: int) -> list[bytes]:
        cur = raw.cursor()
        try:
            cur.execute(sql, (start, end))
            return [h if type(h) is bytes else _as_bytes(h) for (h,) in cur.fetchall()]
        finally:
            cur.close()

    return leaves


def verify_store(records: Session, leaves_session: Session) -> VerifyReport:
    """Recompute everything from the stored events (two sessions: two parallel scans)."""
    log = log_verifier(records)
    cps = checkpoints(records)
    inputs = [CheckpointIn(c.size, checkpoint_note(records, c), f"#{c.id}") for c in cps]
    report, frontier = verify_events(
        _event_chunks(records),
        checkpoints=inputs,
        log_verifier=log,
        cosigners=cosigner_verifiers(records),
        stored_leaves=_leaf_source(leaves_session),
    )
    if not report.ok:
        return report
    store = DbNodeStore(records)
    try:
        if store.size() and merkle.root_at(store, store.size()) != frontier.root():
            report.fail("the stored tree's root differs from the recomputed one (nodes altered)")
        for a, b in itertools.pairwise(cps):
            if a.size and b.size > a.size:
                merkle.verify_consistency(
                    old_size=a.size,
                    new_size=b.size,
                    old_root=a.root,
                    new_root=b.root,
                    path=merkle.consistency_proof(store, a.size, b.size),
                )
    except Exception as exc:
        report.fail(f"stored tree nodes are inconsistent ({type(exc).__name__}: {exc})")
    _orphan_subjects(records, report)
    return report


def _orphan_subjects(session: Session, report: VerifyReport) -> None:
    """A subject list whose event is gone (the join above cannot see those)."""
    orphans = session.scalars(
        select(AuditEventSubjects.seq)
        .where(~AuditEventSubjects.seq.in_(select(AuditEvent.seq)))
        .order_by(AuditEventSubjects.seq)
    ).all()
    for seq in orphans:
        report.fail(f"event {seq}: subject list without an event", seq)


def prove(session: Session, cfg: AuditConfig, *, seq: int) -> bytes:
    """A C2SP tlog-proof that event ``seq`` is in the log, against the latest checkpoint.

    If no checkpoint covers the event yet, one is signed now (in the caller's transaction).
    """
    store = DbNodeStore(session)
    if not 0 <= seq < store.size():
        raise NotFound(f"event {seq} is not in the log (size {store.size()})")
    latest = session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()))
    if latest is None or latest.size <= seq:
        latest = make_checkpoint(session, cfg, reason=f"proof of event {seq}")
    return build_proof(store, index=seq, checkpoint_note=checkpoint_note(session, latest))


def event_body(session: Session, *, seq: int) -> bytes:
    body = session.scalar(select(AuditEvent.body).where(AuditEvent.seq == seq))
    if body is None:
        raise NotFound(f"event {seq} not found")
    return bytes(body)


def cosign(
    session: Session, *, cosigner: Signer, checkpoint_id: int | None = None
) -> AuditCosignature:
    """Another party countersigns a checkpoint (default: the latest) with a cosignature/v1 key."""
    q = select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())
    if checkpoint_id is not None:
        q = select(AuditCheckpoint).where(AuditCheckpoint.id == checkpoint_id)
    cp = session.scalar(q)
    if cp is None:
        raise NotFound("no such checkpoint")
    signed = cosign_checkpoint(
        checkpoint_note(session, cp), cosigner=cosigner, log_verifier=log_verifier(session)
    ).decode("utf-8")
    line = next(
        (ln + "\n" for ln in signed.split("\n") if ln.startswith(f"\u2014 {cosigner.name} ")), None
    )
    if line is None:
        raise Invalid("cosignature line not produced")
    vkey = cosigner.verifier().key_string()
    if session.get(AuditKey, vkey) is None:
        session.add(AuditKey(verifier_key=vkey, name=cosigner.name, role="cosigner", at=utcnow()))
    row = AuditCosignature(
        checkpoint_id=cp.id, name=cosigner.name, line=line, verifier_key=vkey, at=utcnow()
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class LogFilter:
    actor: str | None = None
    action: str | None = None
    deal: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    subject: str | None = None
    limit: int = 1000


def query(session: Session, *, flt: LogFilter) -> list[dict[str, Any]]:
    """Events matching the filter, newest last, as their JSON documents."""
    q = select(AuditEvent.seq, AuditEvent.body).order_by(AuditEvent.seq)
    if flt.actor:
        q = q.where(AuditEvent.actor == flt.actor)
    if flt.action:
        q = q.where(AuditEvent.action == flt.action)
    if flt.deal:
        q = q.where(AuditEvent.deal == flt.deal)
    if flt.since:
        q = q.where(AuditEvent.at >= flt.since)
    if flt.until:
        q = q.where(AuditEvent.at < flt.until)
    if flt.subject:
        q = q.join(AuditEventSubjects, AuditEventSubjects.seq == AuditEvent.seq)
    out: list[dict[str, Any]] = []
    for seq, body in session.execute(q):
        if flt.subject:
            packed = session.scalar(
                select(AuditEventSubjects.packed).where(AuditEventSubjects.seq == seq)
            )
            if packed is None or flt.subject not in unpack_subjects(bytes(packed)):
                continue
        out.append(json.loads(bytes(body)))
        if len(out) >= flt.limit:
            break
    return out


def checkpoint_sizes(session: Session) -> Sequence[int]:
    return [c.size for c in checkpoints(session)]
