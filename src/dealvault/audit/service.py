"""Recording audit events in the caller's transaction, tree upkeep and signed checkpoints."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault import native
from dealvault.audit import merkle
from dealvault.audit.anchoring import is_security_relevant
from dealvault.audit.checkpoint import Checkpoint, sign_checkpoint
from dealvault.audit.models import AuditCheckpoint
from dealvault.audit.note import Signer, Verifier
from dealvault.db.base import utcnow
from dealvault.db.bulk import bulk_insert
from dealvault.errors import Invalid, KeyUnavailable, NotFound

EVENT_VERSION = 2
"""Version 2 has the fields of version 1; its writer signs a checkpoint in the same transaction
after every security-relevant event (``audit.anchoring``), which verification then requires."""


class SignerSource(Protocol):
    """Where the log's signing key is kept when it is not handed over directly (the key store,
    wrapped by the master key): the public key is readable without the master key."""

    def verifier(self) -> Verifier | None:
        """The log's public key, or None when the store has no log key yet."""
        ...

    def load(self) -> Signer:
        """The signing key itself; may need the master key (KeyUnavailable otherwise)."""
        ...


class AuditConfig:
    """How this store's log signs: its origin line, its signer (given, or loaded from a
    :class:`SignerSource` the first time a checkpoint is signed), and the periodic cadence."""

    __slots__ = ("_origin", "_signer", "checkpoint_every", "source")

    def __init__(
        self,
        origin: str = "dealvault/unsigned",
        signer: Signer | None = None,
        checkpoint_every: int = 1000,
        *,
        source: SignerSource | None = None,
    ) -> None:
        self._origin = origin
        self._signer = signer
        self.checkpoint_every = checkpoint_every
        self.source = source

    def __repr__(self) -> str:
        return f"AuditConfig(origin={self.origin!r}, checkpoint_every={self.checkpoint_every})"

    @property
    def verifier(self) -> Verifier | None:
        """The log's public key; never needs the master key."""
        if self._signer is not None:
            return self._signer.verifier()
        return None if self.source is None else self.source.verifier()

    @property
    def origin(self) -> str:
        if self._signer is not None:
            return self._signer.name
        v = self.verifier
        return self._origin if v is None else v.name

    @property
    def can_sign(self) -> bool:
        """Does this store have a log key (perhaps not unwrapped yet)?"""
        return self._signer is not None or self.verifier is not None

    @property
    def signer(self) -> Signer | None:
        """The signing key, unwrapped on first use (KeyUnavailable if the master key is not at
        hand); None when the store has no log key."""
        if self._signer is None and self.source is not None and self.source.verifier() is not None:
            self._signer = self.source.load()
        return self._signer

    def ready_signer(self) -> Signer | None:
        """The signing key if it is already at hand (given or unwrapped before), else None."""
        return self._signer


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
    #: how the actor was authenticated (access.principal.Authn); in the signed body when set
    authn: str | None = None
    #: the server session or API token behind the request, and the client's address
    session: str | None = None
    client: str | None = None
    #: the device behind the request (``dev:`` + a hash of its value, or ``tok:`` + the API
    #: token that stands for it); in the signed body when set
    device: str | None = None


class DbNodeStore:
    """The Merkle tree's stored complete nodes in ``audit_nodes`` (merkle.NodeStore)."""

    def __init__(self, session: Session, *, size: int | None = None) -> None:
        self.session = session
        self._size: int | None = size  # when the caller has just read it
        #: nodes read or written through this store: one append and the checkpoint after it
        #: (under the log's lock, in one transaction) read each node once
        self._known: dict[tuple[int, int], bytes] = {}

    def size(self) -> int:
        if self._size is None:  # the last leaf's index, found through the primary key: O(log n)
            last = (
                self.session.connection()
                .exec_driver_sql("SELECT max(idx) FROM audit_nodes WHERE level = 0")
                .scalar()
            )
            self._size = 0 if last is None else int(last) + 1
        return self._size

    def remember(self, nodes: Mapping[tuple[int, int], bytes]) -> None:
        """Nodes the caller has just read (the right border, with the size)."""
        self._known.update(nodes)

    def get(self, level: int, index: int) -> bytes:
        got = self.get_many([(level, index)])
        if (level, index) not in got:
            raise NotFound(f"audit tree node ({level}, {index}) not found")
        return got[(level, index)]

    def get_many(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """One statement per 200 keys, an OR of primary-key probes, sent as plain SQL: this is
        the inclusion-proof hot path, and compiling a fresh SQLAlchemy statement would cost
        more than running it."""
        out = {k: self._known[k] for k in keys if k in self._known}
        keys = [k for k in dict.fromkeys(keys) if k not in out]
        if not keys:
            return out
        conn = self.session.connection()
        mark = "%s" if conn.dialect.name == "postgresql" else "?"
        for i in range(0, len(keys), 200):
            chunk = keys[i : i + 200]
            where = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(chunk))
            params = tuple(v for key in chunk for v in key)
            rows = conn.exec_driver_sql(
                f"SELECT level, idx, hash FROM audit_nodes WHERE {where}", params
            )
            for lv, ix, h in rows:
                out[(int(lv), int(ix))] = bytes(h)
        self._known.update(out)
        return out

    def put_many(self, items: Sequence[tuple[int, int, bytes]]) -> None:
        bulk_insert(self.session, table="audit_nodes", columns=("level", "idx", "hash"), rows=items)
        leaves = [ix for lv, ix, _ in items if lv == 0]
        if self._size is not None and leaves and min(leaves) == self._size:
            self._size = max(leaves) + 1  # appended right after the known end
            # what the checkpoint after an append reads: the new right border
            border = set(merkle.border_keys(self._size))
            self._known.update({(lv, ix): h for lv, ix, h in items if (lv, ix) in border})
        else:
            self._size = None
            self._known.update({(lv, ix): h for lv, ix, h in items})


def pack_subjects(subjects: Sequence[str] | SubjectPacker) -> tuple[int, str, bytes]:
    """(count, digest, compressed list) of subject ids, in the order given."""
    if isinstance(subjects, SubjectPacker):
        return (subjects.count, *subjects.finish())
    joined = "\n".join(subjects).encode("ascii")
    stored = zlib.compress(joined, 1) if len(joined) > 512 else joined
    return len(subjects), "sha256:" + hashlib.sha256(joined).hexdigest(), stored


def subject_bytes(packed: bytes) -> bytes:
    """The joined subject ids. Short lists are stored as they are; long ones zlib-compressed
    (a zlib stream starts with 'x', which no hex subject id does)."""
    return zlib.decompress(packed) if packed[:1] == b"x" else packed


def unpack_subjects(packed: bytes) -> list[str]:
    data = subject_bytes(packed).decode("ascii")
    return data.split("\n") if data else []


def _timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def event_body(
    seq: int, at: datetime | str, ev: EventIn, subjects: tuple[int, str] | None
) -> bytes:
    """The canonical (RFC 8785) bytes of an event: the Merkle leaf."""
    doc: dict[str, Any] = {
        "v": EVENT_VERSION,
        "seq": seq,
        "at": at if isinstance(at, str) else _timestamp(at),
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
    if ev.authn is not None:
        doc["authn"] = ev.authn
    if ev.session is not None:
        doc["session"] = ev.session
    if ev.client is not None:
        doc["client"] = ev.client
    if ev.device is not None:
        doc["device"] = ev.device
    return canonical_json(doc)


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) bytes of an event document.

    Events hold only strings, integers, booleans, null, lists and objects with ASCII keys; for
    those, sorted keys, no whitespace and unescaped non-ASCII text are exactly JCS. orjson
    writes them in about half a microsecond, twenty times faster than ``json.dumps`` (a
    property test checks both against the ``rfc8785`` encoder); what orjson refuses (an
    integer beyond 64 bits, a key that is not a string) goes through ``json`` as before.
    """
    try:
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return _json_canonical(doc)


def _json_canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


#: the tree's size and the nodes of its right border (one complete node per set bit of the
#: size), in one statement: what an append starts from
_BORDER = """WITH RECURSIVE
  s(n) AS (SELECT coalesce(max(idx) + 1, 0) FROM audit_nodes WHERE level = 0),
  lv(l) AS (SELECT 0 UNION ALL SELECT lv.l + 1 FROM lv, s WHERE (s.n >> (lv.l + 1)) > 0)
SELECT s.n, NULL, NULL, NULL FROM s
UNION ALL
SELECT s.n, a.level, a.idx, a.hash FROM s, lv, audit_nodes a
WHERE ((s.n >> lv.l) & 1) = 1 AND a.level = lv.l AND a.idx = (s.n >> lv.l) - 1"""


def _lock_and_border(session: Session) -> DbNodeStore:
    """Take the log's lock (PostgreSQL: appends queue on it to the commit; SQLite's writer lock
    comes with the first write) and read the tree's size and right border in the same round
    trip: a node store primed for an append."""
    conn = session.connection()
    raw: Any = conn.connection.driver_connection
    cur = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":  # both statements in one round trip; the query
            with raw.pipeline():  # prepared once per connection (planning it costs 0.5 ms)
                cur.execute("LOCK TABLE audit_events IN EXCLUSIVE MODE")
                cur.execute(_BORDER, prepare=True)
                rows = cur.fetchall()
        else:
            rows = cur.execute(_BORDER).fetchall()
    finally:
        cur.close()
    store = DbNodeStore(session, size=int(rows[0][0]))
    store.remember({(int(lv), int(ix)): bytes(h) for _, lv, ix, h in rows[1:]})
    return store


@contextmanager
def _pipelined(session: Session) -> Iterator[None]:
    """On PostgreSQL, the writes in the block go to the server together (psycopg's pipeline
    mode) and are confirmed once at its end: the log's lock is held for fewer round trips."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        yield
        return
    raw: Any = conn.connection.driver_connection
    with raw.pipeline():
        yield


def record_many(session: Session, cfg: AuditConfig, events: Sequence[EventIn]) -> list[int]:
    """Append events in the caller's transaction (committed with the change they describe).

    Everything that does not depend on the events' positions is prepared before the log's
    lock is taken; under it: one round trip for the lock and the size, one for the border
    nodes, one for every write (events, subjects, nodes, checkpoint), then the commit."""
    if not events:
        return []
    for ev in events:
        if not ev.action:
            raise Invalid("an audit event needs an action")
    packed = [
        pack_subjects(ev.subjects)
        if isinstance(ev.subjects, SubjectPacker) or ev.subjects
        else None
        for ev in events
    ]
    session.flush()  # the change being recorded goes first (foreign keys, order)
    store = _lock_and_border(session)
    start = store.size()
    at = utcnow()
    stamp = _timestamp(at)
    at_db = at if session.connection().dialect.name == "postgresql" else at.isoformat(sep=" ")
    rows: list[tuple[Any, ...]] = []
    subject_rows, bodies = [], []
    for i, (ev, pack) in enumerate(zip(events, packed, strict=True)):
        seq = start + i
        summary = None
        if pack is not None:
            count, digest, blob = pack
            subject_rows.append((seq, count, blob))
            summary = (count, digest)
        body = event_body(seq, stamp, ev, summary)
        rows.append((seq, at_db, ev.actor, ev.action, ev.deal, ev.decision, body))
        bodies.append(body)
    with _pipelined(session):
        bulk_insert(
            session,
            table="audit_events",
            columns=("seq", "at", "actor", "action", "deal", "decision", "body"),
            rows=rows,
        )
        if subject_rows:
            bulk_insert(
                session,
                table="audit_event_subjects",
                columns=("seq", "count", "packed"),
                rows=subject_rows,
            )
        merkle.append_leaves(store, native.leaf_hashes(bodies))
        _anchor(session, cfg, events, start, store)
    return [start + i for i in range(len(events))]


def _anchor(
    session: Session, cfg: AuditConfig, events: Sequence[EventIn], start: int, store: DbNodeStore
) -> None:
    """Sign a checkpoint in this transaction: always after a security-relevant event (so it
    cannot be cut from the tail unnoticed), else every ``checkpoint_every`` events when the
    signing key is already at hand. A denial is still recorded when the key is not at hand."""
    if not cfg.can_sign:
        return
    relevant = [i for i, ev in enumerate(events) if is_security_relevant(ev.action, ev.objects)]
    if relevant:
        try:
            signer = cfg.signer
        except KeyUnavailable:
            if any(events[i].decision != "deny" for i in relevant):
                raise
            signer = None
        if signer is not None:
            last = relevant[-1]
            reason = f"{events[last].action} (event {start + last})"
            _append_checkpoint(session, cfg, reason=reason, store=store)
            return
    end, every = start + len(events), cfg.checkpoint_every
    if every > 0 and end // every > start // every and cfg.ready_signer() is not None:
        _append_checkpoint(session, cfg, reason=f"every {every} events", store=store)


def _append_checkpoint(
    session: Session, cfg: AuditConfig, *, reason: str, store: DbNodeStore
) -> None:
    """A checkpoint of the tree an append just grew, written with the append's rows."""
    size, root, note = _signed_head(cfg, store)
    at = utcnow()
    at_db = at if session.connection().dialect.name == "postgresql" else at.isoformat(sep=" ")
    bulk_insert(
        session,
        table="audit_checkpoints",
        columns=("size", "root", "note", "reason", "at"),
        rows=[(size, root, note, reason, at_db)],
    )


def _signed_head(cfg: AuditConfig, store: DbNodeStore) -> tuple[int, bytes, str]:
    signer = cfg.signer
    if signer is None:
        raise Invalid("this store has no audit signing key; run 'dealvault init'")
    size = store.size()
    root = merkle.root_at(store, size)
    note = sign_checkpoint(Checkpoint(origin=signer.name, size=size, root=root), signer=signer)
    return size, root, note.decode("utf-8")


def record(session: Session, cfg: AuditConfig, event: EventIn) -> int:
    return record_many(session, cfg, [event])[0]


def tree_size(session: Session) -> int:
    return DbNodeStore(session).size()


def make_checkpoint(session: Session, cfg: AuditConfig, *, reason: str) -> AuditCheckpoint:
    """Sign the current tree head as a C2SP checkpoint note (in the caller's transaction)."""
    size, root, note = _signed_head(cfg, DbNodeStore(session))
    cp = AuditCheckpoint(size=size, root=root, note=note, reason=reason, at=utcnow())
    session.add(cp)
    session.flush()
    return cp


def ensure_checkpoint(session: Session, cfg: AuditConfig, *, reason: str) -> AuditCheckpoint:
    """The latest checkpoint if it already covers the whole log, else a new one."""
    latest = session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1))
    if latest is not None and latest.size == DbNodeStore(session).size():
        return latest
    return make_checkpoint(session, cfg, reason=reason)
