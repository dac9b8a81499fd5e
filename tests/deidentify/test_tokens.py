"""Per-recipient keyed tokens: deterministic per recipient, distinct across, resolvable."""

from __future__ import annotations

import os

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.deidentify.tokens import make_tokens, resolve_tokens, token_key
from dealvault.errors import Invalid

INDEX_KEY = bytes(range(32))
OTHER_INDEX_KEY = bytes(range(1, 33))


def key(recipient: int, index_key: bytes = INDEX_KEY) -> bytes:
    return token_key(index_key, recipient_id=recipient)


def test_token_keys_differ_per_recipient_and_index_key() -> None:
    keys = {key(r) for r in range(50)} | {key(r, OTHER_INDEX_KEY) for r in range(50)}
    assert len(keys) == 100
    assert all(len(k) == 32 for k in keys)
    assert key(7) == key(7)  # derived, not random


def test_token_key_refuses_short_index_key_and_negative_recipient() -> None:
    with pytest.raises(Invalid):
        token_key(b"short", recipient_id=1)
    with pytest.raises(Invalid):
        token_key(INDEX_KEY, recipient_id=-1)


def test_tokens_are_deterministic_hex_and_named() -> None:
    ids = np.arange(1000, dtype=np.int64)
    a = make_tokens(key(1), dataset_id=5, record_ids=ids)
    b = make_tokens(key(1), dataset_id=5, record_ids=pl.Series(ids))
    assert a.name == "token"
    assert a.dtype == pl.String
    assert a.to_list() == b.to_list()
    assert a.str.contains("^[0-9a-f]{32}$").all()
    assert a.n_unique() == 1000


def test_same_record_same_token_in_any_batch_order() -> None:
    ids = np.array([3, 1, 2, 1], dtype=np.int64)
    tokens = make_tokens(key(2), dataset_id=1, record_ids=ids).to_list()
    assert tokens[1] == tokens[3]
    single = make_tokens(key(2), dataset_id=1, record_ids=np.array([1], dtype=np.int64))
    assert single.item() == tokens[1]


def test_no_token_shared_between_recipients_or_datasets() -> None:
    ids = np.arange(10_000, dtype=np.int64)
    a = set(make_tokens(key(1), dataset_id=9, record_ids=ids).to_list())
    b = set(make_tokens(key(2), dataset_id=9, record_ids=ids).to_list())
    c = set(make_tokens(key(1), dataset_id=10, record_ids=ids).to_list())
    assert len(a) == len(b) == len(c) == 10_000
    assert not a & b
    assert not a & c


def test_round_trip_and_foreign_tokens_resolve_to_none() -> None:
    ids = np.array([0, 1, 42, 2**40, -7, 2**63 - 1], dtype=np.int64)
    tokens = make_tokens(key(3), dataset_id=77, record_ids=ids)
    assert resolve_tokens(key(3), dataset_id=77, tokens=tokens.to_list()) == ids.tolist()
    assert resolve_tokens(key(3), dataset_id=77, tokens=tokens) == ids.tolist()
    # another recipient's key, another dataset, another seller's index key
    assert resolve_tokens(key(4), dataset_id=77, tokens=tokens) == [None] * len(ids)
    assert resolve_tokens(key(3), dataset_id=78, tokens=tokens) == [None] * len(ids)
    foreign = key(3, OTHER_INDEX_KEY)
    assert resolve_tokens(foreign, dataset_id=77, tokens=tokens) == [None] * len(ids)


def test_mixed_batch_resolves_position_by_position() -> None:
    mine = make_tokens(key(1), dataset_id=2, record_ids=np.array([10, 11], dtype=np.int64))
    theirs = make_tokens(key(5), dataset_id=2, record_ids=np.array([10], dtype=np.int64))
    batch = [mine[0], theirs[0], "0" * 32, mine[1].upper()]
    assert resolve_tokens(key(1), dataset_id=2, tokens=batch) == [10, None, None, 11]


@settings(max_examples=50, deadline=None)
@given(garbage=st.binary(min_size=16, max_size=16))
def test_random_well_formed_tokens_never_raise(garbage: bytes) -> None:
    assert resolve_tokens(key(1), dataset_id=2, tokens=[garbage.hex()]) == [None]


@settings(max_examples=50, deadline=None)
@given(ids=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=50))
def test_round_trip_property(ids: list[int]) -> None:
    array = np.array(ids, dtype=np.int64)
    tokens = make_tokens(key(8), dataset_id=2**32 - 1, record_ids=array)
    assert resolve_tokens(key(8), dataset_id=2**32 - 1, tokens=tokens.to_list()) == ids


def test_empty_batches() -> None:
    empty = make_tokens(key(1), dataset_id=1, record_ids=np.array([], dtype=np.int64))
    assert empty.len() == 0
    assert empty.name == "token"
    assert resolve_tokens(key(1), dataset_id=1, tokens=[]) == []


@pytest.mark.parametrize(
    "bad",
    [
        "0" * 31,
        "0" * 33,
        "g" * 32,
        "",
        " " + "0" * 31,
        "０" * 32,  # full-width digits are not hex
    ],
)
def test_malformed_token_names_position_not_value(bad: str) -> None:
    good = make_tokens(key(1), dataset_id=1, record_ids=np.array([1], dtype=np.int64)).item()
    with pytest.raises(Invalid, match="position 1") as err:
        resolve_tokens(key(1), dataset_id=1, tokens=[good, bad, good])
    if bad:
        assert bad not in str(err.value)
    assert good not in str(err.value)


def test_null_or_non_string_tokens_are_invalid() -> None:
    with pytest.raises(Invalid, match="position 0"):
        resolve_tokens(key(1), dataset_id=1, tokens=pl.Series([None], dtype=pl.String))
    with pytest.raises(Invalid):
        resolve_tokens(key(1), dataset_id=1, tokens=[1234])  # type: ignore[list-item]


def test_bad_keys_and_ids() -> None:
    ids = np.array([1], dtype=np.int64)
    with pytest.raises(Invalid):
        make_tokens(os.urandom(16), dataset_id=1, record_ids=ids)
    with pytest.raises(Invalid):
        make_tokens(key(1), dataset_id=2**32, record_ids=ids)
    with pytest.raises(Invalid):
        make_tokens(key(1), dataset_id=-1, record_ids=ids)
    with pytest.raises(Invalid, match="position 1"):
        make_tokens(key(1), dataset_id=1, record_ids=pl.Series([1, None, 3]))
    with pytest.raises(Invalid):
        make_tokens(key(1), dataset_id=1, record_ids=pl.Series(["1"]))
    with pytest.raises(Invalid):
        make_tokens(key(1), dataset_id=1, record_ids=np.array([1.5]))  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        resolve_tokens(b"\x00" * 31, dataset_id=1, tokens=[])


def test_token_hides_sequential_ids() -> None:
    tokens = make_tokens(key(1), dataset_id=1, record_ids=np.arange(3, dtype=np.int64))
    # consecutive records share no common prefix beyond chance
    prefixes = {t[:4] for t in tokens.to_list()}
    assert len(prefixes) == 3
