"""The package build's batch kernels against their Python twins and the general decoder."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault import native
from dealvault.errors import IntegrityError
from dealvault.transfer import manifest
from dealvault.vault import opening

FIELDS = ("name", "phone", "邮箱")
needs_c = pytest.mark.skipif(not native.NATIVE, reason="the C kernels are not built")


def polars_decode(payloads: list[bytes | None], fields: tuple[str, ...]) -> pl.DataFrame:
    """decode_payloads as it runs without the kernel (the general decoder)."""
    saved = native.NATIVE
    native.NATIVE = False
    try:
        return opening.decode_payloads(payloads, fields)
    finally:
        native.NATIVE = saved


def both(payloads: list[bytes | None]) -> native.DecodedColumns | None:
    """The kernel's answer, checked equal to the Python twin's."""
    ours = native.decode_objects_py(payloads, FIELDS)
    if native.NATIVE:
        assert native._C.decode_objects(payloads, FIELDS) == ours
    return ours


text = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["", "张三", '"\\/\b\n', "😀"]))
objects = st.dictionaries(st.sampled_from(FIELDS), text, max_size=3)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.one_of(st.none(), objects), max_size=20), ascii_only=st.booleans())
def test_kernel_and_twin_decode_objects_alike_and_as_polars_does(
    rows: list[dict[str, str | None] | None], ascii_only: bool
) -> None:
    payloads = [
        None if r is None else json.dumps(r, ensure_ascii=ascii_only).encode() for r in rows
    ]
    cols = both(payloads)
    assert cols is not None
    if not any(p is not None for p in payloads):
        return
    frame = opening.decode_payloads(payloads, FIELDS)
    expected = polars_decode(payloads, FIELDS)
    assert frame.schema == expected.schema and frame.equals(expected)
    for j, f in enumerate(FIELDS):
        assert frame.get_column(f).to_list() == [None if r is None else r.get(f) for r in rows]
        assert cols[j][3] == frame.get_column(f).null_count()


def test_escapes_surrogate_pairs_and_whitespace_are_decoded() -> None:
    payloads: list[bytes | None] = [
        b' { "name" : "q\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000" ,"phone":null} ',
        b'{"\\u006eame":"\xe5\xbc\xa0"}',
        None,
        b"{}",
    ]
    assert both(payloads) is not None
    frame = opening.decode_payloads(payloads, FIELDS)
    assert frame.get_column("name").to_list() == ['q"\\/\b\f\n\r\té😀\x00', "张", None, None]
    assert frame.equals(polars_decode(payloads, FIELDS))


@pytest.mark.parametrize(
    "payload",
    [
        b'{"name":1}',
        b'{"name":true}',
        b'{"name":["a"]}',
        b'{"name":"a","name":"b"}',
        b'{"other":"a"}',
        b'{"name":"\xff"}',
        b'{"name":"\xed\xa0\x80"}',
        b'{"name":"\\ud800"}',
        b'{"name":"\\udc00x"}',
        b'{"name":"\\x"}',
        b'{"name":"a\x01"}',
        b'{"name":"a"} x',
        b'{"name":"a",}',
        b'{"name" "a"}',
        b'{"name":"a"',
        b'["a"]',
        b"null",
        b"",
    ],
)
def test_anything_but_an_object_of_text_values_is_left_to_the_general_decoder(
    payload: bytes,
) -> None:
    assert both([b'{"name":"ok"}', payload]) is None


def test_a_value_under_an_unknown_key_is_an_integrity_error_on_both_paths() -> None:
    payloads: list[bytes | None] = [b'{"name":"a","stray":"a long value the dataset lacks"}']
    with pytest.raises(IntegrityError, match="stray"):
        opening.decode_payloads(payloads, FIELDS)
    with pytest.raises(IntegrityError, match="stray"):
        polars_decode(payloads, FIELDS)


def test_malformed_payloads_fail_as_the_general_decoder_fails() -> None:
    with pytest.raises(pl.exceptions.ComputeError):
        opening.decode_payloads([b'{"name":"a"'], FIELDS)


def test_only_null_payloads_give_an_empty_frame() -> None:
    assert opening.decode_payloads([None, None], FIELDS).shape == (0, 0)
    assert opening.decode_payloads([], FIELDS).shape == (0, 0)


@needs_c
def test_the_kernel_checks_its_arguments() -> None:
    with pytest.raises(TypeError):
        native._C.decode_objects([b"{}", "text"], FIELDS)
    with pytest.raises(TypeError):
        native._C.decode_objects([b"{}"], (b"name",))


def polars_hashes(frame: pl.DataFrame) -> list[bytes]:
    saved = native.NATIVE
    native.NATIVE = False
    try:
        return manifest.leaf_hashes(frame)
    finally:
        native.NATIVE = saved


def rfc8785_hashes(frame: pl.DataFrame) -> list[bytes]:
    return [
        hashlib.sha256(b"\x00" + bytes(rfc8785.dumps(row))).digest()
        for row in frame.rows(named=True)
    ]


values = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.sampled_from(["\x00\x01\x1f\x7f", '"\\/', "\b\f\n\r\t", "\u2028\u2029", "é😀", ""]),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(values, values, values), min_size=1, max_size=12),
    start=st.integers(min_value=0, max_value=3),
)
def test_record_hashes_are_rfc8785_leaf_hashes_on_every_path(
    rows: list[tuple[str | None, str | None, str | None]], start: int
) -> None:
    frame = pl.DataFrame(
        rows, schema={"subject_id": pl.String, "名字": pl.String, "b\n": pl.String}, orient="row"
    ).slice(min(start, len(rows) - 1))  # a slice: Arrow arrays with an offset
    expected = rfc8785_hashes(frame)
    assert manifest.leaf_hashes(frame) == expected
    assert polars_hashes(frame) == expected
    ordered = frame.select(sorted(frame.columns, key=manifest.jcs_key))
    columns = manifest._string_columns(ordered)
    assert native.record_hashes_py(frame.height, columns) == expected
    if native.NATIVE:
        assert native._C.record_hashes(frame.height, columns) == expected


def test_record_hashes_of_frames_with_other_types_take_the_polars_path() -> None:
    frame = pl.DataFrame({"subject_id": ["a"], "n": [None]})  # a column of type Null
    assert manifest.leaf_hashes(frame) == rfc8785_hashes(frame)


@needs_c
def test_record_hashes_refuses_columns_shorter_than_the_records() -> None:
    frame = pl.DataFrame({"subject_id": ["a", "b"]})
    columns = manifest._string_columns(frame)
    with pytest.raises(ValueError, match="shorter"):
        native._C.record_hashes(3, columns)
    key, _valid, _offsets, data, _ = columns[0]
    with pytest.raises(ValueError, match="backwards"):
        native._C.record_hashes(
            2, [(key, None, bytes(8) + (5).to_bytes(8, "little") + bytes(8), data, 0)]
        )
