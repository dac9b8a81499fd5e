"""The import's Bloom filter over blind indexes: no false misses, few false hits, and a
binary column gives the same filter as a list."""

from __future__ import annotations

import random

import polars as pl

from dealvault.vault.seen import SeenFilter


def _values(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(16) for _ in range(n)]


def test_every_added_value_is_found_and_few_others_are() -> None:
    f = SeenFilter(bits=1 << 20)
    added = _values(20_000, 1)
    f.add(added[:10_000])
    f.add(pl.Series(added[10_000:], dtype=pl.Binary))
    assert f.added == 20_000
    assert f.might_contain(added).all()  # a miss is certain
    # 20k values in 2**20 bits with three bits each in one word: about 1% false hits
    assert f.might_contain(_values(20_000, 2)).mean() < 0.03


def test_a_column_fills_the_filter_like_a_list_and_nulls_are_never_contained() -> None:
    values: list[bytes | None] = [*_values(1000, 3), None, None]
    by_list, by_column = SeenFilter(bits=1 << 16), SeenFilter(bits=1 << 16)
    by_list.add(values)
    column = pl.concat([pl.Series(values, dtype=pl.Binary)] * 2).slice(1000, 1002)
    by_column.add(pl.Series(values, dtype=pl.Binary))
    assert (by_list._words == by_column._words).all()
    assert by_column.added == 1000
    assert list(by_list.might_contain([None])) == [False]
    # a sliced column (its buffers start mid-way) reads the right values
    sliced = SeenFilter(bits=1 << 16)
    sliced.add(column)
    assert sliced.added == 1000 and (sliced._words == by_list._words).all()


def test_values_of_another_length_fall_back_to_the_list_path() -> None:
    f = SeenFilter(bits=1 << 16)
    f.add(pl.Series([b"x" * 20, b"y" * 20], dtype=pl.Binary))  # first 16 bytes are used
    assert f.might_contain([b"x" * 16, b"y" * 16]).all()
