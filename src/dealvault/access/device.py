"""The device behind a request: a random value the client keeps (a browser's long-lived
cookie, the remote CLI's header) recorded only as a short hash, so a reader of the log can
tell devices apart but never replay one; an API token without a device stands for itself."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Final

#: the browser's device cookie (__Host-: Secure, Path=/, no Domain), kept ~400 days
COOKIE: Final = "__Host-dv_device"
COOKIE_MAX_AGE: Final = 400 * 24 * 3600
#: the header a client outside a browser sends (the remote CLI keeps its value, mode 0600)
HEADER: Final = "X-Dealvault-Device"
#: a device value: 16 to 128 URL-safe characters (what :func:`new_value` makes is 43)
_VALUE: Final = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def new_value() -> str:
    """A fresh random device value (256 bits), for a cookie or the remote CLI's file."""
    return secrets.token_urlsafe(32)


def valid(raw: str | None) -> bool:
    return raw is not None and _VALUE.match(raw) is not None


def device_id(raw: str | None) -> str | None:
    """``dev:`` and 16 hex digits of the SHA-256 of a device value; None for none or a
    malformed one (never recorded as given)."""
    if raw is None or not valid(raw):
        return None
    return "dev:" + hashlib.sha256(raw.encode("ascii")).hexdigest()[:16]


def token_device(token_id: str) -> str:
    """What stands for the device of an API token's request that named none: the token."""
    return "tok:" + token_id
