"""Random one-time secrets (session, token, link) and how they are kept: only a digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: prefixes make a leaked secret recognisable (secret scanners) and say what it opens
SESSION, TOKEN, INVITE, RESET = "dvs_", "dvt_", "dvi_", "dvr_"


def new_secret(prefix: str) -> str:
    """A fresh secret of 256 random bits, URL-safe, with its kind as prefix."""
    return prefix + secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    """A public identifier (session or token id) for listings and the audit log."""
    return prefix + secrets.token_hex(8)


def digest(secret: str) -> str:
    """What the database keeps of a high-entropy secret (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def keyed_digest(key: bytes, value: str) -> str:
    """What the database keeps of a low-entropy secret (a recovery code): HMAC-SHA256 under
    a key held in the key store, so a copy of the records alone cannot be brute-forced."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
