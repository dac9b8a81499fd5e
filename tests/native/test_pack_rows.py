"""The packed read of the package build: the SQLite aggregate ``dv_pack_rows`` gives what its
Python twin gives, ``unpack_rows`` (C and Python) gives the rows back, and anything unusual
(a REAL, ids out of order, a damaged pack) is declined or refused, never misread."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dealvault import native, native_pack
from dealvault.crypto.keyring import KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.errors import IntegrityError
from dealvault.flows.context import AppStores
from dealvault.transfer import records
from dealvault.vault.models import Dataset
from dealvault.vault.opening import RecordLayout, frame_of, open_frame, open_pack
from tests.conftest import World
from tests.native.support import CATS, DATASET, HEAD, POSTS, PREFIX, SCHEMA, batch, rows_of
from tests.transfer.test_plans import prepare

C: Any = native._C
needs_c = pytest.mark.skipif(C is None, reason="the C kernels are not in use")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Row = tuple[Any, ...]
values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.binary(max_size=60),
)


def _table(rows: Sequence[Row], width: int) -> sqlite3.Connection:
    native.sqlite_register()
    con = sqlite3.connect(":memory:")
    cols = "".join(f", v{k}" for k in range(width - 2))
    con.execute(f"CREATE TABLE t (id, subject_id{cols})")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * width)})", rows)
    return con


def _aggregate(con: sqlite3.Connection, width: int, order: str = "subject_id") -> bytes | None:
    cols = "".join(f", v{k}" for k in range(width - 2))
    got: bytes | None = con.execute(
        f"SELECT dv_pack_rows(id, subject_id{cols}) FROM "
        f"(SELECT * FROM t ORDER BY {order} LIMIT 100000)"
    ).fetchone()[0]
    return got


def _keys(n: int, missing: set[int]) -> tuple[bytes, list[bytes | None]]:
    keys = [None if i in missing else os.urandom(32) for i in range(n)]
    packed = b"".join(k or bytes(32) for k in keys) + bytes(k is not None for k in keys)
    return packed, keys


@st.composite
def packable(draw: st.DrawFn) -> tuple[list[Row], int]:
    width = draw(st.integers(min_value=2, max_value=7))
    subjects = draw(st.lists(st.text(max_size=12), unique=True, max_size=25))
    subjects.sort(key=str.encode)  # SQLite's order (BINARY: UTF-8 bytes)
    rows = [
        (
            draw(st.integers(min_value=-(2**63), max_value=2**63 - 1)),
            s,
            *draw(st.lists(values, min_size=width - 2, max_size=width - 2)),
        )
        for s in subjects
    ]
    return rows, width


@needs_c
@SETTINGS
@given(packable(), st.sets(st.integers(min_value=0, max_value=30)))
def test_the_aggregate_is_its_python_twin(batch: tuple[list[Row], int], missing: set[int]) -> None:
    rows, width = batch
    con = _table(rows, width)
    stored = con.execute("SELECT * FROM t ORDER BY subject_id").fetchall()
    pack = _aggregate(con, width)
    assert pack is not None
    assert pack == native_pack.pack_rows_py(stored)
    keys, key_list = _keys(len(stored), missing)
    assert C.unpack_rows(pack, keys) == (stored, key_list)
    assert native_pack.unpack_rows_py(pack, keys) == (stored, key_list)
    n, at, last = native_pack.pack_summary(pack)
    assert n == len(stored)
    assert last == (stored[-1][1] if stored else "")
    ids = [int.from_bytes(pack[k : k + 8], "little", signed=True) for k in range(at, len(pack), 8)]
    assert ids == [r[0] for r in stored]


@needs_c
def test_nulls_and_an_empty_batch() -> None:
    rows = [(i, f"s{i:03d}", None, None, b"", "") for i in range(5)]
    con = _table(rows, 6)
    pack = _aggregate(con, 6)
    assert pack == native_pack.pack_rows_py(rows)
    keys, key_list = _keys(5, {1, 3})
    assert C.unpack_rows(pack, keys) == (rows, key_list)
    empty = _aggregate(_table([], 6), 6)
    assert empty == native_pack.pack_rows_py([])
    assert empty is not None and native_pack.pack_summary(empty) == (0, 40, "")
    assert C.unpack_rows(empty, b"") == ([], [])
    assert native_pack.unpack_rows_py(empty, b"") == ([], [])


@needs_c
@pytest.mark.parametrize(
    ("what", "rows", "order"),
    [
        ("descending subject ids", [(1, "a", 1), (2, "b", 2)], "subject_id DESC"),
        ("a repeated subject id", [(1, "a", 1), (2, "a", 2)], "id"),
        ("a prefix after its extension", [(1, "ab", 1), (2, "a", 2)], "id"),
        ("a REAL value", [(1, "a", 1.5)], "id"),
        ("an id as text", [("1", "a", 1)], "id"),
        ("a NULL id", [(None, "a", 1)], "id"),
        ("a subject id as a blob", [(1, b"a", 1)], "id"),
        ("a subject id as an integer", [(1, 7, 1)], "id"),
        ("a NULL subject id", [(1, None, 1)], "id"),
    ],
)
def test_what_the_aggregate_declines(what: str, rows: list[Row], order: str) -> None:
    con = _table(rows, 3)
    assert _aggregate(con, 3, order) is None, what
    stored = con.execute(f"SELECT * FROM t ORDER BY {order}").fetchall()
    assert native_pack.pack_rows_py(stored) is None, what


@needs_c
def test_one_column_is_declined() -> None:
    con = _table([(1, "a")], 2)
    assert con.execute("SELECT dv_pack_rows(id) FROM t").fetchone()[0] is None
    assert native_pack.pack_rows_py([(1,)]) is None
    assert native_pack.pack_rows_py([(1, "a"), (2, "b", 3)]) is None  # rows of two widths


def _both_refuse(pack: bytes, keys: bytes) -> None:
    with pytest.raises(ValueError):
        native_pack.unpack_rows_py(pack, keys)
    if C is not None:
        with pytest.raises(ValueError):
            C.unpack_rows(pack, keys)


def test_damaged_packs_are_refused() -> None:
    rows = [(i, f"s{i}", b"x" * i, "t" * i, i) for i in range(1, 6)]
    pack = native_pack.pack_rows_py(rows)
    assert pack is not None
    keys, _ = _keys(5, set())
    _both_refuse(pack[:-1], keys)  # cut
    _both_refuse(b"DVP2" + pack[4:], keys)  # magic
    _both_refuse(pack[:30], keys)  # shorter than a header
    _both_refuse(pack, keys[:-1])  # keys of another number of rows
    _both_refuse(pack, keys + bytes(33))
    body_at = native_pack.PACK_HEAD.size
    _both_refuse(pack[:body_at] + b"\x09" + pack[body_at + 1 :], keys)  # an unknown tag
    grown = bytearray(pack)
    grown[body_at + 10] = 0xFF  # the subject's length (after the id) runs past the rows
    _both_refuse(bytes(grown), keys)
    with pytest.raises(ValueError):
        native_pack.pack_summary(pack[:-8])


@SETTINGS
@given(st.data())
def test_damaged_packs_read_alike(data: st.DataObject) -> None:
    """Bytes changed anywhere: C and Python refuse alike or give the same rows (no reads
    past the buffer: a damaged length is a ValueError)."""
    rows = [(i, f"s{i:02d}", os.urandom(i % 7), "é" * (i % 5), None) for i in range(12)]
    pack = bytearray(native_pack.pack_rows_py(rows) or b"")
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        pack[data.draw(st.integers(min_value=0, max_value=len(pack) - 1))] = data.draw(
            st.integers(min_value=0, max_value=255)
        )
    keys, _ = _keys(12, set())
    try:
        want: Any = native_pack.unpack_rows_py(bytes(pack), keys)
    except ValueError:
        want = ValueError
    if C is None:
        return
    try:
        got: Any = C.unpack_rows(bytes(pack), keys)
    except ValueError:
        got = ValueError
    assert got == want


def test_unpack_rows_takes_either_path() -> None:
    rows = [(1, "a", b"e", None)]
    pack = native_pack.pack_rows_py(rows)
    assert pack is not None
    assert native_pack.unpack_rows(pack, bytes(32) + b"\x01") == (rows, [bytes(32)])
    with pytest.raises(TypeError):
        native_pack.unpack_rows("x" * 64, b"")  # type: ignore[arg-type]


# ---- open_pack: the envelopes of a pack opened where they lie -----------------------------


def _sealed_pack(n: int, *, extra: bool = False) -> tuple[list[Row], bytes]:
    keys, columns, nonces = batch(n)
    sealed = native.seal_rows_py(keys, HEAD, PREFIX, 1, POSTS, columns, nonces)
    rows = [(*r, 1) if extra else tuple(r) for r in rows_of(1, sealed, n)]
    return rows, keys


@SETTINGS
@given(
    st.integers(min_value=0, max_value=12),
    st.sets(st.integers(min_value=0, max_value=12)),
    st.sets(st.tuples(st.integers(0, 11), st.integers(0, 3), st.sampled_from(["tag", "cut"]))),
    st.booleans(),
)
def test_open_pack_is_open_rows_of_the_rows(
    n: int, missing: set[int], damage: set[tuple[int, int, str]], extra: bool
) -> None:
    """Missing keys, NULL envelopes, damaged ones (a failure naming the pack's row) and a
    trailing column: the C kernel, its twin and open_rows of the unpacked rows agree."""
    sealed, key_bytes = _sealed_pack(n, extra=extra)
    cells = [list(r) for r in sealed]
    for i, j, how in damage:
        if i < n and cells[i][2 + j] is not None:
            blob = cells[i][2 + j]
            cells[i][2 + j] = blob[:-1] + bytes([blob[-1] ^ 1]) if how == "tag" else blob[:20]
    rows = [tuple(c) for c in cells]
    pack = native_pack.pack_rows_py(rows)
    assert pack is not None
    key_list: list[bytes | None] = [
        None if i in missing else key_bytes[32 * i : 32 * i + 32] for i in range(n)
    ]
    keys = b"".join(k or bytes(32) for k in key_list) + bytes(k is not None for k in key_list)
    want = native.open_rows_py(list(rows), key_list, PREFIX, POSTS)
    assert native_pack.open_pack_py(pack, keys, PREFIX, POSTS) == want
    if C is not None:
        assert C.open_pack(pack, keys, PREFIX, POSTS) == want


@needs_c
def test_open_pack_refuses_what_open_rows_would() -> None:
    rows, key_bytes = _sealed_pack(3)
    keys = key_bytes + b"\x01" * 3
    pack = native_pack.pack_rows_py(rows)
    assert pack is not None
    with pytest.raises(ValueError):  # rows shorter than the suffixes ask
        C.open_pack(pack, keys, PREFIX, (*POSTS, b"|more|1"))
    with pytest.raises(ValueError):
        native_pack.open_pack_py(pack, keys, PREFIX, (*POSTS, b"|more|1"))
    with pytest.raises(ValueError):
        C.open_pack(pack[:-1], keys, PREFIX, POSTS)
    with pytest.raises(ValueError):
        C.open_pack(pack, keys[:-1], PREFIX, POSTS)
    with pytest.raises(TypeError):
        C.open_pack(pack, keys, PREFIX, ("not bytes",))
    text_envelope = native_pack.pack_rows_py([(1, "a", "text", None, None, None)])
    assert text_envelope is not None
    with pytest.raises(TypeError):
        C.open_pack(text_envelope, bytes(32) + b"\x01", PREFIX, POSTS)
    empty = native_pack.pack_rows_py([])
    assert empty is not None
    assert C.open_pack(empty, b"", PREFIX, POSTS) == ([], [], [[], [], [], []], 0, [])


@needs_c
def test_a_worker_opens_a_pack_as_it_opens_rows() -> None:
    """vault.opening opens a pack (as a package worker does) like open_frame opens its rows,
    down to the careful path naming a damaged envelope."""
    layout = RecordLayout(DATASET, SCHEMA, CATS)
    rows, key_bytes = _sealed_pack(6)
    keys = key_bytes + b"\x01\x01\x00\x01\x01\x01"
    key_list = [None if i == 2 else key_bytes[32 * i : 32 * i + 32] for i in range(6)]
    pack = native_pack.pack_rows_py(rows)
    assert pack is not None
    frame, skipped = frame_of(layout, open_pack(layout, pack, keys))
    want, want_skipped = open_frame(layout, rows, key_list)
    assert frame.equals(want) and skipped == want_skipped == 1
    blob = rows[4][3]
    assert blob is not None
    rows[4] = (*rows[4][:3], blob[:-1] + bytes([blob[-1] ^ 1]), *rows[4][4:])
    damaged = native_pack.pack_rows_py(rows)
    assert damaged is not None
    with pytest.raises(IntegrityError) as from_rows:
        open_frame(layout, rows, key_list)
    with pytest.raises(IntegrityError) as from_pack:
        frame_of(layout, open_pack(layout, damaged, keys))
    assert str(from_pack.value) == str(from_rows.value)


# ---- the package build's reader ----------------------------------------------------------


def test_the_reader_packs_and_falls_back_alike(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On SQLite with the C kernels each batch comes packed; rows, keys (a customer without
    one included) and batch bounds are what the ordinary read gives, which every batch the
    aggregate declines (and PostgreSQL) goes through."""
    prepare(stores, keyring, world, tmp_path)
    cats = ("identity", "contact", "preference", "sensitive")

    def read(uow: UnitOfWork, cache: Any, ds: Dataset) -> list[tuple[Any, Any]]:
        out = []
        for rows, keys in records._jobs(uow, cache, dataset=ds, cats=cats, size=5):
            if isinstance(rows, bytes):
                assert isinstance(keys, bytes)
                out.append(native_pack.unpack_rows(rows, keys))
            else:
                out.append((rows, keys))
        return out

    with stores.unit_of_work() as uow:
        ds = uow.records.scalars(select(Dataset)).one()
        cache = records._KeyCache(uow, keyring, dataset=ds)
        cache.ids = cache.ids.copy()
        cache.ids[0] = -1  # its customer's key is gone (shredded meanwhile)
        first = next(records._jobs(uow, cache, dataset=ds, cats=cats, size=5))
        assert isinstance(first[0], bytes) == (backend == "sqlite" and native.NATIVE)
        packed = read(uow, cache, ds)
        declined = iter([True, False, True])
        real = records._read_pack
        monkeypatch.setattr(
            records, "_read_pack", lambda s, q: None if next(declined, True) else real(s, q)
        )
        mixed = read(uow, cache, ds)
        monkeypatch.setattr(records, "_read_pack", lambda s, q: None)
        plain = read(uow, cache, ds)
    assert [len(r) for r, _ in plain] == [5, 5, 2]
    assert packed == mixed == plain
    assert sum(k is None for _, keys in plain for k in keys) == 1
