"""Canary identities at rest: sealed under the store's canary key, found by keyed hashes."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.crypto import envelope as env
from dealvault.crypto.keyring import STORE_SCOPE, KeyRing
from dealvault.errors import IntegrityError, KeyUnavailable
from dealvault.transfer.models import Canary

#: Purpose of the store key that seals canary identities (``dataset_keys``, dataset 0).
PURPOSE: Final = "canary"
_FIELDS: Final = ("name", "phone", "email", "fingerprint")


@dataclass(frozen=True, slots=True)
class CanaryIdentity:
    """What a canary row keeps secret: who the invented customer is."""

    name: str
    phone: str
    email: str
    fingerprint: str


def _context(row: Canary) -> bytes:
    """Associated data: the envelope cannot be moved to another row, recipient or dataset."""
    return b"canary|%d|%d|%d|%s" % (
        row.deal_id,
        row.dataset_id,
        row.recipient_id,
        (row.email_mac or "").encode("ascii"),
    )


class CanaryKeys:
    """Seals and opens canary identities; keyed hashes (HMAC-SHA-256) of e-mail and phone."""

    def __init__(self, key: bytes) -> None:
        self._sealer = env.Sealer(key, env.Header(env.ALG_AES_256_GCM, f"store{STORE_SCOPE}", 1))
        self._aead = env.opener(key)
        self._mac = hmac.digest(key, b"dealvault canary index", "sha256")

    def __repr__(self) -> str:
        return "CanaryKeys(<hidden>)"

    @classmethod
    def of(cls, keyring: KeyRing, ks: Session, *, create: bool = True) -> CanaryKeys | None:
        """The store's canary keys from the key store (made on first use when ``create``)."""
        key = keyring.store_key(ks, purpose=PURPOSE, create=create)
        return None if key is None else cls(key)

    def email_mac(self, email: str) -> str:
        return hmac.digest(self._mac, b"email|" + email.lower().encode(), "sha256").hex()

    def phone_mac(self, phone: str) -> str:
        return hmac.digest(self._mac, b"phone|" + phone.encode(), "sha256").hex()

    def seal(self, row: Canary, ident: CanaryIdentity) -> None:
        """Put ``ident`` into ``row`` (sealed, with its keyed hashes); no clear column is set."""
        row.email_mac = self.email_mac(ident.email)
        row.phone_mac = self.phone_mac(ident.phone)
        body = json.dumps({f: getattr(ident, f) for f in _FIELDS}, ensure_ascii=False)
        row.sealed = self._sealer.seal(body.encode(), _context(row))
        row.name = row.phone = row.email = row.fingerprint = None

    def open(self, row: Canary) -> CanaryIdentity:
        """The identity of a sealed row; IntegrityError when it was altered or moved."""
        if row.sealed is None:
            raise IntegrityError(f"canary #{row.id} is not sealed")
        try:
            doc = json.loads(env.open_with(self._aead, row.sealed, _context(row)))
        except IntegrityError:
            raise IntegrityError(
                f"canary #{row.id} failed authentication (altered, moved, or another store's key)"
            ) from None
        return CanaryIdentity(*(str(doc[f]) for f in _FIELDS))


def canary_keys(keyring: KeyRing, ks: Session) -> CanaryKeys:
    """The store's canary keys, made on first use (for the flows that plant canaries)."""
    keys = CanaryKeys.of(keyring, ks, create=True)
    assert keys is not None
    return keys


def legacy_identity(row: Canary) -> CanaryIdentity | None:
    """The clear identity of a row made before canaries were sealed (migration 0008)."""
    values = (row.name, row.phone, row.email, row.fingerprint)
    if row.sealed is not None or any(v is None for v in values):
        return None
    return CanaryIdentity(*(str(v) for v in values))


def seal_legacy(session: Session, keys: CanaryKeys) -> int:
    """Seal every canary still kept in clear (stores made before migration 0008) and empty
    its clear columns; returns how many. Flushes, never commits."""
    rows = session.scalars(select(Canary).where(Canary.sealed.is_(None))).all()
    for row in rows:
        ident = legacy_identity(row)
        if ident is None:
            raise IntegrityError(f"canary #{row.id} has neither a sealed nor a clear identity")
        keys.seal(row, ident)
    session.flush()
    return len(rows)


def identity(row: Canary, keys: CanaryKeys | None) -> CanaryIdentity:
    """The identity of a row: opened with ``keys``, or as it is for a row made before canaries
    were sealed; KeyUnavailable when the row is sealed but the store has no canary key."""
    ident = legacy_identity(row)
    if ident is not None:
        return ident
    if keys is None:
        raise KeyUnavailable("the store's canary key is missing: canaries cannot be opened")
    return keys.open(row)
