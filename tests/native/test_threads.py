"""Kernels in two threads give what one thread gives; a list changed by another thread while
a kernel runs (the GIL is released) cannot make it read freed memory."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from hashlib import sha256
from typing import Any, TypeVar, overload

from dealvault import native
from tests.native.support import HEAD, POSTS, PREFIX, batch, key_list, need_c, rows_of

N = 6000
T = TypeVar("T")


def _twice(fn: Callable[[], T]) -> tuple[T, T]:
    """``fn`` run in two threads at once."""
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(fn), pool.submit(fn)
        return a.result(), b.result()


def test_sealing_and_opening_in_two_threads_give_the_same_bytes() -> None:
    c = need_c()
    batches = [batch(N, start=1 + k * N) for k in range(2)]
    args = [(keys, HEAD, PREFIX, 1 + k * N, POSTS, cols, nonces)
            for k, (keys, cols, nonces) in enumerate(batches)]  # fmt: skip
    alone = [c.seal_rows(*a) for a in args]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda a: c.seal_rows(*a), args * 2))
    assert together == alone * 2
    assert alone[0] == native.seal_rows_py(*args[0])
    opens = [(rows_of(1 + k * N, alone[k], N), key_list(batches[k][0]), PREFIX, POSTS)
             for k in range(2)]  # fmt: skip
    single = [c.open_rows(*o) for o in opens]
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda o: c.open_rows(*o), opens * 2))
    assert both == single * 2
    assert [s[2] for s in single] == [b[1] for b in batches] and single[0][4] == []


def test_hashing_and_blinding_in_two_threads_give_the_same_bytes() -> None:
    c = need_c()
    items = [b"event %d" % i * 3 for i in range(4 * N)]
    values: list[str | None] = [f"+86139{i:08d}" for i in range(4 * N)]
    leaves = native.leaf_hashes_py(items)
    assert _twice(lambda: c.leaf_hashes(items)) == (leaves, leaves)
    root = native.merkle_root_py(leaves)
    assert _twice(lambda: c.merkle_root(leaves)) == (root, root)
    blinds = native.blind_many_py(bytes(32), b"phone", values)
    assert _twice(lambda: c.blind_many(bytes(32), b"phone", values)) == (blinds, blinds)


class FreshCells(Sequence[Any]):
    """A row that gives out a new copy of a cell each time (as a row type computing its cells
    may), so nothing but the caller keeps that copy alive."""

    def __init__(self, cells: tuple[Any, ...]) -> None:
        self._cells = cells

    def __len__(self) -> int:
        return len(self._cells)

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        v = self._cells[i]
        return bytes(bytearray(v)) if isinstance(v, bytes) else v

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


def test_rows_that_give_out_fresh_cells_open_like_tuples() -> None:
    """The kernel holds each envelope itself while it decrypts without the GIL."""
    c = need_c()
    keys, columns, nonces = batch(300)
    sealed = c.seal_rows(keys, HEAD, PREFIX, 1, POSTS, columns, nonces)
    rows = rows_of(1, sealed, 300)
    want = c.open_rows(rows, key_list(keys), PREFIX, POSTS)
    assert want[4] == [] and want[2] == columns
    assert c.open_rows([FreshCells(tuple(r)) for r in rows], key_list(keys), PREFIX, POSTS) == want


class Clearing(FreshCells):
    """A row that empties the caller's lists when the kernel reads its cells (Python code
    runs inside the kernel there, and may change anything)."""

    def __init__(self, cells: tuple[Any, ...], lists: list[list[Any]]) -> None:
        super().__init__(cells)
        self._lists = lists

    def __getitem__(self, i: int | slice) -> Any:
        for emptied in self._lists:
            emptied.clear()
        return super().__getitem__(i)


def test_rows_and_keys_emptied_by_a_row_are_read_as_they_were() -> None:
    """The kernel reads its own tuple of the rows and keys, not the lists it was given."""
    c = need_c()
    keys, columns, nonces = batch(50)
    rows = rows_of(1, c.seal_rows(keys, HEAD, PREFIX, 1, POSTS, columns, nonces), 50)
    want = c.open_rows(list(rows), key_list(keys), PREFIX, POSTS)
    given_rows, given_keys = list(rows), key_list(keys)
    given_rows[0] = Clearing(tuple(rows[0]), [given_rows, given_keys])
    assert c.open_rows(given_rows, given_keys, PREFIX, POSTS) == want
    assert given_rows == [] and given_keys == []


def _copy(v: Any) -> Any:
    """An equal value in a new object."""
    if isinstance(v, bytes):
        return bytes(bytearray(v))
    if isinstance(v, str):
        return v.encode().decode()
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def _race(kernel: Callable[[list[Any]], T], items: list[Any], rounds: int = 3) -> None:
    """Run ``kernel`` on a list while another thread replaces its items by equal copies (the
    items it replaces are freed): the result is always the one of the list as it was."""
    want = kernel(list(items))
    for _ in range(rounds):
        go = threading.Event()

        def replace(go: threading.Event) -> None:
            go.wait()
            for k in range(len(items)):
                items[k] = _copy(items[k])

        t = threading.Thread(target=replace, args=(go,))
        t.start()
        go.set()
        got = kernel(items)
        t.join()
        assert got == want


def test_a_list_changed_during_the_call_is_read_as_it_was() -> None:
    c = need_c()
    n = 40_000
    blobs = [b"0" + sha256(b"%d" % k).digest() + b"%d" % k for k in range(n)]
    _race(c.leaf_hashes, blobs)
    _race(c.subject_digests, blobs)
    _race(lambda v: c.blind_many(bytes(32), b"p", v), [f"v{k:06d}" for k in range(n)])


def test_rows_and_columns_changed_during_the_call_are_read_as_they_were() -> None:
    c = need_c()
    keys, columns, nonces = batch(N)
    sealed = c.seal_rows(keys, HEAD, PREFIX, 1, POSTS, columns, nonces)
    _race(lambda cols: c.seal_rows(keys, HEAD, PREFIX, 1, POSTS, cols, nonces), columns)
    rows = [list(r) for r in rows_of(1, sealed, N)]
    _race(lambda rs: c.open_rows(rs, key_list(keys), PREFIX, POSTS), rows)
