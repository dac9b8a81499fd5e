"""The log as stored: checkpoints with cosignatures, keys, verification, proofs, queries."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, Select, func, literal, select
from sqlalchemy.orm import Session

from dealvault.audit import columns, merkle, scan
from dealvault.audit.checkpoint import checkpoint_of, cosign_checkpoint
from dealvault.audit.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEvent,
    AuditEventSubjects,
    AuditKey,
    AuditNode,
)
from dealvault.audit.note import Signer, Verifier
from dealvault.audit.proof import build_proof
from dealvault.audit.service import (
    AuditConfig,
    DbNodeStore,
    make_checkpoint,
    unpack_subjects,
)
from dealvault.audit.verify import (
    Anchors,
    CheckpointIn,
    VerifyReport,
    first_altered,
    verify_events,
)
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound


def log_verifier(session: Session) -> Verifier:
    key = session.scalar(select(AuditKey.verifier_key).where(AuditKey.role == "log"))
    if key is None:
        raise NotFound("this store has no audit log key; run 'dealvault init'")
    return Verifier.from_key(key)


def register_log_key(session: Session, cfg: AuditConfig) -> bool:
    """Record the log's public key (once); True when it was new. A store has one log key."""
    verifier = cfg.verifier
    if verifier is None:
        raise Invalid("no audit signer to register")
    vkey = verifier.key_string()
    if session.get(AuditKey, vkey) is not None:
        return False
    if session.scalar(select(AuditKey.verifier_key).where(AuditKey.role == "log")) is not None:
        raise Conflict("this store's audit log already has another log key")
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
EventRow = tuple[int, bytes, bytes | None, Any, str | None, str, str | None, str | None]


def _event_chunks(session: Session, start: int = 0) -> Iterator[list[EventRow]]:
    """Every event with its subject list and searchable columns, in order, in chunks: a plain
    DB-API cursor, since this is the verifier's hot path (SQLAlchemy's row handling would cost
    more than hashing)."""
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    postgres = session.connection().dialect.name == "postgresql"
    mark, at = ("%s", columns.POSTGRES_AT) if postgres else ("?", "e.at")
    cur = raw.cursor()
    try:
        cur.execute(
            f"SELECT e.seq, e.body, s.packed, {at}, e.actor, e.action, e.deal, e.decision "
            "FROM audit_events e LEFT JOIN audit_event_subjects s ON s.seq = e.seq "
            f"WHERE e.seq >= {mark} ORDER BY e.seq",
            (start,),
        )
        while rows := cur.fetchmany(CHUNK):
            if all(type(r[1]) is bytes for r in rows):
                yield list(rows)
            else:  # a tampered row may hold text (SQLite is loosely typed)
                yield [
                    (int(r[0]), _as_bytes(r[1]), None if r[2] is None else _as_bytes(r[2]), *r[3:])
                    for r in rows
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


def _stored_checkpoints(session: Session, report: VerifyReport) -> list[CheckpointIn]:
    """The stored checkpoints by their signed notes; a size or root column that disagrees with
    its note (edited) is reported."""
    out = []
    for c in checkpoints(session):
        note = checkpoint_note(session, c)
        try:
            signed = checkpoint_of(note)
        except Invalid as exc:
            report.fail(f"checkpoint #{c.id}: its note is malformed ({exc})")
            continue
        if signed.size != c.size or signed.root != bytes(c.root):
            report.fail(f"checkpoint #{c.id}: its size or root column differs from its note")
        out.append(CheckpointIn(signed.size, note, f"#{c.id}"))
    return out


def verify_store(
    records: Session, leaves_session: Session, *, anchors: Anchors = Anchors()
) -> VerifyReport:
    """Recompute everything from the stored events, in one scan; checkpoints are checked with
    ``anchors.pinned`` when given (and the store's registered log key must be that key), else
    with the key the store names: internal consistency only. A mismatch is then located by
    comparing events with the stored tree's leaves (``leaves_session``)."""
    report = VerifyReport()
    log = _log_key(records, anchors.pinned, report)
    if log is None:
        return report
    cps = _stored_checkpoints(records, report)
    postgres = records.connection().dialect.name == "postgresql"
    with scan.native_scan(records) as fast:
        _, frontier = verify_events(
            lambda start: columns.checked(_event_chunks(records, start), report, postgres=postgres),
            fast=fast,
            checkpoints=cps,
            log_verifier=log,
            cosigners=cosigner_verifiers(records),
            report=report,
            anchors=anchors,
        )
    if not report.scanned:
        return report
    store = DbNodeStore(records)
    size = store.size()
    if size != frontier.size:
        n = min(size, frontier.size)
        why = "no stored tree leaf for it (inserted outside the log)"
        if size > frontier.size:
            why = "missing, but the stored tree has a leaf for it (deleted)"
        report.fail(f"event {n}: {why}", n)
    try:
        root_ok = size == 0 or merkle.root_at(store, size) == frontier.root()
        if not root_ok:
            report.fail("the stored tree's root differs from the recomputed one")
        if not root_ok or (report.first_bad is not None and report.first_bad == report.covered):
            _locate(leaves_session, report)
        _one_consistency_proof(store, cps)
    except Exception as exc:
        report.fail(f"stored tree nodes are inconsistent ({type(exc).__name__}: {exc})")
    _orphan_subjects(records, report, frontier.size)
    return report


def _locate(session: Session, report: VerifyReport) -> None:
    """Name the first event, from the first one no valid checkpoint vouches for, that differs
    from its leaf in the stored tree (a second pass, only when something did not match)."""
    start = report.covered
    bodies = ([r[1] for r in chunk] for chunk in _event_chunks(session, start))
    leaves = _leaf_source(session)
    stored = (leaves(start + i * CHUNK, start + (i + 1) * CHUNK) for i in itertools.count())
    seq = first_altered(bodies, stored, start=start)
    if seq is not None:
        report.fail(f"event {seq}: content differs from its stored leaf hash (altered)", seq)


def _one_consistency_proof(store: DbNodeStore, cps: Sequence[CheckpointIn]) -> None:
    """Every checkpoint root was matched against the recomputed tree, which implies their
    consistency; one proof from the first to the last exercises the stored nodes."""
    sized = [c for c in cps if c.size]
    if len(sized) > 1 and sized[-1].size > sized[0].size:
        first, last = checkpoint_of(sized[0].note), checkpoint_of(sized[-1].note)
        merkle.verify_consistency(
            old_size=first.size,
            new_size=last.size,
            old_root=first.root,
            new_root=last.root,
            path=merkle.consistency_proof(store, first.size, last.size),
        )


def _log_key(session: Session, pinned: Verifier | None, report: VerifyReport) -> Verifier | None:
    """The key to check checkpoints with: the pinned one (which the store must name too)."""
    keys = session.scalars(select(AuditKey.verifier_key).where(AuditKey.role == "log")).all()
    if pinned is None:
        if not keys:
            raise NotFound("this store has no audit log key; run 'dealvault init'")
        if len(keys) > 1:
            report.fail("the store names more than one audit log key")
        return Verifier.from_key(keys[0])
    if keys != [pinned.key_string()]:
        report.fail("the store's audit log key is not the pinned verifier key")
    return pinned


def _orphan_subjects(session: Session, report: VerifyReport, scanned: int) -> None:
    """A subject list whose event is gone (the join above cannot see those). The scan read
    the events 0 to ``scanned - 1``, every one: only lists outside that range may lack one."""
    col = AuditEventSubjects.seq
    orphans = session.scalars(
        select(col)
        .where((col < 0) | (col >= scanned), ~col.in_(select(AuditEvent.seq)))
        .order_by(col)
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
    """Which events to list. ``authn`` matches how the actor signed in, in the signed body
    itself (it has no column). ``action`` ending in ``*`` matches every action it starts
    (``package.*``). Pages go by position: ``before`` / ``after`` a sequence number."""

    actor: str | None = None
    action: str | None = None
    deal: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    subject: str | None = None
    limit: int = 1000
    #: ``allow`` or ``deny`` only
    decision: str | None = None
    authn: str | None = None
    before: int | None = None
    after: int | None = None
    #: newest first (a page ``after`` a position is still the events right after it)
    newest_first: bool = False


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filtered(q: Select[int, bytes], session: Session, flt: LogFilter) -> Select[int, bytes]:
    if flt.actor:
        q = q.where(AuditEvent.actor == flt.actor)
    if flt.action and flt.action.endswith("*"):
        q = q.where(AuditEvent.action.like(_like_prefix(flt.action[:-1]), escape="\\"))
    elif flt.action:
        q = q.where(AuditEvent.action == flt.action)
    if flt.deal:
        q = q.where(AuditEvent.deal == flt.deal)
    if flt.since:
        q = q.where(AuditEvent.at >= flt.since)
    if flt.until:
        q = q.where(AuditEvent.at < flt.until)
    if flt.decision:
        q = q.where(AuditEvent.decision == flt.decision)
    if flt.before is not None:
        q = q.where(AuditEvent.seq < flt.before)
    if flt.after is not None:
        q = q.where(AuditEvent.seq > flt.after)
    if flt.authn:
        # canonical JSON: the key, its value and the comma of the next key, byte for byte
        token = b'"authn":' + json.dumps(flt.authn).encode("utf-8") + b","
        if session.connection().dialect.name == "postgresql":
            q = q.where(func.position(literal(token, LargeBinary()).op("IN")(AuditEvent.body)) > 0)
        else:
            q = q.where(func.instr(AuditEvent.body, literal(token, LargeBinary())) > 0)
    return q


def query(session: Session, *, flt: LogFilter) -> list[dict[str, Any]]:
    """Events matching the filter as their JSON documents: oldest first, or newest first
    (``flt.newest_first``); at most ``flt.limit``, counted in the database unless the subject
    filter (which reads each event's subject list) is given."""
    backwards = flt.newest_first and flt.after is None
    order = AuditEvent.seq.desc() if backwards else AuditEvent.seq
    q = _filtered(select(AuditEvent.seq, AuditEvent.body), session, flt).order_by(order)
    if flt.subject:
        q = q.join(AuditEventSubjects, AuditEventSubjects.seq == AuditEvent.seq)
    else:  # the database stops at the limit (a page of 100,000 events reads one page)
        q = q.limit(flt.limit)
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
    if flt.newest_first and not backwards:
        out.reverse()
    return out


@dataclass(frozen=True)
class _Seen:
    """The distinct values of one column in one deal's events below ``upto``, read from the
    log whose leaf ``upto - 1`` is ``leaf``."""

    upto: int
    leaf: bytes | None
    values: frozenset[str]


#: (database, deal, column) -> what was seen: the log only grows, so each read adds the
#: values of the events appended since (a few, by their sequence numbers) to the last one
_SEEN: dict[tuple[str, str, str], _Seen] = {}


def _leaf_at(session: Session, index: int) -> bytes | None:
    got = session.scalar(select(AuditNode.hash).where(AuditNode.level == 0, AuditNode.idx == index))
    return None if got is None else bytes(got)


def distinct_values(session: Session, *, deal: str, column: str, limit: int = 500) -> list[str]:
    """The distinct actors or actions of one deal's events (the choices of a search form),
    sorted; at most ``limit``. Kept per database and read on from where the last call ended:
    a call reads only the events appended since, whatever the size of the log (a log that
    is not the one read before, by its leaf there, is read again from the start)."""
    col = {"actor": AuditEvent.actor, "action": AuditEvent.action}[column]
    key = (session.connection().engine.url.render_as_string(hide_password=True), deal, column)
    size = DbNodeStore(session).size()
    seen = _SEEN.get(key)
    if (
        seen is None
        or seen.upto > size
        or (seen.upto > 0 and _leaf_at(session, seen.upto - 1) != seen.leaf)
    ):
        seen = _Seen(0, None, frozenset())
    if size > seen.upto:
        new = session.scalars(
            select(col)
            .where(
                AuditEvent.seq >= seen.upto,
                AuditEvent.seq < size,
                AuditEvent.deal == deal,
                col.is_not(None),
            )
            .distinct()
        )
        seen = _Seen(size, _leaf_at(session, size - 1), seen.values | {str(v) for v in new})
        _SEEN[key] = seen
    return sorted(seen.values)[:limit]


def checkpoint_sizes(session: Session) -> Sequence[int]:
    return [c.size for c in checkpoints(session)]
