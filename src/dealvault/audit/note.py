"""C2SP signed notes with Ed25519 (type 0x01) and tlog-cosignature/v1 (type 0x04) signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from dealvault.errors import IntegrityError, Invalid

SIG_ED25519: Final = 0x01
"""Plain Ed25519 note signature over the note text (c2sp.org/signed-note)."""
SIG_COSIGNATURE_V1: Final = 0x04
"""Timestamped Ed25519 cosignature (c2sp.org/tlog-cosignature)."""
MAX_SIGNATURES: Final = 100
"""Notes with more signature lines are rejected (the spec requires accepting at least 16)."""
MAX_TIMESTAMP: Final = 2**63 - 1

_SUPPORTED: Final = frozenset({SIG_ED25519, SIG_COSIGNATURE_V1})
_SIG_PREFIX: Final = "\u2014 "  # em dash, space
_HEX8: Final = re.compile(r"[0-9a-fA-F]{8}")
_COSIG_HEADER: Final = b"cosignature/v1\ntime %d\n"


class SignatureStatus(StrEnum):
    VERIFIED = "verified"
    UNKNOWN = "unknown"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One parsed signature line: key name, 32-bit key ID and the signature bytes after it."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        blob = struct.pack(">I", self.key_id) + self.signature
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What ``open_note`` found for one signature line."""

    name: str
    key_id: int
    status: SignatureStatus
    sig_type: int | None = None
    """Signature type of the matching verifier; None for unknown keys."""
    timestamp: int | None = None
    """Cosignature time (Unix seconds) of a verified type-0x04 signature."""


def validate_key_name(name: str) -> None:
    """Key names are non-empty and contain no Unicode space and no '+'."""
    if not isinstance(name, str) or not name or "+" in name:
        raise Invalid("key name must be non-empty and contain no '+'")
    if any(c.isspace() or c < " " for c in name):
        raise Invalid("key name must not contain spaces or control characters")


def key_id(*, name: str, sig_type: int, public_key: bytes) -> int:
    """First 4 bytes (big-endian) of SHA-256(name || 0x0A || sig_type || public_key)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def b64decode_strict(text: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4): padding required, canonical encoding only."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise Invalid(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise Invalid(f"{what} is not canonical base64")
    return raw


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _cosigned_message(text: bytes, timestamp: int) -> bytes:
    return _COSIG_HEADER % timestamp + text


class Verifier:
    """A public key that checks note signatures of one (name, key ID)."""

    __slots__ = ("_key", "key_id", "name", "public_key", "sig_type")

    def __init__(self, *, name: str, public_key: bytes, sig_type: int = SIG_ED25519) -> None:
        validate_key_name(name)
        if sig_type not in _SUPPORTED:
            raise Invalid(f"unsupported signature type 0x{sig_type:02x}")
        if len(public_key) != 32:
            raise Invalid("Ed25519 public keys are 32 bytes")
        self.name = name
        self.sig_type = sig_type
        self.public_key = bytes(public_key)
        self.key_id = key_id(name=name, sig_type=sig_type, public_key=self.public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)

    @classmethod
    def from_key(cls, key: str) -> Verifier:
        """Parse a verifier key ``<name>+<hex key ID>+<base64(type || public key)>``."""
        parts = key.split("+", 2)
        if len(parts) != 3 or not _HEX8.fullmatch(parts[1]):
            raise Invalid("malformed verifier key")
        name, hex_id, b64 = parts
        raw = b64decode_strict(b64, "verifier key")
        if len(raw) != 33:
            raise Invalid("malformed verifier key")
        verifier = cls(name=name, public_key=raw[1:], sig_type=raw[0])
        if verifier.key_id != int(hex_id, 16):
            raise Invalid("verifier key ID does not match its key")
        return verifier

    def key_string(self) -> str:
        blob = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{blob}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Check a signature (the bytes after the key ID) over the note text."""
        if self.sig_type == SIG_COSIGNATURE_V1:
            if len(signature) != 72:
                return False
            (timestamp,) = struct.unpack(">Q", signature[:8])
            if timestamp > MAX_TIMESTAMP:
                return False
            message, signature = _cosigned_message(text, timestamp), signature[8:]
        else:
            if len(signature) != 64:
                return False
            message = text
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Verifier({self.key_string()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return (self.name, self.sig_type, self.public_key) == (
            other.name,
            other.sig_type,
            other.public_key,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.sig_type, self.public_key))


class Signer:
    """A private Ed25519 key that signs notes under one (name, key ID); never shown in repr."""

    __slots__ = ("_key", "key_id", "name", "sig_type")

    def __init__(self, *, name: str, seed: bytes, sig_type: int = SIG_ED25519) -> None:
        validate_key_name(name)
        if sig_type not in _SUPPORTED:
            raise Invalid(f"unsupported signature type 0x{sig_type:02x}")
        if len(seed) != 32:
            raise Invalid("Ed25519 seeds are 32 bytes")
        self.name = name
        self.sig_type = sig_type
        self._key = Ed25519PrivateKey.from_private_bytes(bytes(seed))
        public = _raw_public(self._key.public_key())
        self.key_id = key_id(name=name, sig_type=sig_type, public_key=public)

    @classmethod
    def from_key(cls, key: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>``."""
        parts = key.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _HEX8.fullmatch(parts[3]):
            raise Invalid("malformed signer key")
        raw = b64decode_strict(parts[4], "signer key")
        if len(raw) != 33:
            raise Invalid("malformed signer key")
        signer = cls(name=parts[2], seed=raw[1:], sig_type=raw[0])
        if signer.key_id != int(parts[3], 16):
            raise Invalid("signer key ID does not match its key")
        return signer

    def seed(self) -> bytes:
        """The 32-byte private seed (to wrap it in a key store); keep it secret."""
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def key_string(self) -> str:
        """The secret signer key string; keep it secret."""
        blob = base64.b64encode(bytes([self.sig_type]) + self.seed()).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{blob}"

    def verifier(self) -> Verifier:
        public = _raw_public(self._key.public_key())
        return Verifier(name=self.name, public_key=public, sig_type=self.sig_type)

    def sign(self, text: bytes, *, timestamp: int | None = None) -> bytes:
        """Signature bytes (without the key ID) over the note text.

        Type 0x04 returns timestamp (8 bytes, big-endian) || Ed25519 signature over
        ``cosignature/v1\\ntime <t>\\n`` || text; ``timestamp`` defaults to now.
        """
        if self.sig_type == SIG_COSIGNATURE_V1:
            t = int(time.time()) if timestamp is None else timestamp
            if isinstance(t, bool) or not 0 <= t <= MAX_TIMESTAMP:
                raise Invalid("cosignature timestamp out of range")
            return struct.pack(">Q", t) + self._key.sign(_cosigned_message(text, t))
        return self._key.sign(text)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id:08x}, type=0x{self.sig_type:02x})"


def generate_signer(name: str, *, sig_type: int = SIG_ED25519) -> tuple[str, str]:
    """A new key pair as (signer key string, verifier key string)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    signer = Signer(name=name, seed=seed, sig_type=sig_type)
    return signer.key_string(), signer.verifier().key_string()


def cosignature_verifier_key(verifier_key: str) -> str:
    """Turn an Ed25519 (type 0x01) verifier key into the type 0x04 key of the same public key."""
    v = Verifier.from_key(verifier_key)
    return Verifier(name=v.name, public_key=v.public_key, sig_type=SIG_COSIGNATURE_V1).key_string()


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise Invalid("note text must end with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise Invalid("note contains a control character")


def _as_str(note: bytes | str) -> str:
    if isinstance(note, bytes):
        try:
            return note.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("note is not valid UTF-8") from None
    return note


def parse_note(note: bytes | str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, checking syntax only."""
    msg = _as_str(note)
    if any(c < " " and c != "\n" for c in msg):
        raise Invalid("note contains a control character")
    split = msg.rfind("\n\n")
    if split < 0:
        raise Invalid("note has no blank line before its signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block or not block.endswith("\n"):
        raise Invalid("note has no signature lines, or they do not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise Invalid("note has too many signatures")
    sigs: list[NoteSignature] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise Invalid("malformed signature line")
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not b64:
            raise Invalid("malformed signature line")
        validate_key_name(name)
        raw = b64decode_strict(b64, "signature")
        if len(raw) < 5:
            raise Invalid("signature too short")
        sigs.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text, sigs


def _unique_signers(signers: Sequence[Signer]) -> None:
    ids = [(s.name, s.key_id) for s in signers]
    if len(set(ids)) != len(ids):
        raise Invalid("the same key is given twice")


def sign(text: str, signers: Sequence[Signer], *, timestamp: int | None = None) -> bytes:
    """Sign ``text`` (ending in a newline) with every signer; ``timestamp`` is for cosigners."""
    if not signers:
        raise Invalid("at least one signer is needed")
    return _encode(text, [], signers, timestamp)


def add_signatures(
    note: bytes | str, signers: Sequence[Signer], *, timestamp: int | None = None
) -> bytes:
    """Cosign: keep the existing signature lines and append new ones.

    An existing line under the same (name, key ID) as a new signer is replaced, as Go's
    ``note.Sign`` does, so one key never appears twice.
    """
    text, existing = parse_note(note)
    return _encode(text, existing, signers, timestamp)


def _encode(
    text: str, existing: Sequence[NoteSignature], signers: Sequence[Signer], timestamp: int | None
) -> bytes:
    _check_text(text)
    _unique_signers(signers)
    raw_text = text.encode("utf-8")
    new = [NoteSignature(s.name, s.key_id, s.sign(raw_text, timestamp=timestamp)) for s in signers]
    replaced = {(s.name, s.key_id) for s in new}
    kept = [s for s in existing if (s.name, s.key_id) not in replaced]
    sigs = [*kept, *new]
    if len(sigs) > MAX_SIGNATURES:
        raise Invalid("note would have too many signatures")
    return (text + "\n" + "".join(s.line() for s in sigs)).encode("utf-8")


def open_note(note: bytes | str, verifiers: Sequence[Verifier]) -> tuple[str, list[SignatureCheck]]:
    """Parse a note and check each signature line against the known verifiers.

    Lines whose (name, key ID) match no verifier are ``unknown``; a matching line that fails
    is ``bad`` (reported, not raised: callers such as ``open_checkpoint`` decide). Exact
    duplicate lines are reported once. Raises Invalid for a malformed note and IntegrityError
    when no signature from a known key verifies.
    """
    text, sigs = parse_note(note)
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        other = known.setdefault((v.name, v.key_id), v)
        if other != v:
            raise Invalid(f"ambiguous verifier keys for {v.name}+{v.key_id:08x}")
    raw_text = text.encode("utf-8")
    results: list[SignatureCheck] = []
    seen: set[NoteSignature] = set()
    for sig in sigs:
        if sig in seen:
            continue
        seen.add(sig)
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            results.append(SignatureCheck(sig.name, sig.key_id, SignatureStatus.UNKNOWN))
        elif verifier.verify(raw_text, sig.signature):
            stamp = None
            if verifier.sig_type == SIG_COSIGNATURE_V1:
                stamp = int.from_bytes(sig.signature[:8], "big")
            status = SignatureStatus.VERIFIED
            results.append(SignatureCheck(sig.name, sig.key_id, status, verifier.sig_type, stamp))
        else:
            status = SignatureStatus.BAD
            results.append(SignatureCheck(sig.name, sig.key_id, status, verifier.sig_type))
    if not any(r.status is SignatureStatus.VERIFIED for r in results):
        raise IntegrityError("note has no valid signature from a known key")
    return text, results
