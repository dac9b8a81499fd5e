"""RFC 9162 Merkle tree: CT known answers, stored-node tree against the reference, tampering."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.audit import merkle as m
from dealvault.errors import IntegrityError, Invalid, NotFound


def h(x: str) -> bytes:
    return bytes.fromhex(x)


# The RFC 6962 test vectors of the Certificate Transparency reference code
# (transparency-dev/merkle testonly/constants.go, proof/verify_test.go).
CT_LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
CT_ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (level, index) -> hash of every complete subtree of the 8-leaf tree.
CT_NODES = {
    (0, 0): h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    (0, 1): h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
    (0, 2): h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
    (0, 3): h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
    (0, 4): h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    (0, 5): h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
    (0, 6): h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
    (0, 7): h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    (1, 0): h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    (1, 1): h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
    (1, 2): h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
    (1, 3): h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    (2, 0): h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    (2, 1): h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    (3, 0): h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
}
N = CT_NODES
# (index, size, path); the CT tables give 1-based leaf numbers, these are 0-based.
CT_INCLUSION = [
    (0, 8, [N[(0, 1)], N[(1, 1)], N[(2, 1)]]),
    (5, 8, [N[(0, 4)], N[(1, 3)], N[(2, 0)]]),
    (2, 3, [N[(1, 0)]]),
    (1, 5, [N[(0, 0)], N[(1, 1)], N[(0, 4)]]),
    (0, 1, []),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, [N[(0, 1)], N[(1, 1)], N[(2, 1)]]),
    (6, 8, [N[(1, 2)], N[(1, 3)], N[(2, 0)]]),
    (2, 5, [N[(1, 1)], N[(0, 4)]]),
    (6, 7, [N[(1, 2)], N[(0, 6)], N[(2, 0)]]),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def ct_leaf_hashes() -> list[bytes]:
    return [m.leaf_hash(x) for x in CT_LEAVES]


def build(leaves: Sequence[bytes], batches: Sequence[int] = ()) -> m.MemoryNodeStore:
    store = m.MemoryNodeStore()
    i, sizes = 0, list(batches)
    while i < len(leaves):
        k = sizes.pop(0) if sizes else len(leaves) - i
        m.append_leaves(store, leaves[i : i + k])
        i += k
    return store


def test_hashing_primitives() -> None:
    assert m.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert hashlib.sha256(b"").digest() == m.EMPTY_ROOT
    assert m.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert m.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


def test_ct_roots_and_nodes() -> None:
    leaves = ct_leaf_hashes()
    for size in range(9):
        assert m.root_from_leaves(leaves[:size]) == CT_ROOTS[size]
    store = build(leaves, [1, 2, 1, 3, 1])
    for size in range(9):
        assert m.root_at(store, size) == CT_ROOTS[size]
    for (level, index), value in CT_NODES.items():
        assert store.get(level, index) == value


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion(index: int, size: int, path: list[bytes]) -> None:
    leaves = ct_leaf_hashes()
    store = build(leaves)
    assert m.inclusion_path(index, leaves[:size]) == path
    assert m.inclusion_proof(store, index, size) == path
    m.verify_inclusion(
        leaf_hash=leaves[index], index=index, size=size, path=path, root=CT_ROOTS[size]
    )


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_ct_consistency(old: int, new: int, path: list[bytes]) -> None:
    leaves = ct_leaf_hashes()
    store = build(leaves)
    assert m.consistency_path(old, leaves[:new]) == path
    assert m.consistency_proof(store, old, new) == path
    m.verify_consistency(
        old_size=old, new_size=new, old_root=CT_ROOTS[old], new_root=CT_ROOTS[new], path=path
    )


def _inclusion_probes(
    index: int, size: int, path: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[int, int, list[bytes], bytes, bytes]]:
    probes = [
        (index + 1, size, path, root, leaf),
        (index ^ 2, size, path, root, leaf),
        (index, size * 2, path, root, leaf),
        (index, size // 2, path, root, leaf),
        (index, size, path, root, SOME_HASH),
        (index, size, path, m.EMPTY_ROOT, leaf),
        (index, size, path, SOME_HASH, leaf),
        (index, size, [*path, root], root, leaf),
        (index, size, [root, *path], root, leaf),
    ]
    if index > 0:
        probes.append((index - 1, size, path, root, leaf))
    for i in range(len(path)):
        bad = list(path)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((index, size, bad, root, leaf))
    if path:
        probes.append((index, size, path[:-1], root, leaf))
    if len(path) > 1:
        probes.append((index, size, [path[0], SOME_HASH, *path[1:]], root, leaf))
    return probes


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION[:4])
def test_tampered_inclusion_fails(index: int, size: int, path: list[bytes]) -> None:
    leaf = ct_leaf_hashes()[index]
    for i, s, p, r, lf in _inclusion_probes(index, size, path, CT_ROOTS[size], leaf):
        with pytest.raises(IntegrityError):
            m.verify_inclusion(leaf_hash=lf, index=i, size=s, path=p, root=r)


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY[1:])
def test_tampered_consistency_fails(old: int, new: int, path: list[bytes]) -> None:
    r1, r2 = CT_ROOTS[old], CT_ROOTS[new]
    probes = [
        (old - 1, new, r1, r2, path),
        (old + 1, new, r1, r2, path),
        (old ^ 2, new, r1, r2, path),
        (old, new * 2, r1, r2, path),
        (old, new // 2, r1, r2, path),
        (old, new, SOME_HASH, r2, path),
        (old, new, r1, SOME_HASH, path),
        (old, new, r2, r1, path),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*path, r1]),
        (old, new, r1, r2, [*path, r2]),
        (old, new, r1, r2, [r1, *path]),
        (old, new, r1, r2, [r2, *path]),
        (old, new, r1, r2, [path[0], *path]),
        (old, new, r1, r2, path[:-1]),
    ]
    for i in range(len(path)):
        bad = list(path)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((old, new, r1, r2, bad))
    for s1, s2, a, b, p in probes:
        with pytest.raises(IntegrityError):
            m.verify_consistency(old_size=s1, new_size=s2, old_root=a, new_root=b, path=p)


def test_consistency_edge_cases() -> None:
    e, r = m.EMPTY_ROOT, CT_ROOTS[3]
    m.verify_consistency(old_size=0, new_size=0, old_root=e, new_root=e, path=[])
    m.verify_consistency(old_size=0, new_size=3, old_root=e, new_root=r, path=[])
    m.verify_consistency(old_size=3, new_size=3, old_root=r, new_root=r, path=[])
    bad = [
        (0, 3, SOME_HASH, r, []),  # old root must be MTH({})
        (0, 3, e, r, [e]),  # trivial proofs are empty
        (3, 3, r, r, [e]),
        (3, 3, r, SOME_HASH, []),
        (1, 0, CT_ROOTS[1], e, []),  # time travel
        (1, 2, CT_ROOTS[1], CT_ROOTS[2], []),  # empty path
    ]
    for s1, s2, a, b, p in bad:
        with pytest.raises(IntegrityError):
            m.verify_consistency(old_size=s1, new_size=s2, old_root=a, new_root=b, path=p)


def test_inclusion_edge_cases() -> None:
    leaf = m.leaf_hash(b"data")
    m.verify_inclusion(leaf_hash=leaf, index=0, size=1, path=[], root=leaf)
    for index, size in [(0, 0), (1, 0), (1, 1), (2, 1)]:
        with pytest.raises(IntegrityError):
            m.verify_inclusion(leaf_hash=leaf, index=index, size=size, path=[], root=leaf)


def test_malformed_arguments_are_invalid() -> None:
    leaf = m.leaf_hash(b"x")
    with pytest.raises(Invalid):
        m.verify_inclusion(leaf_hash=b"short", index=0, size=1, path=[], root=leaf)
    with pytest.raises(Invalid):
        m.verify_inclusion(leaf_hash=leaf, index=-1, size=1, path=[], root=leaf)
    with pytest.raises(Invalid):
        m.verify_inclusion(leaf_hash=leaf, index=0, size=2, path=[b""], root=leaf)
    with pytest.raises(Invalid):
        m.verify_consistency(old_size=1, new_size=2, old_root=leaf, new_root=b"", path=[leaf])
    store = build(ct_leaf_hashes())
    with pytest.raises(Invalid):
        m.inclusion_proof(store, 8, 8)
    with pytest.raises(Invalid):
        m.inclusion_proof(store, 0, 9)
    with pytest.raises(Invalid):
        m.consistency_proof(store, 5, 4)
    with pytest.raises(Invalid):
        m.root_at(store, 9)
    with pytest.raises(Invalid):
        m.append_leaves(store, [b"not a hash"])
    with pytest.raises(Invalid):
        m.inclusion_path(3, ct_leaf_hashes()[:3])


def _sample(n: int, rng: random.Random) -> list[int]:
    picks = {0, 1, n // 2, n - 2, n - 1} | {rng.randrange(n) for _ in range(6)}
    picks |= {(1 << b) - 1 for b in range(n.bit_length())} | {1 << b for b in range(n.bit_length())}
    return sorted(p for p in picks if 0 <= p < n)


def test_every_size_up_to_300_matches_reference() -> None:
    rng = random.Random(9162)
    leaves = [m.leaf_hash(i.to_bytes(4, "big")) for i in range(300)]
    store = build(leaves, [rng.randint(1, 17) for _ in range(300)])
    assert store.size() == 300
    for n in range(1, 301):
        prefix = leaves[:n]
        root = m.root_from_leaves(prefix)
        assert m.root_at(store, n) == root
        for i in range(n) if n <= 40 else _sample(n, rng):
            path = m.inclusion_proof(store, i, n)
            assert path == m.inclusion_path(i, prefix)
            m.verify_inclusion(leaf_hash=leaves[i], index=i, size=n, path=path, root=root)
        for old in range(n + 1) if n <= 40 else [0, *_sample(n, rng), n]:
            path = m.consistency_proof(store, old, n)
            assert path == m.consistency_path(old, prefix)
            old_root = m.root_at(store, old)
            m.verify_consistency(
                old_size=old, new_size=n, old_root=old_root, new_root=root, path=path
            )


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=4000),
    batches=st.lists(st.integers(min_value=1, max_value=700), max_size=12),
    data=st.data(),
)
def test_random_sizes_match_reference(size: int, batches: list[int], data: st.DataObject) -> None:
    leaves = [m.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    store = build(leaves, batches)
    whole = build(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old = data.draw(st.integers(min_value=0, max_value=size))
    n = data.draw(st.integers(min_value=max(index + 1, old), max_value=size))
    prefix = leaves[:n]
    root = m.root_from_leaves(prefix)
    assert m.root_at(store, n) == m.root_at(whole, n) == root
    path = m.inclusion_proof(store, index, n)
    assert path == m.inclusion_path(index, prefix)
    m.verify_inclusion(leaf_hash=leaves[index], index=index, size=n, path=path, root=root)
    cpath = m.consistency_proof(store, old, n)
    assert cpath == m.consistency_path(old, prefix)
    m.verify_consistency(
        old_size=old, new_size=n, old_root=m.root_at(store, old), new_root=root, path=cpath
    )


class CountingStore(m.MemoryNodeStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def get(self, level: int, index: int) -> bytes:
        self.calls.append(("get", 1))
        return super().get(level, index)

    def get_many(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        self.calls.append(("get_many", len(keys)))
        return super().get_many(keys)


def test_proofs_read_log_n_nodes_in_one_call() -> None:
    store = CountingStore()
    m.append_leaves(store, [m.leaf_hash(i.to_bytes(4, "big")) for i in range(100_003)])
    for work in (
        lambda: m.inclusion_proof(store, 77_777, 100_003),
        lambda: m.consistency_proof(store, 65_537, 100_003),
        lambda: m.root_at(store, 99_999),
    ):
        store.calls.clear()
        work()
        assert len(store.calls) == 1
        kind, count = store.calls[0]
        assert kind == "get_many"
        assert count <= 2 * 17 + 2


def test_append_returns_new_nodes_and_reads_only_the_border() -> None:
    store = CountingStore()
    leaves = ct_leaf_hashes()
    assert m.append_leaves(store, []) == []
    m.append_leaves(store, leaves[:3])
    store.calls.clear()
    new = m.append_leaves(store, leaves[3:6])
    assert store.calls == [("get_many", 2)]  # nodes (0, 2) and (1, 0)
    assert sorted((lvl, i) for lvl, i, _ in new) == [(0, 3), (0, 4), (0, 5), (1, 1), (1, 2), (2, 0)]
    assert all(CT_NODES[(lvl, i)] == v for lvl, i, v in new)


def test_memory_store_is_append_only() -> None:
    store = build(ct_leaf_hashes()[:2])
    store.put_many([(0, 1, CT_NODES[(0, 1)])])  # identical rewrite is fine
    with pytest.raises(IntegrityError):
        store.put_many([(0, 1, SOME_HASH)])
    with pytest.raises(Invalid):
        store.put_many([(0, 5, SOME_HASH)])
    with pytest.raises(NotFound):
        store.get(0, 2)
    assert store.get_many([(0, 0), (0, 9), (7, 0)]) == {(0, 0): CT_NODES[(0, 0)]}


def test_missing_stored_node_is_an_integrity_error() -> None:
    class Lossy(m.MemoryNodeStore):
        def get_many(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
            found = super().get_many(keys)
            found.pop((2, 0), None)
            return found

    store = Lossy()
    m.append_leaves(store, ct_leaf_hashes()[:7])
    with pytest.raises(IntegrityError):
        m.root_at(store, 7)
    with pytest.raises(IntegrityError):
        m.append_leaves(store, ct_leaf_hashes()[7:])
