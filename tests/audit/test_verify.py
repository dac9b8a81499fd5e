"""The streaming verifier's tree (Frontier) against the reference RFC 9162 definition."""

from __future__ import annotations

import hashlib

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.audit.merkle import root_from_leaves
from dealvault.audit.service import _json_canonical, canonical_json
from dealvault.audit.verify import Frontier


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=1500), cuts=st.lists(st.integers(1, 400), max_size=8)
)
def test_frontier_roots_match_the_reference(size: int, cuts: list[int]) -> None:
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(size)]
    f = Frontier()
    pos = 0
    for cut in cuts:  # mixed bulk extends and single pushes, as verification does
        f.extend(leaves[pos : pos + cut])
        pos = min(size, pos + cut)
        assert f.root() == root_from_leaves(leaves[:pos])
    for leaf in leaves[pos:]:
        f.push(leaf)
    assert f.size == size and f.root() == root_from_leaves(leaves)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", max_size=8), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    doc=st.dictionaries(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", max_size=8), json_values)
)
def test_fast_canonical_json_is_rfc8785(doc: dict[str, object]) -> None:
    assert canonical_json(doc) == bytes(rfc8785.dumps(doc)) == _json_canonical(doc)


def test_canonical_json_takes_what_orjson_refuses_through_json() -> None:
    doc = {"b": 2**70, "a": "\u00e9\x1f"}  # beyond 64 bits: orjson refuses it
    assert canonical_json(doc) == b'{"a":"\xc3\xa9\\u001f","b":' + str(2**70).encode() + b"}"
