"""Signing-key seeds kept in the key store, wrapped by the master key like the dataset keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.crypto import envelope as env
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.models import SigningKey
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, IntegrityError, KeyUnavailable


def _context(name: str, purpose: str, verifier_key: str) -> bytes:
    """Associated data: the seed cannot be moved to another name, purpose or public key."""
    return b"skey|%s|%s|%s" % (name.encode(), purpose.encode(), verifier_key.encode())


def _wrap(keyring: KeyRing, row: SigningKey, seed: bytes, kek_version: int) -> bytes:
    header = env.Header(env.ALG_AES_256_GCM, keyring.provider.kek_id, kek_version)
    return env.seal(
        keyring.provider.kek(kek_version),
        header,
        seed,
        _context(row.name, row.purpose, row.verifier_key),
    )


def find(ks: Session, *, purpose: str) -> SigningKey | None:
    """The stored key of this purpose (public part only is used; nothing is unwrapped)."""
    return ks.scalar(select(SigningKey).where(SigningKey.purpose == purpose).limit(1))


def store(
    ks: Session, keyring: KeyRing, *, name: str, purpose: str, verifier_key: str, seed: bytes
) -> SigningKey:
    """Wrap ``seed`` under the active master-key version and keep it (one key per purpose)."""
    if len(seed) != 32:
        raise KeyUnavailable("a signing-key seed is 32 bytes")
    existing = find(ks, purpose=purpose)
    if existing is not None:
        raise Conflict(f"the key store already holds a {purpose} signing key ({existing.name})")
    version = keyring.provider.active_version()
    row = SigningKey(
        name=name,
        purpose=purpose,
        verifier_key=verifier_key,
        kek_id=keyring.provider.kek_id,
        kek_version=version,
        wrapped=b"",
        created_at=utcnow(),
    )
    row.wrapped = _wrap(keyring, row, seed, version)
    ks.add(row)
    ks.flush()
    return row


def unwrap(keyring: KeyRing, row: SigningKey) -> bytes:
    """The seed of a stored signing key (needs the master key)."""
    if row.kek_id != keyring.provider.kek_id:
        raise KeyUnavailable(
            f"the {row.purpose} signing key is wrapped by master key {row.kek_id!r}"
        )
    try:
        return env.open_envelope(
            keyring.provider.kek(row.kek_version),
            row.wrapped,
            _context(row.name, row.purpose, row.verifier_key),
        )
    except IntegrityError:
        raise KeyUnavailable(
            f"cannot unwrap the {row.purpose} signing key: wrong master key, or the key store "
            "was altered"
        ) from None


def rewrap(ks: Session, keyring: KeyRing, *, to_version: int) -> int:
    """Master-key rotation: rewrap every signing key not yet under ``to_version``."""
    rows = ks.scalars(
        select(SigningKey).where(
            (SigningKey.kek_version != to_version) | (SigningKey.kek_id != keyring.provider.kek_id)
        )
    ).all()
    for row in rows:
        seed = unwrap(keyring, row)
        row.wrapped = _wrap(keyring, row, seed, to_version)
        row.kek_version = to_version
    return len(rows)
