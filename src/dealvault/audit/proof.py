"""C2SP tlog-proof: an offline-verifiable inclusion proof bundled with its signed checkpoint."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from dealvault.audit.checkpoint import Checkpoint, checkpoint_of, open_checkpoint
from dealvault.audit.merkle import HASH_SIZE, NodeStore, inclusion_proof, root_at
from dealvault.audit.merkle import leaf_hash as _hash_leaf
from dealvault.audit.merkle import verify_inclusion as _verify_inclusion
from dealvault.audit.note import SignatureCheck, Verifier, b64decode_strict
from dealvault.errors import IntegrityError, Invalid

PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
FILE_EXTENSION: Final = ".tlog-proof"
MAX_PATH: Final = 64
_INDEX: Final = re.compile(r"index (0|[1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class TlogProof:
    """A parsed proof; nothing in it is verified yet (``extra`` is never authenticated)."""

    index: int
    path: tuple[bytes, ...]
    checkpoint_note: bytes
    extra: bytes | None = None


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """The result of ``verify_proof``: the leaf is at ``index`` of the signed checkpoint."""

    index: int
    leaf_hash: bytes
    checkpoint: Checkpoint
    signatures: tuple[SignatureCheck, ...]
    cosignatures: tuple[SignatureCheck, ...]
    extra: bytes | None


def format_proof(
    *,
    index: int,
    path: Sequence[bytes],
    checkpoint_note: bytes | str,
    extra: bytes | None = None,
) -> bytes:
    """Header, optional ``extra`` line, ``index`` line, path hashes, blank line, checkpoint."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise Invalid("proof index must be a non-negative integer")
    if len(path) > MAX_PATH or any(len(h) != HASH_SIZE for h in path):
        raise Invalid(f"inclusion path must be at most {MAX_PATH} hashes of {HASH_SIZE} bytes")
    note = checkpoint_note.encode("utf-8") if isinstance(checkpoint_note, str) else checkpoint_note
    if not note.endswith(b"\n"):
        raise Invalid("checkpoint note must end with a newline")
    lines = [PROOF_HEADER]
    if extra is not None:
        lines.append("extra " + base64.b64encode(extra).decode("ascii"))
    lines.append(f"index {index}")
    lines.extend(base64.b64encode(h).decode("ascii") for h in path)
    return ("\n".join(lines) + "\n\n").encode("ascii") + note


def parse_proof(text: bytes | str) -> TlogProof:
    """Parse a proof strictly as c2sp.org/tlog-proof@v1 lays it out."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("proof is not valid UTF-8") from None
    lines = text.split("\n")
    if lines[0] != PROOF_HEADER:
        raise Invalid("not a c2sp.org/tlog-proof@v1 proof")
    pos = 1
    extra = None
    if len(lines) > pos and lines[pos].startswith("extra "):
        extra = b64decode_strict(lines[pos][len("extra ") :], "proof extra data")
        pos += 1
    match = _INDEX.fullmatch(lines[pos]) if len(lines) > pos else None
    if match is None:
        raise Invalid("proof lacks a well-formed index line")
    index = int(match.group(1))
    pos += 1
    path: list[bytes] = []
    while pos < len(lines) and lines[pos] != "":
        raw = b64decode_strict(lines[pos], "proof hash")
        if len(raw) != HASH_SIZE:
            raise Invalid(f"proof hashes must be {HASH_SIZE} bytes")
        path.append(raw)
        if len(path) > MAX_PATH:
            raise Invalid("proof has too many hashes")
        pos += 1
    if pos >= len(lines):
        raise Invalid("proof lacks the blank line before the checkpoint")
    note = "\n".join(lines[pos + 1 :])
    if not note:
        raise Invalid("proof lacks the checkpoint")
    return TlogProof(index, tuple(path), note.encode("utf-8"), extra)


def build_proof(
    store: NodeStore, *, index: int, checkpoint_note: bytes | str, extra: bytes | None = None
) -> bytes:
    """A proof for leaf ``index`` against a signed checkpoint of the log held in ``store``.

    Checks that the checkpoint's root is the stored tree's root at its size (IntegrityError).
    """
    checkpoint = checkpoint_of(checkpoint_note)
    if root_at(store, checkpoint.size) != checkpoint.root:
        raise IntegrityError("checkpoint root does not match the stored tree")
    path = inclusion_proof(store, index, checkpoint.size)
    return format_proof(index=index, path=path, checkpoint_note=checkpoint_note, extra=extra)


def verify_proof(
    *,
    proof_text: bytes | str,
    leaf_data: bytes | None = None,
    leaf_hash: bytes | None = None,
    log_verifier: Verifier,
    cosigners: Sequence[Verifier] = (),
    min_cosignatures: int = 0,
    origin: str | None = None,
) -> VerifiedProof:
    """Check the checkpoint's signatures (see ``open_checkpoint``) and the leaf's inclusion.

    Give the entry either as ``leaf_data`` (hashed as an RFC 9162 leaf) or as its
    ``leaf_hash``. The unauthenticated ``extra`` data is returned, never trusted.
    """
    if leaf_data is not None and leaf_hash is None:
        lh = _hash_leaf(leaf_data)
    elif leaf_hash is not None and leaf_data is None:
        lh = leaf_hash
    else:
        raise Invalid("give exactly one of leaf_data and leaf_hash")
    proof = parse_proof(proof_text)
    opened = open_checkpoint(
        proof.checkpoint_note,
        log_verifier=log_verifier,
        cosigners=cosigners,
        min_cosignatures=min_cosignatures,
        origin=origin,
    )
    cp = opened.checkpoint
    _verify_inclusion(leaf_hash=lh, index=proof.index, size=cp.size, path=proof.path, root=cp.root)
    return VerifiedProof(proof.index, lh, cp, opened.signatures, opened.cosignatures, proof.extra)
