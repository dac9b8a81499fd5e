"""The read-ahead thread: order kept, errors re-raised in place, early exit stops the producer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from dealvault.errors import InputError
from dealvault.ingest.prefetch import prefetch


def test_items_come_in_order() -> None:
    assert list(prefetch(iter(range(100)), depth=2)) == list(range(100))


def test_an_error_is_raised_where_it_happened() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise InputError("ragged row", file="f.csv", row=3)

    got = []
    with pytest.raises(InputError, match=r"f\.csv, row 3"):
        for x in prefetch(items()):
            got.append(x)
    assert got == [1, 2]


def test_leaving_early_stops_the_producer() -> None:
    produced = []

    def items() -> Iterator[int]:
        for i in range(10_000):
            produced.append(i)
            yield i

    before = threading.active_count()
    for x in prefetch(items(), depth=1):
        if x == 3:
            break
    assert len(produced) < 10
    assert threading.active_count() == before
