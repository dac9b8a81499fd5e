"""RFC 9162 §2.1 Merkle tree: hashing, reference proofs, verification and a stored-node tree."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final, Protocol

from dealvault import native
from dealvault.errors import IntegrityError, Invalid, NotFound

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string."""

_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"
_sha256 = hashlib.sha256

NodeKey = tuple[int, int]
"""(level, index): node (level, i) covers leaves [i * 2**level, (i + 1) * 2**level)."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise Invalid(f"{what} must be {HASH_SIZE} bytes")


def _check_size(value: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Invalid(f"{what} must be a non-negative integer")


# --- plain reference implementation (the recursive RFC definitions) -------------------------


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, leaf's sibling first."""
    n = len(leaves)
    if not 0 <= index < n:
        raise Invalid("leaf index out of range")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_path(index, leaves[:k]), root_from_leaves(leaves[k:])]
    return [*inclusion_path(index - k, leaves[k:]), root_from_leaves(leaves[:k])]


def consistency_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1; empty for the trivial cases m == 0 and m == n."""
    n = len(leaves)
    if not 0 <= m <= n:
        raise Invalid("old size out of range")
    if m in (0, n):
        return []
    return _subproof(m, leaves, complete=True)


def _subproof(m: int, leaves: Sequence[bytes], *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_from_leaves(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete=complete), root_from_leaves(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], complete=False), root_from_leaves(leaves[:k])]


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root hash")
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    for p in path:
        _check_hash(p, "inclusion path entry")
    if index >= size:
        raise IntegrityError("inclusion proof: leaf index is not below the tree size")
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise IntegrityError("inclusion proof: path too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise IntegrityError("inclusion proof: path too short")
    if r != root:
        raise IntegrityError("inclusion proof: computed root does not match")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> None:
    """Check that the tree (old_size, old_root) is a prefix of (new_size, new_root).

    Beyond RFC 9162 (which defines 0 < old_size < new_size): old_size == new_size needs an
    empty path and equal roots; old_size == 0 needs an empty path and old_root = MTH({}).
    """
    _check_size(old_size, "old size")
    _check_size(new_size, "new size")
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    for p in path:
        _check_hash(p, "consistency path entry")
    if old_size > new_size:
        raise IntegrityError("consistency proof: old size is larger than new size")
    if old_size == new_size or old_size == 0:
        if path:
            raise IntegrityError("consistency proof: expected an empty path")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise IntegrityError("consistency proof: old root is not the empty-tree root")
        if old_size == new_size and old_root != new_root:
            raise IntegrityError("consistency proof: roots differ for equal sizes")
        return
    if not path:
        raise IntegrityError("consistency proof: empty path")
    cp = [old_root, *path] if old_size & (old_size - 1) == 0 else list(path)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = cp[0]
    for c in cp[1:]:
        if sn == 0:
            raise IntegrityError("consistency proof: path too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise IntegrityError("consistency proof: path too short")
    if fr != old_root:
        raise IntegrityError("consistency proof: old root does not match")
    if sr != new_root:
        raise IntegrityError("consistency proof: new root does not match")


# --- stored-node tree --------------------------------------------------------------------------


class NodeStore(Protocol):
    """Complete subtree hashes addressed by (level, index); level 0 holds the leaf hashes.

    ``size()`` is the number of stored leaves (level-0 nodes). ``get`` raises NotFound for a
    missing node; ``get_many`` returns the nodes it has (missing keys are simply absent).
    """

    def get(self, level: int, index: int) -> bytes: ...

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]: ...

    def put_many(self, items: Sequence[tuple[int, int, bytes]]) -> None: ...

    def size(self) -> int: ...


class MemoryNodeStore:
    """A NodeStore in memory: one list per level, written append-only."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    def get(self, level: int, index: int) -> bytes:
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise NotFound(f"no stored node ({level}, {index})")

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        levels = self._levels
        out: dict[NodeKey, bytes] = {}
        for level, index in keys:
            if 0 <= level < len(levels) and 0 <= index < len(levels[level]):
                out[(level, index)] = levels[level][index]
        return out

    def put_many(self, items: Sequence[tuple[int, int, bytes]]) -> None:
        levels = self._levels
        for level, index, value in items:
            while level >= len(levels):
                levels.append([])
            row = levels[level]
            if index == len(row):
                row.append(value)
            elif index < len(row) and index >= 0:
                if row[index] != value:
                    raise IntegrityError(f"stored node ({level}, {index}) would change")
            else:
                raise Invalid(f"node ({level}, {index}) leaves a gap")

    def size(self) -> int:
        return len(self._levels[0])


def border_keys(size: int) -> list[tuple[int, int]]:
    """The complete nodes on the right border of a tree of ``size`` leaves (one per set bit
    of the size, smallest level first): what the next append starts from."""
    return [(lvl, (size >> lvl) - 1) for lvl in range(size.bit_length()) if (size >> lvl) & 1]


def append_leaves(store: NodeStore, leaf_hashes: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
    """Append leaf hashes; store and return every node they complete (leaves included).

    Reads the O(log n) right-border nodes of the current tree with one ``get_many`` call and
    writes all new nodes with one ``put_many`` call, in level order.
    """
    for h in leaf_hashes:
        if len(h) != HASH_SIZE:
            raise Invalid(f"leaf hashes must be {HASH_SIZE} bytes")
    if not leaf_hashes:
        return []
    n = store.size()
    border = border_keys(n)
    known = store.get_many(border) if border else {}
    if len(known) != len(border):
        raise IntegrityError("stored tree is missing a border node")
    cur = list(leaf_hashes)
    nodes: list[tuple[int, int, bytes]] = [(0, n + j, h) for j, h in enumerate(cur)]
    start, level = n, 0
    while True:
        if start & 1:
            cur.insert(0, known[(level, start - 1)])
            start -= 1
        if len(cur) < 2:
            break
        it = iter(cur)
        cur = native.leaf_hashes([a + b for a, b in zip(it, it, strict=False)], _NODE)
        start >>= 1
        level += 1
        nodes.extend([(level, start + j, h) for j, h in enumerate(cur)])
    store.put_many(nodes)
    return nodes


def _range_keys(start: int, end: int) -> list[NodeKey]:
    """Complete nodes covering [start, end), largest first; start is aligned as in the RFC."""
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _fold(keys: Sequence[NodeKey], nodes: dict[NodeKey, bytes]) -> bytes:
    """MTH of a range from its complete nodes: right-to-left fold."""
    try:
        h = nodes[keys[-1]]
        for key in reversed(keys[:-1]):
            h = node_hash(nodes[key], h)
    except KeyError as exc:
        raise IntegrityError(f"stored node {exc.args[0]} is missing") from None
    return h


def _fetch(store: NodeStore, groups: Sequence[Sequence[NodeKey]]) -> list[bytes]:
    wanted = list(dict.fromkeys(k for g in groups for k in g))
    nodes = store.get_many(wanted) if wanted else {}
    return [_fold(g, nodes) for g in groups]


def _check_stored(store: NodeStore, size: int) -> None:
    _check_size(size, "tree size")
    if size > store.size():
        raise Invalid("tree size is larger than the stored tree")


def root_at(store: NodeStore, size: int) -> bytes:
    """Root of the tree of the first ``size`` leaves, from O(log n) stored nodes."""
    _check_stored(store, size)
    if size == 0:
        return EMPTY_ROOT
    return _fetch(store, [_range_keys(0, size)])[0]


def inclusion_proof(store: NodeStore, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) from stored nodes, with one ``get_many`` call."""
    _check_stored(store, size)
    _check_size(index, "leaf index")
    if index >= size:
        raise Invalid("leaf index out of range")
    groups: list[list[NodeKey]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            groups.append(_range_keys(lo + k, hi))
            hi = lo + k
        else:
            groups.append(_range_keys(lo, lo + k))
            lo += k
    groups.reverse()
    return _fetch(store, groups)


def consistency_proof(store: NodeStore, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) from stored nodes, with one ``get_many`` call."""
    _check_stored(store, new_size)
    _check_size(old_size, "old size")
    if old_size > new_size:
        raise Invalid("old size is larger than new size")
    if old_size in (0, new_size):
        return []
    groups: list[list[NodeKey]] = []
    lo, hi, complete = 0, new_size, True
    while old_size != hi:
        k = _split(hi - lo)
        if old_size - lo <= k:
            groups.append(_range_keys(lo + k, hi))
            hi = lo + k
        else:
            groups.append(_range_keys(lo, lo + k))
            lo += k
            complete = False
    if not complete:
        groups.append(_range_keys(lo, hi))
    groups.reverse()
    return _fetch(store, groups)
