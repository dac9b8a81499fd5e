"""The C kernels and their Python twins in dealvault.native give the same bytes."""

from __future__ import annotations

import zlib
from hashlib import sha256
from random import Random

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealvault import native
from dealvault.audit.merkle import root_from_leaves
from dealvault.crypto import envelope as env
from tests.native.support import need_c

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
payloads = st.none() | st.binary(max_size=2048)
heads = st.builds(
    lambda kid, ver: env.Header(env.ALG_AES_256_GCM, kid, ver).encode(),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=40),
    st.integers(0, 2**32 - 1),
)


@st.composite
def seal_inputs(draw: st.DrawFn) -> tuple[object, ...]:
    n = draw(st.integers(0, 6))
    ncat = draw(st.integers(0, 4))
    keys = draw(st.binary(min_size=32 * n, max_size=32 * n))
    posts = tuple(draw(st.lists(st.binary(max_size=24), min_size=ncat, max_size=ncat)))
    columns = [draw(st.lists(payloads, min_size=n, max_size=n)) for _ in range(ncat)]
    nonces = draw(st.binary(min_size=12 * n * ncat, max_size=12 * n * ncat))
    start = draw(st.integers(-(2**63), 2**63 - 1 - n))
    prefix = draw(st.binary(max_size=24))
    return keys, draw(heads), prefix, start, posts, columns, nonces


@SETTINGS
@given(args=seal_inputs())
def test_seal_rows(args: tuple[object, ...]) -> None:
    c = need_c()
    got = c.seal_rows(*args)
    assert got == native.seal_rows_py(*args)  # type: ignore[arg-type]
    assert all(type(b) is bytes or b is None for col in got for b in col)


@st.composite
def open_inputs(
    draw: st.DrawFn,
) -> tuple[list[tuple[object, ...]], list[bytes | None], bytes, tuple[bytes, ...]]:
    """Rows sealed under the real layout, some spoiled, moved, cut or without a key."""
    keys, head, prefix, start, posts, columns, nonces = draw(seal_inputs())
    assert isinstance(keys, bytes) and isinstance(start, int)
    sealed = native.seal_rows_py(keys, head, prefix, start, posts, columns, nonces)  # type: ignore[arg-type]
    n = len(keys) // 32
    rows: list[tuple[object, ...]] = []
    key_list: list[bytes | None] = []
    for i in range(n):
        cells: list[object] = [start + i, f"s{i}"]
        for col in sealed:
            blob = col[i]
            spoil = draw(st.sampled_from(["keep"] * 4 + ["flip", "cut", "junk"]))
            if blob is not None and spoil == "flip":
                at = draw(st.integers(0, len(blob) - 1))
                blob = blob[:at] + bytes([blob[at] ^ draw(st.integers(1, 255))]) + blob[at + 1 :]
            elif blob is not None and spoil == "cut":
                blob = blob[: draw(st.integers(0, len(blob) - 1))]
            elif spoil == "junk":
                blob = draw(st.binary(max_size=64))
            cells.append(blob)
        cells.extend(draw(st.lists(st.integers(), max_size=2)))  # trailing columns are ignored
        if draw(st.booleans()) and i:
            cells[0] = start  # another record's place: its context no longer fits
        rows.append(tuple(cells))
        which = draw(st.sampled_from(["own", "own", "own", "none", "other"]))
        own = keys[32 * i : 32 * i + 32]
        key_list.append(
            own
            if which == "own"
            else None
            if which == "none"
            else draw(st.binary(min_size=32, max_size=32))
        )
    return rows, key_list, prefix, posts  # type: ignore[return-value]


@SETTINGS
@given(args=open_inputs())
def test_open_rows(
    args: tuple[list[tuple[object, ...]], list[bytes | None], bytes, tuple[bytes, ...]],
) -> None:
    c = need_c()
    got = c.open_rows(*args)
    assert got == native.open_rows_py(*args)  # type: ignore[arg-type]
    _ids, _subjects, payload_cols, skipped, failures = got
    assert skipped == sum(k is None for k in args[1])
    for r, j, _i in failures:
        assert payload_cols[j][r] is None  # never the unauthenticated bytes


@SETTINGS
@given(
    key=st.binary(min_size=1, max_size=64),
    person=st.binary(max_size=16),
    values=st.lists(
        st.none() | st.text() | st.text(alphabet="测试甲乙丙丁é\x00🙂", max_size=30), max_size=40
    ),
)
def test_blind_many(key: bytes, person: bytes, values: list[str | None]) -> None:
    c = need_c()
    assert c.blind_many(key, person, values) == native.blind_many_py(key, person, values)


def test_blind_many_of_nothing_and_of_empty_text() -> None:
    c = need_c()
    key = bytes(range(32))
    cases: list[list[str | None]] = [[], [None], [""], ["", None, "客户"]]
    for values in cases:
        assert c.blind_many(key, b"phone", values) == native.blind_many_py(key, b"phone", values)


@SETTINGS
@given(
    items=st.lists(st.binary(max_size=300), max_size=50),
    prefix=st.none() | st.binary(max_size=40),
)
def test_leaf_hashes(items: list[bytes], prefix: bytes | None) -> None:
    c = need_c()
    if prefix is None:  # the RFC 9162 leaf prefix by default
        assert c.leaf_hashes(items) == native.leaf_hashes_py(items)
        assert c.leaf_hashes(items) == [sha256(b"\x00" + b).digest() for b in items]
    else:
        assert c.leaf_hashes(items, prefix) == native.leaf_hashes_py(items, prefix)


def test_leaf_hashes_with_an_empty_prefix_and_an_empty_buffer() -> None:
    c = need_c()
    items = [b"", b"event"]
    plain = [sha256(b).digest() for b in items]
    assert c.leaf_hashes(items, b"") == plain
    assert c.leaf_hashes(items, bytearray()) == plain
    assert c.leaf_hashes(items, memoryview(b"")) == plain


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), seed=st.binary(max_size=8))
def test_merkle_root(n: int, seed: bytes) -> None:
    c = need_c()
    leaves = [sha256(seed + b"%d" % i).digest() for i in range(n)]
    want = root_from_leaves(leaves)
    assert c.merkle_root(leaves) == want
    assert native.merkle_root_py(leaves) == want


def test_merkle_root_of_every_size_up_to_300() -> None:
    c = need_c()
    leaves = [sha256(b"%d" % i).digest() for i in range(300)]
    for n in range(1, 301):
        assert c.merkle_root(leaves[:n]) == root_from_leaves(leaves[:n]), n


def _pack(data: bytes, how: str, level: int) -> bytes | None:
    if how == "none":
        return None
    if how == "empty":
        return b""
    if how == "plain":
        return data if data[:1] != b"x" else b"y" + data[1:]
    return zlib.compress(data, level)


packs = st.builds(
    _pack,
    st.binary(max_size=3000)
    | st.text(alphabet="0123456789abcdef\n", max_size=4000).map(str.encode),
    st.sampled_from(["none", "empty", "plain", "zlib", "zlib"]),
    st.integers(0, 9),
)


@SETTINGS
@given(items=st.lists(packs, max_size=20))
def test_subject_digests(items: list[bytes | None]) -> None:
    c = need_c()
    got = c.subject_digests(items)
    assert got == native.subject_digests_py(items)
    assert [g is None for g in got] == [p is None for p in items]


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 131072, 200_001])
@pytest.mark.parametrize("noise", [False, True])
def test_subject_digests_across_the_inflate_buffer(size: int, noise: bool) -> None:
    """Inflated lists of about the C side's 64 KiB buffer, compressible or not."""
    c = need_c()
    data = Random(size).randbytes(size) if noise else (b"0123456789abcdef\n" * size)[:size]
    packs: list[bytes | None] = [zlib.compress(data, lvl) for lvl in (0, 1, 9)]
    want = [sha256(data).hexdigest().encode()] * 3
    assert c.subject_digests(packs) == want == native.subject_digests_py(packs)


def test_subject_digests_ignore_bytes_after_the_stream_as_zlib_does() -> None:
    c = need_c()
    pack = zlib.compress(b"0a1b\n2c3d" * 100) + b"trailing"
    assert c.subject_digests([pack]) == native.subject_digests_py([pack])


def test_the_facade_matches_the_twins() -> None:
    """Whichever path this process uses, dealvault.native gives the Python twins' bytes."""
    key, leaves = bytes(32), [sha256(b"%d" % i).digest() for i in range(5)]
    assert native.blind_many(key, b"p", ["a", None]) == native.blind_many_py(key, b"p", ["a", None])
    assert native.leaf_hashes([b"a"]) == native.leaf_hashes_py([b"a"])
    assert native.merkle_root(leaves) == native.merkle_root_py(leaves)
    packs = [None, b"", b"0a", zlib.compress(b"0a\n1b")]
    assert native.subject_digests(packs) == native.subject_digests_py(packs)


texts = st.lists(st.none() | st.text(max_size=40) | st.text(alphabet="测试甲乙é🙂", max_size=200))


@settings(max_examples=60, deadline=None)
@given(values=texts, cut=st.integers(0, 5), chunks=st.booleans())
def test_blind_series(values: list[str | None], cut: int, chunks: bool) -> None:
    """The Polars column path (Arrow buffers, C) against the Python twin: sliced columns
    (an Arrow offset), several chunks and null slots."""
    c = need_c()
    key, person = bytes(range(32)), b"phone"
    series = pl.Series("v", values, dtype=pl.String).slice(min(cut, len(values)))
    if chunks:
        series = pl.concat([series, pl.Series("v", ["tail", None], pl.String)], rechunk=False)
    want = native.blind_many_py(key, person, series.to_list())
    assert native.blind_series(key, person, series).to_list() == want
    for kind in (pa.string(), pa.large_string()):  # 32- and 64-bit offsets
        arr = pa.array(series.to_list(), type=kind)[cut:]
        _valid, offsets, data = arr.buffers()
        got = c.blind_column(key, person, offsets, data or b"", len(arr), arr.offset,
                             kind == pa.large_string())  # fmt: skip
        digests = [got[16 * i : 16 * i + 16] for i in range(len(arr))]
        assert [
            None if v is None else d for v, d in zip(arr.to_pylist(), digests, strict=True)
        ] == (native.blind_many_py(key, person, arr.to_pylist()))
