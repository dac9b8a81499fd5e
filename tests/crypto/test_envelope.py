"""Envelope round trips and tamper detection."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealvault.crypto import envelope as env
from dealvault.errors import IntegrityError

KEY = secrets.token_bytes(32)
HEAD = env.Header(env.ALG_AES_256_GCM, "ck", 1)


def test_round_trip_and_header_fields() -> None:
    ctx = env.record_context(1, 42, "contact", 1)
    blob = env.seal(KEY, HEAD, b'{"phone":"+8613800000000"}', ctx)
    assert env.open_envelope(KEY, blob, ctx) == b'{"phone":"+8613800000000"}'
    header, _, nonce, body = env.parse(blob)
    assert header == HEAD
    assert len(nonce) == env.NONCE_LEN
    assert len(body) == len(b'{"phone":"+8613800000000"}') + env.TAG_LEN


@given(st.binary(max_size=2000))
def test_round_trip_any_payload(payload: bytes) -> None:
    ctx = env.record_context(3, 7, "identity", 2)
    assert env.open_envelope(KEY, env.seal(KEY, HEAD, payload, ctx), ctx) == payload


def test_nonces_differ() -> None:
    ctx = env.record_context(1, 1, "identity", 1)
    assert env.seal(KEY, HEAD, b"x", ctx) != env.seal(KEY, HEAD, b"x", ctx)


@pytest.mark.parametrize("position", [0, 3, 8, 12, 20, -1])
def test_flipped_bit_anywhere_is_detected(position: int) -> None:
    ctx = env.record_context(1, 42, "contact", 1)
    blob = bytearray(env.seal(KEY, HEAD, b"payload", ctx))
    blob[position] ^= 0x01
    with pytest.raises(IntegrityError):
        env.open_envelope(KEY, bytes(blob), ctx)


def test_ciphertext_moved_to_another_record_fails() -> None:
    blob = env.seal(KEY, HEAD, b"payload", env.record_context(1, 42, "contact", 1))
    with pytest.raises(IntegrityError, match="moved to another record"):
        env.open_envelope(KEY, blob, env.record_context(1, 43, "contact", 1))


@pytest.mark.parametrize(
    "other",
    [
        env.record_context(2, 42, "contact", 1),  # other dataset
        env.record_context(1, 42, "identity", 1),  # other category
        env.record_context(1, 42, "contact", 2),  # other schema version
    ],
)
def test_wrong_associated_data_fails(other: bytes) -> None:
    blob = env.seal(KEY, HEAD, b"payload", env.record_context(1, 42, "contact", 1))
    with pytest.raises(IntegrityError):
        env.open_envelope(KEY, blob, other)


def test_wrong_key_fails() -> None:
    ctx = env.record_context(1, 1, "contact", 1)
    blob = env.seal(KEY, HEAD, b"payload", ctx)
    with pytest.raises(IntegrityError):
        env.open_envelope(secrets.token_bytes(32), blob, ctx)


def test_header_swap_is_detected() -> None:
    """A header rewritten to another key version is authenticated, so it fails."""
    ctx = env.record_context(1, 1, "contact", 1)
    blob = env.seal(KEY, HEAD, b"payload", ctx)
    forged = env.Header(env.ALG_AES_256_GCM, "ck", 2).encode() + blob[len(HEAD.encode()) :]
    with pytest.raises(IntegrityError):
        env.open_envelope(KEY, forged, ctx)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "truncated"),
        (b"XX\x01\x01\x00", "not a dealvault"),
        (b"DV\x09\x01\x00" + b"\x00" * 40, "format version"),
        (b"DV\x01\x09\x00" + b"\x00" * 40, "algorithm"),
        (b"DV\x01\x01\x02ck\x00\x00\x00\x01" + b"\x00" * 10, "truncated"),
    ],
)
def test_malformed_envelopes(blob: bytes, message: str) -> None:
    with pytest.raises(IntegrityError, match=message):
        env.open_envelope(KEY, blob, b"ctx")


def test_sealer_rejects_short_key() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        env.Sealer(b"short", HEAD)
