"""Sealed rows are the envelope format: they open on the careful path, and each path opens
what the other sealed. Attacks through vault.opening.open_rows fail as the careful path says."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from dealvault import native
from dealvault.crypto import envelope as env
from dealvault.errors import IntegrityError
from dealvault.vault.opening import RecordLayout, open_rows
from tests.native.support import (
    CATS,
    DATASET,
    HEAD,
    POSTS,
    PREFIX,
    SCHEMA,
    C,
    batch,
    key_list,
    need_c,
    rows_of,
)

LAYOUT = RecordLayout(DATASET, SCHEMA, CATS)
START = 41
Sealer = Callable[..., list[list[bytes | None]]]


def _sealers() -> list[Any]:
    return [
        pytest.param(native.seal_rows_py, id="python"),
        pytest.param("c", id="c"),
    ]


def _sealer(which: object) -> Sealer:
    if which == "c":
        sealer: Sealer = need_c().seal_rows
        return sealer
    assert callable(which)
    return which


@pytest.mark.parametrize("which", _sealers())
def test_a_sealed_row_opens_with_open_envelope_and_the_record_context(which: object) -> None:
    keys, columns, nonces = batch(6, start=START)
    sealed = _sealer(which)(keys, HEAD, PREFIX, START, POSTS, columns, nonces)
    for j, cat in enumerate(CATS):
        for i in range(6):
            blob, want = sealed[j][i], columns[j][i]
            if want is None:
                assert blob is None
                continue
            assert blob is not None and blob.startswith(HEAD)
            assert blob[len(HEAD) : len(HEAD) + 12] == nonces[12 * (4 * i + j) :][:12]
            ctx = env.record_context(DATASET, START + i, cat, SCHEMA)
            assert env.open_envelope(keys[32 * i : 32 * i + 32], blob, ctx) == want
            assert want.decode() not in repr(blob)  # nothing in the clear


def test_c_and_python_sealing_are_the_same_envelopes() -> None:
    c = need_c()
    keys, columns, nonces = batch(50, start=START)
    args = (keys, HEAD, PREFIX, START, POSTS, columns, nonces)
    assert c.seal_rows(*args) == native.seal_rows_py(*args)


@pytest.mark.parametrize("sealed_by", _sealers())
@pytest.mark.parametrize("opened_by", ["python", "c"])
def test_each_path_opens_what_the_other_sealed(sealed_by: object, opened_by: str) -> None:
    keys, columns, nonces = batch(30, start=START)
    sealed = _sealer(sealed_by)(keys, HEAD, PREFIX, START, POSTS, columns, nonces)
    opener = native.open_rows_py if opened_by == "python" else need_c().open_rows
    rows = rows_of(START, sealed, 30)
    ids, subjects, payloads, skipped, failures = opener(rows, key_list(keys), PREFIX, POSTS)
    assert ids == list(range(START, START + 30)) and subjects == [r[1] for r in rows]
    assert payloads == columns and skipped == 0 and failures == []


def test_envelopes_sealed_one_by_one_open_in_the_batch_kernel() -> None:
    """The envelope module's own Sealer (used for updates) and the batch kernel agree."""
    c = need_c()
    key = bytes(range(32))
    sealer = env.Sealer(key, env.Header(env.ALG_AES_256_GCM, "ck", 3))
    blobs = [sealer.seal(b'{"a":"%d"}' % j, env.record_context(DATASET, 9, cat, SCHEMA))
             for j, cat in enumerate(CATS)]  # fmt: skip
    got = c.open_rows([(9, "s9", *blobs)], [key], PREFIX, POSTS)
    assert got[2] == [[b'{"a":"%d"}' % j] for j in range(4)] and got[4] == []


# -- attacks, through the public vault.opening.open_rows ---------------------------------------


def _customers(n: int = 3) -> tuple[list[Sequence[Any]], list[bytes | None]]:
    keys, _columns, nonces = batch(n, start=START)
    columns: list[list[bytes | None]] = [
        [json.dumps({"f": f"{c}-{i}"}).encode() for i in range(n)] for c in CATS
    ]
    sealed = native.seal_rows(keys, HEAD, PREFIX, START, POSTS, columns, nonces)
    return rows_of(START, sealed, n), key_list(keys)


def _flip(at: int) -> Callable[[bytes], bytes]:
    def spoil(blob: bytes) -> bytes:
        k = at if at >= 0 else len(blob) + at
        return blob[:k] + bytes([blob[k] ^ 0x01]) + blob[k + 1 :]

    return spoil


#: both ways of opening a batch: the Python twin, and the C kernel when it is built
OPENERS: list[Callable[..., Any]] = [native.open_rows_py] + ([] if C is None else [C.open_rows])
HL = len(HEAD)
AUTH = "ciphertext failed authentication"
ATTACKS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "ciphertext": (_flip(HL + 12 + 2), AUTH),
    "tag": (_flip(-1), AUTH),
    "nonce": (_flip(HL + 3), AUTH),
    "magic": (_flip(0), "not a dealvault ciphertext envelope"),
    "format version": (_flip(2), "unsupported envelope format version"),
    "algorithm": (_flip(3), "unsupported algorithm id"),
    "key id length": (_flip(4), AUTH),
    "key id": (_flip(5), AUTH),
    "key version": (_flip(HL - 1), AUTH),
    "truncated to its header": (lambda b: b[: HL + 12 + 15], "ciphertext envelope is truncated"),
    "truncated to 4 bytes": (lambda b: b[:4], "ciphertext envelope is truncated"),
    "cut short by a byte": (lambda b: b[:-1], AUTH),
    "not an envelope": (lambda b: b"plain text, not sealed at all", "not a dealvault"),
    "empty": (lambda b: b"", "ciphertext envelope is truncated"),
}


def _careful(key: bytes | None, blob: bytes, record_id: int, cat: str) -> str:
    """The careful path's message for this envelope in this place."""
    assert key is not None
    with pytest.raises(IntegrityError) as err:
        env.open_envelope(key, blob, env.record_context(DATASET, record_id, cat, SCHEMA))
    return str(err.value)


@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("column", [0, 3])
def test_a_spoiled_envelope_is_refused_with_the_careful_paths_message(
    name: str, column: int
) -> None:
    rows, keys = _customers()
    spoil, expect = ATTACKS[name]
    row = list(rows[1])
    row[2 + column] = spoil(row[2 + column])
    rows[1] = tuple(row)
    want = _careful(keys[1], row[2 + column], START + 1, CATS[column])
    assert expect in want
    with pytest.raises(IntegrityError) as err:
        open_rows(LAYOUT, rows, keys)
    assert str(err.value) == want
    # what the kernels say: that one envelope failed, its payload is withheld
    for opener in OPENERS:
        _ids, _s, payloads, skipped, failures = opener(list(rows), list(keys), PREFIX, POSTS)
        assert failures == [(1, column, 1)] and skipped == 0
        assert payloads[column][1] is None
        assert payloads[column][0] is not None and payloads[column][2] is not None


def test_an_envelope_moved_to_another_record_is_refused() -> None:
    rows, keys = _customers()
    moved = (rows[2][0], rows[2][1], *rows[1][2:])  # customer 1's envelopes in 2's place
    keys[2] = keys[1]  # even with the key they were sealed under
    with pytest.raises(IntegrityError, match=AUTH):
        open_rows(LAYOUT, [rows[0], rows[1], moved], keys)
    assert native.open_rows([moved], [keys[1]], PREFIX, POSTS)[4] == [(0, j, 0) for j in range(4)]


def test_an_envelope_moved_to_another_category_column_is_refused() -> None:
    rows, keys = _customers()
    swapped = (rows[0][0], rows[0][1], rows[0][3], rows[0][2], *rows[0][4:])
    with pytest.raises(IntegrityError, match=AUTH):
        open_rows(LAYOUT, [swapped], keys[:1])
    assert native.open_rows([swapped], keys[:1], PREFIX, POSTS)[4] == [(0, 0, 0), (0, 1, 0)]


def test_an_envelope_under_another_dataset_or_schema_version_is_refused() -> None:
    rows, keys = _customers(1)
    for layout in (
        RecordLayout(DATASET + 1, SCHEMA, CATS),
        RecordLayout(DATASET, SCHEMA + 1, CATS),
    ):
        with pytest.raises(IntegrityError, match=AUTH):
            open_rows(layout, rows, keys)


def test_a_wrong_key_is_refused() -> None:
    rows, keys = _customers()
    keys[0] = bytes(32)
    with pytest.raises(IntegrityError, match=AUTH):
        open_rows(LAYOUT, rows, keys)
    failures = native.open_rows(rows, keys, PREFIX, POSTS)[4]
    assert failures == [(0, j, 0) for j in range(4)]


def test_a_row_without_a_key_is_skipped_and_counted() -> None:
    rows, keys = _customers(4)
    keys[0] = keys[2] = None  # shredded meanwhile
    rows[2] = (rows[2][0], rows[2][1], b"garbage", None, None, None)  # never looked at
    opened = open_rows(LAYOUT, rows, keys)
    assert opened.skipped == 2 and opened.ids == [START + 1, START + 3]
    assert opened.subjects == [rows[1][1], rows[3][1]]
    assert opened.payloads[0] == [b'{"f": "identity-1"}', b'{"f": "identity-3"}']


def test_a_failure_names_its_row_among_skipped_ones() -> None:
    """failures are (opened row, column, given row): they differ once a row was skipped."""
    rows, keys = _customers(4)
    keys[0] = None
    rows[2] = (rows[2][0], rows[2][1], rows[2][2], b"DV\x01\x01\x02ck" + bytes(40), *rows[2][4:])
    for opener in OPENERS:
        ids, _s, payloads, skipped, failures = opener(rows, keys, PREFIX, POSTS)
        assert ids == [START + 1, START + 2, START + 3] and skipped == 1
        assert failures == [(1, 1, 2)] and payloads[1][1] is None
    with pytest.raises(IntegrityError, match=AUTH):
        open_rows(LAYOUT, rows, keys)


def test_a_row_of_another_key_id_opens_on_the_careful_path() -> None:
    """An envelope under another header (an older key id) is not a failure."""
    key = bytes(range(32))
    head = env.Header(env.ALG_AES_256_GCM, "legacy-key", 7)
    blob = env.seal(key, head, b'{"f":"x"}', env.record_context(DATASET, 5, "contact", SCHEMA))
    opened = open_rows(LAYOUT, [(5, "s5", None, blob, None, None)], [key])
    assert opened.payloads[1] == [b'{"f":"x"}'] and opened.payloads[0] == [None]
