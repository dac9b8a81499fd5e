"""SQLite's audit events checked where they lie, by the native aggregate (the verifier's scan)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from dealvault.audit.verify import FastLeaves

_SQL = (
    "SELECT dv_audit_leaves(?, e.seq, e.body, s.packed, e.at, e.actor, e.action, e.deal, "
    "e.decision) FROM audit_events e LEFT JOIN audit_event_subjects s ON s.seq = e.seq "
    "WHERE e.seq >= ? AND e.seq < ?"
)
"""One chunk, in the order of the primary key SQLite scans it by (the aggregate checks that
the seqs run on from the start: any other order would only send the chunk to the exact path)."""

#: bytes of the database file SQLite maps into memory while it scans (reads without a copy
#: per page; the map is read-only)
MAP_BYTES = 1 << 30


@contextmanager
def native_scan(session: Session) -> Iterator[FastLeaves | None]:
    """On SQLite, chunks checked inside SQLite by the aggregate ``dv_audit_leaves`` (see
    ``native.audit_chunk``): no Python object is made per event. The database file is
    memory-mapped meanwhile (the connection's own setting comes back after). None on
    PostgreSQL and other drivers. A connection opened before the aggregate was registered
    has none: then every chunk is None, and the verifier reads rows."""
    raw = session.connection().connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):  # PostgreSQL (or another SQLite driver)
        yield None
        return
    missing = False

    def leaves(start: int, limit: int) -> bytes | None:
        nonlocal missing
        if missing:
            return None
        cur = raw.cursor()
        try:
            got = cur.execute(_SQL, (start, start, start + limit)).fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "dv_audit_leaves" not in str(exc):
                raise
            missing = True
            return None
        finally:
            cur.close()
        return got if type(got) is bytes else None

    mapped = raw.execute("PRAGMA mmap_size").fetchone()[0]
    raw.execute(f"PRAGMA mmap_size={MAP_BYTES}")
    try:
        yield leaves
    finally:
        raw.execute(f"PRAGMA mmap_size={int(mapped)}")
