"""C2SP tlog-checkpoint: the signed tree head, its note signatures and witness cosignatures."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from dealvault.audit.merkle import HASH_SIZE
from dealvault.audit.note import (
    SIG_COSIGNATURE_V1,
    SignatureCheck,
    SignatureStatus,
    Signer,
    Verifier,
    add_signatures,
    b64decode_strict,
    open_note,
    parse_note,
    sign,
)
from dealvault.errors import IntegrityError, Invalid

_DECIMAL: Final = re.compile(r"0|[1-9][0-9]*")


def _line_ok(line: str) -> bool:
    return bool(line) and not any(c < " " for c in line)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A Merkle tree head: log origin, tree size, root hash and optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not _line_ok(self.origin):
            raise Invalid("checkpoint origin must be one non-empty line")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0:
            raise Invalid("checkpoint size must be a non-negative integer")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise Invalid(f"checkpoint root must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple) or not all(
            isinstance(e, str) and _line_ok(e) for e in self.extensions
        ):
            raise Invalid("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        """The note text: origin, size, base64 root, extension lines; each ends in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))

    @classmethod
    def parse(cls, body: str | bytes) -> Checkpoint:
        """Parse a checkpoint note text (strictly: decimal without leading zeros, 32-byte root)."""
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid("checkpoint is not valid UTF-8") from None
        if not body.endswith("\n"):
            raise Invalid("checkpoint must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise Invalid("checkpoint needs origin, size and root lines")
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size):
            raise Invalid("checkpoint size is not a decimal without leading zeros")
        raw = b64decode_strict(root, "checkpoint root")
        return cls(origin, int(size), raw, tuple(extensions))


@dataclass(frozen=True, slots=True)
class OpenedCheckpoint:
    """A checkpoint whose log signature (and any required cosignatures) verified."""

    checkpoint: Checkpoint
    signatures: tuple[SignatureCheck, ...]
    """Every signature line's result (verified, or unknown key)."""
    cosignatures: tuple[SignatureCheck, ...]
    """The verified cosignatures by the given cosigner keys, each with its timestamp."""
    note: bytes


def sign_checkpoint(checkpoint: Checkpoint, *, signer: Signer) -> bytes:
    """The log's signed note for ``checkpoint``; the key name must equal the origin."""
    if signer.name != checkpoint.origin:
        raise Invalid("the log key name must match the checkpoint origin")
    return sign(checkpoint.body(), [signer])


def cosign_checkpoint(
    note: bytes | str, *, cosigner: Signer, log_verifier: Verifier, timestamp: int | None = None
) -> bytes:
    """Add a tlog-cosignature/v1 line after checking the log's own signature.

    The cosigner states that, at ``timestamp``, this is the largest consistent tree head it
    has seen for the origin; checking consistency with its earlier view is the caller's job.
    """
    if cosigner.sig_type != SIG_COSIGNATURE_V1:
        raise Invalid("cosigning needs a type 0x04 (cosignature/v1) key")
    open_checkpoint(note, log_verifier=log_verifier)
    return add_signatures(note, [cosigner], timestamp=timestamp)


def open_checkpoint(
    note: bytes | str,
    *,
    log_verifier: Verifier,
    cosigners: Sequence[Verifier] = (),
    min_cosignatures: int = 0,
    origin: str | None = None,
) -> OpenedCheckpoint:
    """Verify a signed checkpoint.

    Requires: a valid signature by ``log_verifier``; the origin equal to ``origin`` (default:
    the log key's name); no failing signature from any known key (the spec's SHOULD-reject);
    at least ``min_cosignatures`` valid cosignatures from distinct ``cosigners``.
    """
    if any(c.sig_type != SIG_COSIGNATURE_V1 for c in cosigners):
        raise Invalid("cosigner keys must be type 0x04 (cosignature/v1)")
    if min_cosignatures < 0 or min_cosignatures > len({(c.name, c.key_id) for c in cosigners}):
        raise Invalid("more cosignatures required than cosigner keys given")
    try:
        text, checks = open_note(note, [log_verifier, *cosigners])
    except IntegrityError:
        raise IntegrityError("checkpoint has no valid signature from a known key") from None
    checkpoint = Checkpoint.parse(text)
    expected = log_verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise IntegrityError("checkpoint origin is not the expected log")
    bad = [c for c in checks if c.status is SignatureStatus.BAD]
    if bad:
        raise IntegrityError(f"checkpoint carries an invalid signature by {bad[0].name}")
    log_ok = any(
        c.status is SignatureStatus.VERIFIED
        and (c.name, c.key_id) == (log_verifier.name, log_verifier.key_id)
        for c in checks
    )
    if not log_ok:
        raise IntegrityError("checkpoint is not signed by the log key")
    wanted = {(c.name, c.key_id) for c in cosigners}
    cosigned = tuple(
        c for c in checks if c.status is SignatureStatus.VERIFIED and (c.name, c.key_id) in wanted
    )
    if len(cosigned) < min_cosignatures:
        raise IntegrityError("checkpoint has too few valid cosignatures")
    raw = note.encode("utf-8") if isinstance(note, str) else bytes(note)
    return OpenedCheckpoint(checkpoint, tuple(checks), cosigned, raw)


def checkpoint_of(note: bytes | str) -> Checkpoint:
    """The checkpoint in a signed note, WITHOUT checking any signature (for building proofs)."""
    text, _ = parse_note(note)
    return Checkpoint.parse(text)
