"""Job locks held until the transaction ends: PostgreSQL advisory locks, SQLite's write lock.

PostgreSQL: ``pg_advisory_xact_lock`` on a key derived from a scope name (a dataset), so jobs
on other scopes run on. SQLite has one writer per database file: the transaction takes the
write lock of the record store and of the key store (``BEGIN IMMEDIATE``, in that order),
which excludes every other writer until it ends.
Either wait ends after the engine's lock timeout; the caller's message then says who waits
for what (:class:`dealvault.errors.Busy`).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.db.engine import BEGIN_OPTION, is_lock_error
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Busy

#: First half of every advisory lock key of dealvault ("dvjl").
NAMESPACE = 0x64766A6C


def lock_key(scope: str) -> int:
    """A signed 32-bit key for ``scope`` (two scopes sharing one only wait for each other)."""
    return int.from_bytes(
        hashlib.blake2b(scope.encode(), digest_size=4).digest(), "big", signed=True
    )


def take_job_lock(uow: UnitOfWork, *, scope: str, busy: str) -> None:
    """Hold ``scope`` in the unit of work's transactions; ``busy`` is the message when the
    wait times out. Afterwards every object of the records session is read again, under the
    lock. A SQLite key store's write lock is taken too: a job that read keys and then writes
    them would otherwise fail at once whenever another writer (or a checkpoint after a
    shred) went first."""
    try:
        session = uow.records
        if session.connection().dialect.name == "postgresql":
            session.flush()
            session.execute(select(func.pg_advisory_xact_lock(NAMESPACE, lock_key(scope))))
            session.expire_all()
        else:
            hold_write_lock(session)
        if uow.keys.connection().dialect.name == "sqlite":
            hold_write_lock(uow.keys)
    except Exception as exc:
        if is_lock_error(exc):
            raise Busy(busy) from None
        raise


def hold_write_lock(session: Session) -> None:
    """SQLite: make sure the session's transaction holds the database's write lock.

    A transaction that has written holds it already. One that has only read is rolled back
    and begun again with ``BEGIN IMMEDIATE``: upgrading a read transaction does not wait for
    the lock (and fails outright once another writer has committed since it began), whereas
    a fresh ``BEGIN IMMEDIATE`` waits up to the busy timeout. Objects read before are
    expired, so they are read again inside the locked transaction.
    """
    conn = session.connection()
    if conn.info.get("dv_write"):
        return
    session.flush()
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and getattr(dbapi, "total_changes", None) != conn.info.get("dv_changes"):
        conn.info["dv_write"] = True  # it has written: the lock is its own already
        return
    session.rollback()
    session.connection(execution_options={BEGIN_OPTION: "IMMEDIATE"})
