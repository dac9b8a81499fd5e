"""Throttles on every credential check: failures counted per account and per client address
in the database (so every server worker sees them), a lock after too many."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dealvault.accounts.models import AuthThrottle
from dealvault.db.base import utcnow


@dataclass(frozen=True)
class Limits:
    account_failures: int
    client_failures: int
    lockout: timedelta
    window: timedelta = timedelta(minutes=15)


def account_key(person_id: int) -> str:
    return f"account:{person_id}"


def client_key(client: str | None) -> str:
    return f"client:{client or 'unknown'}"


def locked_until(session: Session, key: str, *, now: datetime | None = None) -> datetime | None:
    """When the lock on ``key`` ends, if it is locked now."""
    row = session.get(AuthThrottle, key)
    at = now or utcnow()
    if row is None or row.locked_until is None or row.locked_until <= at:
        return None
    return row.locked_until


def fail(session: Session, key: str, *, limit: int, limits: Limits) -> bool:
    """Count a failed check against ``key``; True when this failure locks it."""
    now = utcnow()
    row = session.get(AuthThrottle, key, with_for_update=True)
    if row is None:
        row = AuthThrottle(key=key, window_start=now, failures=0)
        session.add(row)
    if row.window_start + limits.window <= now:
        row.window_start, row.failures = now, 0
    row.failures += 1
    if row.failures >= limit and (row.locked_until is None or row.locked_until <= now):
        row.locked_until = now + limits.lockout
        row.failures = 0
        row.window_start = now
        return True
    return False


def clear(session: Session, key: str) -> None:
    """A successful check clears the account's count (not the client's, which limits
    guessing across accounts)."""
    row = session.get(AuthThrottle, key)
    if row is not None:
        row.failures = 0
