"""Check-digit helpers agree with python-stdnum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from dealvault.synth.idnumbers import (
    RIC_CHECK_CHARS,
    IntSet,
    first_duplicates,
    is_mainland_mobile,
    luhn_check_digit,
    luhn_check_index,
    ric_check_digit,
    ric_check_index,
)

digits17 = st.text(alphabet="0123456789", min_size=17, max_size=17)


@given(digits17)
def test_ric_check_digit_matches_stdnum(first17: str) -> None:
    assert ric_check_digit(first17) == ric.calc_check_digit(first17 + "0")


def test_ric_check_digit_known_value() -> None:
    # GB 11643 example number.
    assert ric_check_digit("11010519491231002") == "X"


def test_ric_check_digit_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="17 digits"):
        ric_check_digit("123")


@given(st.lists(st.integers(10**16, 10**17 - 1), min_size=1, max_size=50))
def test_vectorised_ric_matches_scalar(values: list[int]) -> None:
    got = ric_check_index(np.array(values, dtype=np.int64))
    assert [RIC_CHECK_CHARS[i] for i in got] == [ric_check_digit(str(v)) for v in values]


@given(st.text(alphabet="0123456789", min_size=1, max_size=18))
def test_luhn_check_digit_matches_stdnum(payload: str) -> None:
    assert luhn_check_digit(payload) == luhn.calc_check_digit(payload)
    assert luhn.is_valid(payload + luhn_check_digit(payload))


@given(st.lists(st.integers(0, 10**18 - 1), min_size=1, max_size=50))
def test_vectorised_luhn_matches_scalar(values: list[int]) -> None:
    got = luhn_check_index(np.array(values, dtype=np.int64))
    assert [str(d) for d in got] == [luhn_check_digit(str(v)) for v in values]


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("13812345678", True),
        ("+86 138 1234 5678", True),
        ("138-1234-5678", True),
        ("14912345678", False),
        ("19412345678", False),
        ("1381234567", False),
    ],
)
def test_is_mainland_mobile(number: str, ok: bool) -> None:
    assert is_mainland_mobile(number) is ok


@given(st.lists(st.lists(st.integers(0, 200), max_size=30), max_size=12))
def test_intset_matches_python_set(batches: list[list[int]]) -> None:
    seen: set[int] = set()
    ints = IntSet()
    for batch in batches:
        values = np.array(batch, dtype=np.int64)
        assert ints.contains(values).tolist() == [v in seen for v in batch]
        ints.add(values[~ints.contains(values)])
        seen.update(batch)
        assert len(ints) == len(seen)


def test_first_duplicates() -> None:
    values = np.array([5, 3, 5, 5, 3, 1], dtype=np.int64)
    assert first_duplicates(values).tolist() == [False, False, True, True, True, False]
