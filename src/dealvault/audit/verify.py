"""Recompute the whole log: events, leaf hashes, tree, checkpoints and their signatures."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from dealvault import native
from dealvault.audit.anchoring import is_security_relevant
from dealvault.audit.checkpoint import open_checkpoint
from dealvault.audit.merkle import node_hash
from dealvault.audit.note import Verifier
from dealvault.audit.service import subject_bytes
from dealvault.errors import IntegrityError, Invalid

EMPTY_ROOT = hashlib.sha256(b"").digest()


class Frontier:
    """The perfect subtrees of a growing prefix: RFC 9162 roots in O(log n) memory."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def push(self, leaf: bytes) -> None:
        self._push(0, leaf)

    def _push(self, height: int, node: bytes) -> None:
        """Add a perfect subtree of ``2**height`` leaves; the size must be aligned to it."""
        stack = self._stack
        size_added = 1 << height
        while stack and stack[-1][0] == height:
            node = node_hash(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
        self.size += size_added

    def extend(self, leaves: Sequence[bytes] | bytes) -> None:
        """Add many leaves (or bytes holding them one after another): aligned power-of-two
        blocks are hashed level by level in bulk."""
        pos, n = 0, len(leaves) // 32 if isinstance(leaves, bytes) else len(leaves)
        while pos < n:
            align = (self.size & -self.size) if self.size else 1 << 62
            block = 1 << (min(align, n - pos).bit_length() - 1)
            if isinstance(leaves, bytes):
                node = native.merkle_root(leaves[32 * pos : 32 * (pos + block)])
            else:
                node = native.merkle_root(list(leaves[pos : pos + block]))
            self._push(block.bit_length() - 1, node)
            pos += block

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        root = self._stack[-1][1]
        for _, node in reversed(self._stack[:-1]):
            root = node_hash(node, root)
        return root


@dataclass(frozen=True)
class CheckpointIn:
    size: int
    note: bytes
    label: str


@dataclass(frozen=True)
class Anchors:
    """What outside the log verification is anchored to (nothing: internal consistency only)."""

    pinned: Verifier | None = None
    """The log's verifier key, kept outside the database (``--verifier-key``)."""
    witnesses: tuple[Verifier, ...] = ()
    """Cosigner keys (type 0x04) whose cosignatures are required."""
    witness_since: datetime | None = None
    """Events stamped at or after this time must be covered by a witnessed checkpoint (all
    events when None)."""
    known: tuple[CheckpointIn, ...] = ()
    """Checkpoints kept outside the log (a witness's copy, an earlier export): the log must
    contain them, so a cut tail is found."""


@dataclass
class VerifyReport:
    """What verification found. ``first_bad`` is the first event found wrong: an event named
    precisely if any, else the first event no valid checkpoint vouches for."""

    events: int = 0
    root: str = ""
    checkpoints: list[dict[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    covered: int = 0
    """Events 0..covered-1 are covered by a checkpoint with a valid log signature and root."""
    witnessed: int = 0
    """Events 0..witnessed-1 are covered by a checkpoint cosigned by every required witness."""
    scanned: bool = False
    """Every event was read (the scan stops at the first gap or duplicate in ``seq``)."""
    signed_roots: dict[int, bytes] = field(default_factory=dict, repr=False)
    """Roots of the checkpoints whose log signature verified, by size."""
    _precise: int | None = None
    _bound: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> int | None:
        return self._precise if self._precise is not None else self._bound

    def fail(self, message: str, seq: int | None = None, *, precise: bool = True) -> None:
        """Record a problem. A precise finding names its event; a checkpoint mismatch only
        bounds where the damage starts, so it names an event only if nothing more precise did."""
        self.problems.append(message)
        if seq is None:
            return
        if precise:
            self._precise = seq if self._precise is None else min(self._precise, seq)
        else:
            self._bound = seq if self._bound is None else min(self._bound, seq)


def _check_subjects(
    rep: VerifyReport, chunk: Sequence[Row], tails: list[native.Tail | None]
) -> None:
    """Each stored subject list against the digest its event names, in bulk."""
    want = [m and m[1] for m in tails]
    packs = [row[2] for row in chunk]
    try:
        got = native.subject_digests(packs)
    except zlib.error:
        got = [p and _digest(p) for p in packs]
    if want == got:
        return
    for row, m, w, g in zip(chunk, tails, want, got, strict=True):
        if w == g or m is None:  # a malformed body is reported by its seq and leaf
            continue
        seq = row[0]
        if g is None:
            rep.fail(f"event {seq}: its subject list was deleted", seq)
        elif w is None:
            rep.fail(f"event {seq}: a subject list is stored for it, but it names none", seq)
        else:
            rep.fail(f"event {seq}: its stored subject list was altered", seq)


def _digest(packed: bytes) -> bytes:
    try:
        return sha256(subject_bytes(packed)).hexdigest().encode()
    except zlib.error:
        return b"unreadable"


def body_stamp(body: bytes) -> str:
    """The ``at`` of a canonical event body (the first ``"at":"`` is the top-level key: the
    keys before it, action and actor, are strings, in which a quote is escaped)."""
    pos = body.find(b'"at":"')
    return body[pos + 6 : pos + 30].decode("ascii", "replace") if pos >= 0 else ""


Row = Sequence[Any]
"""(seq as stored, canonical body, compressed subject list or None, ...more columns)."""


def first_altered(
    bodies: Iterable[Sequence[bytes]], leaves: Iterable[Sequence[bytes]], *, start: int
) -> int | None:
    """The first event (from ``start``) whose hash differs from its leaf in the tree as stored
    or exported, reading both in equal chunks; None if all agree."""
    pos = start
    for chunk, stored in zip(bodies, leaves, strict=False):
        got = native.leaf_hashes(list(chunk))
        if got != list(stored):
            return pos + _first_difference(got, stored)
        pos += len(chunk)
    return None


def _first_difference(a: Sequence[object], b: Sequence[object]) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


@dataclass
class _Scan:
    """State of one verification pass."""

    rep: VerifyReport
    log: Verifier
    cosigners: Sequence[Verifier]
    anchors: Anchors
    bad_checkpoints: list[tuple[CheckpointIn, str]] = field(default_factory=list)
    witness_from: int | None = None
    """Index of the first event stamped at or after ``anchors.witness_since``."""
    tail_from: int = 0
    """Events from here on lie beyond every checkpoint."""
    unanchored: list[int] = field(default_factory=list)


FastLeaves = Callable[[int, int], bytes | None]
"""``(start, limit)``: the leaf hashes (concatenated) of the events ``start`` to ``start +
limit - 1`` that are in the log, when each passed every per-event check in a native scan and
their seqs run on from ``start`` without a gap; None when the rows must be checked one by one
(a check failed, or the native scan is not available)."""


def verify_events(
    chunks: Iterable[Sequence[Row]] | Callable[[int], Iterable[Sequence[Row]]],
    *,
    checkpoints: Sequence[CheckpointIn],
    log_verifier: Verifier,
    cosigners: Sequence[Verifier] = (),
    report: VerifyReport | None = None,
    anchors: Anchors = Anchors(),
    subjects_in_rows: bool = True,
    reject_uncovered: bool = False,
    fast: FastLeaves | None = None,
) -> tuple[VerifyReport, Frontier]:
    """Stream the events in order, chunk by chunk; rebuild the tree; check every checkpoint.

    ``chunks`` yields lists of (seq as stored, canonical body, compressed subjects or None),
    or, with ``fast``, is a function giving those lists from a start. The work per chunk is
    done in bulk (native kernels, aligned subtrees). A checkpoint that does not match only
    bounds the damage; :func:`first_altered` then names the event.

    ``fast`` (a store's native scan, see :data:`FastLeaves`) gives chunks already checked, up
    to the first one that is not clean: from there on the rows are checked here, exactly, so
    every problem is reported as without it. It is used where no body is needed here: not
    beyond the last checkpoint (security-relevant events there), nor while looking for the
    first event a witness must cover.

    Events beyond the last checkpoint are rejected with ``reject_uncovered`` (a bundle);
    otherwise (a live log) only a version-2 security-relevant event there is an error, since
    its writer signs a checkpoint in the same transaction.
    """
    rep = report or VerifyReport()
    scan = _Scan(rep, log_verifier, _distinct([*cosigners, *anchors.witnesses]), anchors)
    frontier = Frontier()
    pending = sorted([*checkpoints, *anchors.known], key=lambda c: c.size)
    scan.tail_from = pending[-1].size if pending else 0
    since = None if anchors.witness_since is None else utc_stamp(anchors.witness_since)
    if since is None:
        scan.witness_from = 0
    nxt = 0
    while nxt < len(pending) and pending[nxt].size == 0:
        _check_cp(scan, pending[nxt], EMPTY_ROOT)
        nxt += 1
    if fast is not None and since is None:
        end = None if reject_uncovered else scan.tail_from
        while end is None or frontier.size < end:
            limit = CHUNK if end is None else min(CHUNK, end - frontier.size)
            leaves = fast(frontier.size, limit)
            if leaves is None:
                break
            nxt = _add_leaves(scan, frontier, pending, nxt, leaves)
            if len(leaves) < 32 * limit:  # the end of the log, or a gap: rows tell which
                break
    for chunk in chunks(frontier.size) if callable(chunks) else chunks:
        if not chunk:
            continue
        start = frontier.size
        seqs = [row[0] for row in chunk]
        expected = list(range(start, start + len(chunk)))
        if seqs != expected:
            i = _first_difference(seqs, expected)
            kind = "missing" if seqs[i] > expected[i] else "duplicated or out of order"
            rep.fail(
                f"event {expected[i]}: {kind} (found seq {seqs[i]} where {expected[i]} belongs)",
                expected[i],
            )
            return rep, frontier
        bodies = [row[1] for row in chunk]
        tails = native.body_tails(bodies)
        inner = [m[0] if m else -1 for m in tails]
        if inner != expected:
            i = _first_difference(inner, expected)
            rep.fail(
                f"event {expected[i]}: its body says seq {inner[i]} (moved or reordered)",
                expected[i],
            )
        if subjects_in_rows:
            _check_subjects(rep, chunk, tails)
        if scan.witness_from is None and since is not None:
            scan.witness_from = next(
                (start + i for i, b in enumerate(bodies) if body_stamp(b) >= since), None
            )
        if start + len(chunk) > scan.tail_from and not reject_uncovered:
            _tail_events(scan, bodies, start)
        nxt = _add_leaves(scan, frontier, pending, nxt, native.leaf_hashes(bodies))
    for cp in pending[nxt:]:
        rep.fail(
            f"event {frontier.size}: missing (checkpoint {cp.label} covers {cp.size} events but "
            f"the log has {frontier.size})",
            frontier.size,
        )
    rep.events = frontier.size
    rep.root = frontier.root().hex()
    rep.scanned = True
    _finish(scan, frontier.size, reject_uncovered)
    return rep, frontier


#: events per chunk of a native scan
CHUNK = 20_000


def _add_leaves(
    scan: _Scan, frontier: Frontier, pending: Sequence[CheckpointIn], nxt: int, leaves: Any
) -> int:
    """Add a chunk's leaves (a list, or bytes holding them) to the tree in bulk, cut exactly
    at each checkpoint's size, checking each checkpoint there; the next checkpoint's index."""
    packed = isinstance(leaves, bytes)
    n, width, start = (
        len(leaves) // 32 if packed else len(leaves),
        32 if packed else 1,
        frontier.size,
    )
    pos = 0
    while pos < n:
        stop = n
        if nxt < len(pending) and pos < pending[nxt].size - start < stop:
            stop = pending[nxt].size - start
        frontier.extend(leaves[pos * width : stop * width])
        pos = stop
        while nxt < len(pending) and pending[nxt].size == frontier.size:
            _check_cp(scan, pending[nxt], frontier.root())
            nxt += 1
    return nxt


def _distinct(keys: Sequence[Verifier]) -> list[Verifier]:
    return list(dict.fromkeys(keys))


def utc_stamp(at: datetime) -> str:
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _tail_events(scan: _Scan, bodies: Sequence[bytes], start: int) -> None:
    """Security-relevant version-2 events beyond every checkpoint: their checkpoint is gone."""
    for i in range(max(0, scan.tail_from - start), len(bodies)):
        body = bodies[i]
        if not body.endswith(b'"v":2}'):
            continue
        try:
            doc = json.loads(body)
        except ValueError:
            continue  # reported elsewhere (leaf hash, checkpoint)
        objects = doc.get("objects") if isinstance(doc.get("objects"), dict) else {}
        action = doc.get("action")
        if (
            isinstance(action, str)
            and doc.get("decision") != "deny"
            and is_security_relevant(action, objects)
        ):
            scan.unanchored.append(start + i)


def _finish(scan: _Scan, size: int, reject_uncovered: bool) -> None:
    rep = scan.rep
    for cp, why in scan.bad_checkpoints:
        if rep.covered < cp.size:
            rep.fail(
                f"event {rep.covered}: not covered by a valid checkpoint (checkpoint {cp.label} "
                f"{why})",
                rep.covered,
                precise=False,
            )
        else:
            rep.fail(f"checkpoint {cp.label} {why} (later valid checkpoints cover its events)")
    if reject_uncovered and size > scan.tail_from:
        rep.fail(
            f"event {scan.tail_from}: not covered by any signed checkpoint "
            f"({size - scan.tail_from} events at the end)",
            scan.tail_from,
        )
    for seq in scan.unanchored[:1]:
        rep.fail(
            f"event {seq}: security-relevant, but no signed checkpoint follows it (the "
            "checkpoint signed with it was removed)",
            seq,
        )
    if scan.anchors.witnesses:
        start = size if scan.witness_from is None else scan.witness_from
        first = max(rep.witnessed, start)
        if first < size:
            names = ", ".join(w.name for w in scan.anchors.witnesses)
            rep.fail(
                f"event {first}: not covered by a checkpoint cosigned by every required "
                f"witness ({names})",
                first,
                precise=False,
            )


def _check_cp(scan: _Scan, cp: CheckpointIn, root: bytes) -> None:
    rep = scan.rep
    entry: dict[str, object] = {"checkpoint": cp.label, "size": cp.size}
    rep.checkpoints.append(entry)
    try:
        opened = open_checkpoint(cp.note, log_verifier=scan.log, cosigners=scan.cosigners)
    except (IntegrityError, Invalid) as exc:
        entry["signatures"] = "invalid"
        scan.bad_checkpoints.append((cp, f"is not valid: {exc}"))
        return
    entry["signatures"] = [
        {
            "name": s.name,
            "key_id": f"{s.key_id:08x}",
            "status": str(s.status),
            "timestamp": s.timestamp,
        }
        for s in opened.signatures
    ]
    if opened.checkpoint.size != cp.size:
        rep.fail(f"checkpoint {cp.label}: signed size {opened.checkpoint.size} != stored {cp.size}")
        return
    rep.signed_roots[cp.size] = opened.checkpoint.root
    if opened.checkpoint.root != root:
        rep.fail(
            f"event {rep.covered}: checkpoint {cp.label} does not match the events; an event "
            f"from {rep.covered} to {cp.size - 1} was altered, removed or inserted",
            rep.covered,
            precise=False,
        )
        entry["root_matches"] = False
        return
    entry["root_matches"] = True
    rep.covered = max(rep.covered, cp.size)
    if scan.anchors.witnesses:
        got = {(c.name, c.key_id) for c in opened.cosignatures}
        witnessed = all((w.name, w.key_id) in got for w in scan.anchors.witnesses)
        entry["witnessed"] = witnessed
        if witnessed:
            rep.witnessed = max(rep.witnessed, cp.size)


def verify_leaves(
    leaves: Sequence[bytes],
    *,
    checkpoints: Sequence[CheckpointIn],
    log_verifier: Verifier,
    cosigners: Sequence[Verifier] = (),
    report: VerifyReport,
    anchors: Anchors = Anchors(),
    witness_from: int | None = 0,
) -> Frontier:
    """Check every checkpoint against a tree given by its leaf hashes (a deal's bundle, where
    the other deals' events are present only as their hashes). Every leaf must be covered by a
    signed checkpoint; ``witness_from`` is the first leaf a required witness must cover."""
    scan = _Scan(report, log_verifier, _distinct([*cosigners, *anchors.witnesses]), anchors)
    scan.witness_from = witness_from
    pending = sorted([*checkpoints, *anchors.known], key=lambda c: c.size)
    scan.tail_from = pending[-1].size if pending else 0
    frontier = Frontier()
    for cp in pending:
        if cp.size > len(leaves):
            report.fail(
                f"event {len(leaves)}: missing (checkpoint {cp.label} covers {cp.size} events "
                f"but the bundle has {len(leaves)} leaves)",
                len(leaves),
            )
            continue
        frontier.extend(leaves[frontier.size : cp.size])
        _check_cp(scan, cp, frontier.root())
    frontier.extend(leaves[frontier.size :])
    report.root = frontier.root().hex()
    _finish(scan, len(leaves), reject_uncovered=True)
    return frontier
