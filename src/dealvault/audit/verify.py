"""Recompute the whole log: events, leaf hashes, tree, checkpoints and their signatures."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from dealvault.audit.checkpoint import open_checkpoint
from dealvault.audit.merkle import leaf_hash, node_hash
from dealvault.audit.note import Verifier
from dealvault.errors import IntegrityError, Invalid

EMPTY_ROOT = hashlib.sha256(b"").digest()


class Frontier:
    """The perfect subtrees of a growing prefix: RFC 9162 roots in O(log n) memory."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def push(self, leaf: bytes) -> None:
        height, node = 0, leaf
        stack = self._stack
        while stack and stack[-1][0] == height:
            node = node_hash(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
        self.size += 1

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


@dataclass
class VerifyReport:
    """What verification found. ``first_bad`` is the first event found wrong, if any."""

    events: int = 0
    root: str = ""
    checkpoints: list[dict[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    first_bad: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str, seq: int | None = None, *, precise: bool = True) -> None:
        """Record a problem. A precise finding names its event; a checkpoint mismatch only
        bounds where the damage starts, so it names an event only if nothing more precise did."""
        self.problems.append(message)
        if seq is None:
            return
        if self.first_bad is None or (precise and seq < self.first_bad):
            self.first_bad = seq


def body_seq(body: bytes) -> int:
    """The ``seq`` of a canonical event body; the last key that can hold free text precedes it."""
    pos = body.rfind(b'"seq":')
    if pos < 0:
        raise Invalid("event body has no seq")
    end = pos + 6
    stop = end
    while stop < len(body) and 48 <= body[stop] <= 57:
        stop += 1
    return int(body[end:stop])


def verify_events(
    events: Iterable[tuple[int, bytes]],
    *,
    checkpoints: Sequence[CheckpointIn],
    log_verifier: Verifier,
    cosigners: Sequence[Verifier] = (),
    stored_leaves: Iterator[tuple[int, bytes]] | None = None,
    report: VerifyReport | None = None,
) -> tuple[VerifyReport, Frontier]:
    """Stream the events in order, rebuild the tree, check every checkpoint against it.

    ``events`` yields (seq as stored, canonical body). ``stored_leaves`` (database mode)
    yields the stored level-0 nodes, so an edited body is pinned to its own entry.
    """
    rep = report or VerifyReport()
    frontier = Frontier()
    pending = sorted(checkpoints, key=lambda c: c.size)
    nxt = 0
    good = [0]  # size of the last checkpoint that matched: events below it are proven intact
    while nxt < len(pending) and pending[nxt].size == 0:
        _check_cp(rep, pending[nxt], EMPTY_ROOT, log_verifier, cosigners, good)
        nxt += 1
    for expected, (seq, body) in enumerate(events):
        if seq != expected:
            kind = "missing" if seq > expected else "duplicated or out of order"
            rep.fail(
                f"event {expected}: {kind} (found seq {seq} where {expected} belongs)", expected
            )
            return rep, frontier
        try:
            inner = body_seq(body)
        except (Invalid, ValueError):
            inner = -1
        if inner != seq:
            rep.fail(f"event {seq}: its body says seq {inner} (moved or reordered)", seq)
        lh = leaf_hash(body)
        if stored_leaves is not None:
            got = next(stored_leaves, None)
            if got is None or got[0] != seq:
                rep.fail(f"event {seq}: no stored tree leaf for it (inserted outside the log)", seq)
                stored_leaves = None
            elif got[1] != lh:
                rep.fail(f"event {seq}: content differs from its stored leaf hash (altered)", seq)
        frontier.push(lh)
        while nxt < len(pending) and pending[nxt].size == frontier.size:
            _check_cp(rep, pending[nxt], frontier.root(), log_verifier, cosigners, good)
            nxt += 1
    for cp in pending[nxt:]:
        rep.fail(f"checkpoint {cp.label} covers {cp.size} events but the log has {frontier.size}")
    if stored_leaves is not None and next(stored_leaves, None) is not None:
        rep.fail(
            f"the tree has leaves beyond event {frontier.size - 1} (events deleted?)", frontier.size
        )
    rep.events = frontier.size
    rep.root = frontier.root().hex()
    return rep, frontier


def _check_cp(
    rep: VerifyReport,
    cp: CheckpointIn,
    root: bytes,
    log: Verifier,
    cosigners: Sequence[Verifier],
    good: list[int],
) -> None:
    entry: dict[str, object] = {"checkpoint": cp.label, "size": cp.size}
    try:
        opened = open_checkpoint(cp.note, log_verifier=log, cosigners=cosigners)
    except (IntegrityError, Invalid) as exc:
        rep.fail(f"checkpoint {cp.label}: {exc}", cp.size - 1 if cp.size else None)
        entry["signatures"] = "invalid"
        rep.checkpoints.append(entry)
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
    if opened.checkpoint.root != root:
        rep.fail(
            f"event {good[0]}: checkpoint {cp.label} does not match the events; an event from "
            f"{good[0]} to {cp.size - 1} was altered, removed or inserted",
            good[0],
            precise=False,
        )
        entry["root_matches"] = False
    else:
        entry["root_matches"] = True
        good[0] = max(good[0], cp.size)
    rep.checkpoints.append(entry)
