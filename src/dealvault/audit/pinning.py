"""What a verifier brings from outside the log: the pinned log key, required witnesses, and
checkpoints kept elsewhere; parsed from command-line values and files with clear errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from dealvault.audit.checkpoint import checkpoint_of
from dealvault.audit.note import SIG_COSIGNATURE_V1, Verifier
from dealvault.audit.verify import Anchors, CheckpointIn
from dealvault.errors import Invalid


def _verifier(text: str, what: str) -> Verifier:
    try:
        return Verifier.from_key(text.strip())
    except Invalid as exc:
        raise Invalid(f"{what}: not a C2SP verifier key ({exc})") from None


def _file_text(path: Path, what: str) -> str:
    try:
        return path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise Invalid(f"{what} {path}: missing or not a text file") from None


def pinned_key(*, key: str | None, key_file: Path | None) -> Verifier | None:
    """The log's verifier key given on the command line or in a file (at most one of them)."""
    if key and key_file:
        raise Invalid("give the verifier key either as a value or as a file, not both")
    if key_file is not None:
        return _verifier(_file_text(key_file, "verifier key file"), f"verifier key file {key_file}")
    return None if not key else _verifier(key, "--verifier-key")


def anchors(
    *,
    verifier_key: str | None = None,
    verifier_key_file: Path | None = None,
    witnesses: Sequence[str] = (),
    witness_since: datetime | None = None,
    known_checkpoints: Sequence[Path] = (),
) -> Anchors:
    """Build :class:`Anchors`; witness keys must be cosignature/v1 (type 0x04) keys."""
    wits = []
    for i, text in enumerate(witnesses, start=1):
        w = _verifier(text, f"--witness {i}")
        if w.sig_type != SIG_COSIGNATURE_V1:
            raise Invalid(f"--witness {i}: not a cosignature/v1 (type 0x04) key")
        wits.append(w)
    if witness_since is not None and not wits:
        raise Invalid("--witness-since needs at least one --witness key")
    if witness_since is not None and witness_since.tzinfo is None:
        witness_since = witness_since.replace(tzinfo=UTC)
    known = []
    for path in known_checkpoints:
        try:
            note = path.read_bytes()
        except OSError:
            raise Invalid(f"checkpoint file {path}: missing or unreadable") from None
        try:
            size = checkpoint_of(note).size
        except Invalid as exc:
            raise Invalid(f"checkpoint file {path}: not a checkpoint note ({exc})") from None
        known.append(CheckpointIn(size, note, f"given {path.name}"))
    return Anchors(
        pinned=pinned_key(key=verifier_key, key_file=verifier_key_file),
        witnesses=tuple(dict.fromkeys(wits)),
        witness_since=witness_since,
        known=tuple(known),
    )
