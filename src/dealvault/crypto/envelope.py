"""The ciphertext envelope: version, algorithm, key id and version, nonce, ciphertext+tag."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dealvault.errors import IntegrityError

MAGIC = b"DV"
FORMAT_VERSION = 1
ALG_AES_256_GCM = 1
NONCE_LEN = 12
TAG_LEN = 16
_FIXED = struct.Struct(">2sBBB")  # magic, format version, algorithm id, key-id length
_KEYVER = struct.Struct(">I")
ALGORITHMS = {ALG_AES_256_GCM: "AES-256-GCM"}
__all__ = ["AESGCM", "Header", "Sealer", "open_envelope", "open_with", "opener", "parse", "seal"]


@dataclass(frozen=True, slots=True)
class Header:
    """The clear part of an envelope; it is authenticated as associated data."""

    algorithm: int
    key_id: str
    key_version: int

    def encode(self) -> bytes:
        kid = self.key_id.encode("ascii")
        if len(kid) > 255:
            raise ValueError("key id longer than 255 bytes")
        return (
            _FIXED.pack(MAGIC, FORMAT_VERSION, self.algorithm, len(kid))
            + kid
            + _KEYVER.pack(self.key_version)
        )


def parse(envelope: bytes) -> tuple[Header, bytes, bytes, bytes]:
    """Split an envelope into (header, header bytes, nonce, ciphertext+tag) or raise."""
    if len(envelope) < _FIXED.size:
        raise IntegrityError("ciphertext envelope is truncated")
    magic, version, alg, kid_len = _FIXED.unpack_from(envelope)
    if magic != MAGIC:
        raise IntegrityError("not a dealvault ciphertext envelope")
    if version != FORMAT_VERSION:
        raise IntegrityError(f"unsupported envelope format version {version}")
    if alg not in ALGORITHMS:
        raise IntegrityError(f"unsupported algorithm id {alg}")
    head_len = _FIXED.size + kid_len + _KEYVER.size
    if len(envelope) < head_len + NONCE_LEN + TAG_LEN:
        raise IntegrityError("ciphertext envelope is truncated")
    key_id = envelope[_FIXED.size : _FIXED.size + kid_len].decode("ascii", errors="replace")
    (key_version,) = _KEYVER.unpack_from(envelope, _FIXED.size + kid_len)
    head = envelope[:head_len]
    nonce = envelope[head_len : head_len + NONCE_LEN]
    return Header(alg, key_id, key_version), head, nonce, envelope[head_len + NONCE_LEN :]


class Sealer:
    """Encrypts many payloads under one key with one precomputed header (the hot path)."""

    __slots__ = ("_aead", "_head", "header")

    def __init__(self, key: bytes, header: Header) -> None:
        if len(key) != 32:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)
        self.header = header
        self._head = header.encode()

    def seal(self, plaintext: bytes, context: bytes, nonce: bytes | None = None) -> bytes:
        head = self._head
        n = os.urandom(NONCE_LEN) if nonce is None else nonce
        return head + n + self._aead.encrypt(n, plaintext, head + context)


def seal(key: bytes, header: Header, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt one payload; ``context`` binds it to its place (dataset, record, category...)."""
    return Sealer(key, header).seal(plaintext, context)


def open_envelope(key: bytes, envelope: bytes, context: bytes) -> bytes:
    """Decrypt one envelope or raise IntegrityError (tampered, moved or wrong key)."""
    _header, head, nonce, body = parse(envelope)
    try:
        return AESGCM(key).decrypt(nonce, body, head + context)
    except InvalidTag:
        raise IntegrityError(
            "ciphertext failed authentication (tampered, moved to another record, or wrong key)"
        ) from None


def opener(key: bytes) -> AESGCM:
    """A reusable AEAD object for opening many envelopes under one key."""
    return AESGCM(key)


def open_with(aead: AESGCM, envelope: bytes, context: bytes) -> bytes:
    _header, head, nonce, body = parse(envelope)
    try:
        return aead.decrypt(nonce, body, head + context)
    except InvalidTag:
        raise IntegrityError(
            "ciphertext failed authentication (tampered, moved to another record, or wrong key)"
        ) from None


def record_context(dataset_id: int, record_id: int, category: str, schema_version: int) -> bytes:
    """Associated data of a record payload: it cannot be moved to another record or category."""
    return b"rec|%d|%d|%s|%d" % (dataset_id, record_id, category.encode(), schema_version)


def child_context(dataset_id: int, child_id: int, record_id: int, category: str) -> bytes:
    return b"child|%d|%d|%d|%s" % (dataset_id, child_id, record_id, category.encode())


def key_block_context(dataset_id: int, version: int, block: int) -> bytes:
    return b"ckblock|%d|%d|%d" % (dataset_id, version, block)


def dataset_key_context(dataset_id: int, purpose: str, version: int) -> bytes:
    return b"dkey|%d|%s|%d" % (dataset_id, purpose.encode(), version)
