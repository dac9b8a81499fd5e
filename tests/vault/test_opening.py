"""Bulk opening of customer envelopes: the fast path, the careful path and decoding."""

from __future__ import annotations

import json
import os

import pytest

from dealvault.crypto import envelope as env
from dealvault.errors import IntegrityError
from dealvault.vault.opening import (
    RecordLayout,
    decode_payloads,
    open_children,
    open_frame,
    open_rows,
)

CATS = ("identity", "contact")
FIELDS = (("name", "gender"), ("email",))
LAYOUT = RecordLayout(7, 1, CATS, FIELDS)


def seal(
    key: bytes, record_id: int, cat: str, value: dict[str, str | None], kid: str = "ck"
) -> bytes:
    payload = json.dumps(value, separators=(",", ":")).encode()
    header = env.Header(env.ALG_AES_256_GCM, kid, 1)
    return env.seal(key, header, payload, env.record_context(7, record_id, cat, 1))


def customer(record_id: int, *, kid: str = "ck") -> tuple[tuple[object, ...], bytes]:
    key = os.urandom(32)
    row = (
        record_id,
        f"s{record_id:04d}",
        seal(key, record_id, "identity", {"name": f"N{record_id}", "gender": None}, kid),
        None if record_id % 2 else seal(key, record_id, "contact", {"email": "a@x.example"}, kid),
    )
    return row, key


def test_open_rows_decrypts_skips_missing_keys_and_keeps_nulls() -> None:
    made = [customer(i) for i in range(1, 6)]
    rows = [r for r, _ in made]
    keys: list[bytes | None] = [k for _, k in made]
    keys[2] = None  # shredded meanwhile
    opened = open_rows(LAYOUT, rows, keys)
    assert opened.ids == [1, 2, 4, 5] and opened.skipped == 1
    assert opened.subjects == ["s0001", "s0002", "s0004", "s0005"]
    assert json.loads(opened.payloads[0][0] or b"") == {"name": "N1", "gender": None}
    assert opened.payloads[1] == [
        None,
        b'{"email":"a@x.example"}',
        b'{"email":"a@x.example"}',
        None,
    ]


def test_other_header_takes_the_careful_path() -> None:
    row, key = customer(2, kid="legacy")
    opened = open_rows(LAYOUT, [row], [key])
    assert opened.ids == [2] and opened.payloads[1][0] == b'{"email":"a@x.example"}'


@pytest.mark.parametrize(
    "spoil",
    [
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # tag
        lambda b: b[:30] + bytes([b[30] ^ 1]) + b[31:],  # ciphertext
        lambda b: b[:14] + bytes([b[14] ^ 1]) + b[15:],  # nonce
    ],
)
def test_a_tampered_envelope_is_refused(spoil: object) -> None:
    row, key = customer(2)
    bad = (row[0], row[1], row[2], spoil(row[3]))  # type: ignore[operator]
    with pytest.raises(IntegrityError, match="failed authentication"):
        open_rows(LAYOUT, [bad], [key])


def test_an_envelope_moved_to_another_record_is_refused() -> None:
    (row_a, key_a), (row_b, _key_b) = customer(2), customer(4)
    moved = (row_b[0], row_b[1], row_a[2], row_a[3])  # customer 2's envelopes under record 4
    with pytest.raises(IntegrityError):
        open_rows(LAYOUT, [moved], [key_a])


def test_a_truncated_envelope_is_named() -> None:
    row, key = customer(2)
    with pytest.raises(IntegrityError, match="truncated"):
        open_rows(LAYOUT, [(row[0], row[1], row[2][:10], None)], [key])


def test_open_frame_decodes_to_text_columns() -> None:
    made = [customer(i) for i in range(1, 4)]
    frame, skipped = open_frame(LAYOUT, [r for r, _ in made], [k for _, k in made])
    assert skipped == 0
    assert frame.columns == ["record_id", "subject_id", "name", "gender", "email"]
    assert frame.get_column("email").to_list() == [None, "a@x.example", None]


def test_decoding_with_fields_refuses_an_unlisted_key_and_allows_a_missing_one() -> None:
    good = [b'{"name":"A","gender":"F"}', b'{"name":"B"}', None]
    frame = decode_payloads(good, ["name", "gender"])
    assert frame.to_dicts() == [
        {"name": "A", "gender": "F"},
        {"name": "B", "gender": None},
        {"name": None, "gender": None},
    ]
    with pytest.raises(IntegrityError, match="'nickname'") as err:
        decode_payloads([b'{"name":"A","nickname":"secret-value"}'], ["name", "gender"])
    assert "secret-value" not in str(err.value)
    # written by another JSON encoder (spaces): a second pass, not a false alarm
    spaced = decode_payloads([b'{"name": "A", "gender": "F"}'], ["name", "gender"])
    assert spaced.to_dicts() == [{"name": "A", "gender": "F"}]


def _child(key: bytes, child_id: int, record_id: int, kid: str = "ck") -> tuple[object, ...]:
    header = env.Header(env.ALG_AES_256_GCM, kid, 1)
    blob = env.seal(key, header, b'{"amount":"12.50"}',
                    env.child_context(7, child_id, record_id, "transaction"))  # fmt: skip
    return (child_id, record_id, f"s{record_id:04d}", 1, "transaction", blob)


def test_open_children_decrypts_skips_missing_keys_and_takes_the_careful_path() -> None:
    k1, k2, k3 = os.urandom(32), os.urandom(32), os.urandom(32)
    rows = [_child(k1, 10, 1), _child(k1, 11, 1), _child(k2, 12, 2, kid="legacy"),
            _child(k3, 13, 3)]  # fmt: skip
    ids, subjects, payloads = open_children(7, rows, {1: k1, 2: k2})  # customer 3 shredded
    assert ids == [1, 1, 2] and subjects == ["s0001", "s0001", "s0002"]
    assert payloads == [b'{"amount":"12.50"}'] * 3


def test_a_tampered_or_moved_child_envelope_is_refused() -> None:
    key = os.urandom(32)
    row = _child(key, 10, 1)
    blob = row[5]
    assert isinstance(blob, bytes)
    spoiled = (*row[:5], blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(IntegrityError, match="failed authentication"):
        open_children(7, [spoiled], {1: key})
    moved = (11, *row[1:])  # another child's place
    with pytest.raises(IntegrityError):
        open_children(7, [moved], {1: key})
