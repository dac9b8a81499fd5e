"""The audit log's signing key, kept in the key store wrapped by the master key; the one-time
move of an older store's plain key file (``home/audit.key``) into it."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.audit.models import AuditKey
from dealvault.audit.note import SIG_ED25519, Signer, Verifier
from dealvault.crypto import signing_keys
from dealvault.crypto.keyring import KeyRing
from dealvault.db.stores import Stores
from dealvault.errors import Conflict, Invalid, KeyUnavailable
from dealvault.files import read_secret_text

PURPOSE = "audit-log"


@dataclass(frozen=True)
class LogKey:
    """The log's signing key and how it came to be in the key store."""

    signer: Signer
    how: str
    """``created``, ``imported`` (from a plain key file, which is then removed) or ``stored``."""
    plain_file: Path | None = None
    """The plain key file that now may be removed (same key as the wrapped one)."""


def read_plain_key(path: Path) -> Signer:
    """An older store's plain signer key file (``PRIVATE+KEY+...``)."""
    return Signer.from_key(read_signer_key(path, what="audit key file"))


def read_signer_key(path: Path, *, what: str) -> str:
    """The signed-note signer key (``PRIVATE+KEY+...``) a private key file holds; refused,
    naming the file, when it holds none."""
    text = read_secret_text(path, what=what, encoding="ascii").strip()
    try:
        Signer.from_key(text)
    except (ValueError, Invalid):
        raise KeyUnavailable(f"{what} {path} is not a signed-note signer key") from None
    return text


def stored_verifier(ks: Session) -> Verifier | None:
    """The log's public key from the key store, read without the master key."""
    row = signing_keys.find(ks, purpose=PURPOSE)
    return None if row is None else Verifier.from_key(row.verifier_key)


def load(ks: Session, keyring: KeyRing) -> Signer | None:
    """Unwrap the log's signing key (None when the key store holds none)."""
    row = signing_keys.find(ks, purpose=PURPOSE)
    if row is None:
        return None
    signer = Signer(name=row.name, seed=signing_keys.unwrap(keyring, row), sig_type=SIG_ED25519)
    if signer.verifier().key_string() != row.verifier_key:
        raise KeyUnavailable("the key store's audit log key does not match its public key")
    return signer


def _keep(ks: Session, keyring: KeyRing, signer: Signer) -> None:
    signing_keys.store(
        ks,
        keyring,
        name=signer.name,
        purpose=PURPOSE,
        verifier_key=signer.verifier().key_string(),
        seed=signer.seed(),
    )


def ensure(ks: Session, keyring: KeyRing, *, plain_file: Path | None) -> LogKey:
    """The log key from the key store; else the plain file's key, wrapped and kept; else a new
    key. The caller commits ``ks`` and then calls :func:`remove_plain_file`."""
    plain = plain_file if plain_file is not None and plain_file.exists() else None
    stored = load(ks, keyring)
    if plain is not None:
        from_file = read_plain_key(plain)
        if stored is None:
            _keep(ks, keyring, from_file)
            return LogKey(from_file, "imported", plain)
        if from_file.verifier() != stored.verifier():
            raise Conflict(
                f"{plain} holds another key than the audit log key in the key store; move the "
                "file away (it is not this store's log key)"
            )
        return LogKey(stored, "stored", plain)
    if stored is not None:
        return LogKey(stored, "stored")
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    signer = Signer(name=f"dealvault.invalid/log-{secrets.token_hex(4)}", seed=seed)
    _keep(ks, keyring, signer)
    return LogKey(signer, "created")


def check_registered(records: Session, signer: Signer) -> None:
    """Refuse a key that is not the one the log was started with (if one is registered)."""
    registered = records.scalars(select(AuditKey.verifier_key).where(AuditKey.role == "log")).all()
    if registered and signer.verifier().key_string() not in registered:
        raise Conflict("this key is not the audit log key registered in the store")


def remove_plain_file(path: Path) -> None:
    """Overwrite and delete a plain key file once its key is safely wrapped (best effort: a
    journaling or copy-on-write file system may keep old blocks; see docs/audit-bundle.md)."""
    with contextlib.suppress(FileNotFoundError):
        size = path.stat().st_size
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, b"\0" * size)
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()


class KeyStoreSigner:
    """A :class:`dealvault.audit.service.SignerSource` over the key store: the public key is
    read without the master key; the signing key is unwrapped (and an older plain key file
    moved into the key store) the first time a checkpoint must be signed."""

    def __init__(
        self, *, stores: Stores, keyring: Callable[[], KeyRing], plain_file: Path | None
    ) -> None:
        self._stores = stores
        self._keyring = keyring
        self._plain_file = plain_file
        self._verifier: Verifier | None = None

    def __repr__(self) -> str:
        return f"KeyStoreSigner(plain_file={self._plain_file!s})"

    def verifier(self) -> Verifier | None:
        if self._verifier is None:
            with self._stores.keystore_sessions() as ks:
                self._verifier = stored_verifier(ks)
            plain = self._plain_file
            if self._verifier is None and plain is not None and plain.exists():
                self._verifier = read_plain_key(plain).verifier()
        return self._verifier

    def load(self) -> Signer:
        keyring = self._keyring()
        with self._stores.keystore_sessions() as ks:
            key = ensure(ks, keyring, plain_file=self._plain_file)
            if key.how == "created":
                raise KeyUnavailable("this store has no audit log key; run 'dealvault init'")
            with self._stores.records_sessions() as records:
                check_registered(records, key.signer)
            ks.commit()
        if key.plain_file is not None:
            remove_plain_file(key.plain_file)
        return key.signer
