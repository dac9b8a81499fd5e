"""Engines and session factories for SQLite (WAL, foreign keys) and PostgreSQL; lock waits
bounded by one timeout on both, and lock failures recognised whatever the driver."""

from __future__ import annotations

import functools
import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dealvault import native
from dealvault.files import (
    SQLITE_SIDE_FILES,
    create_private,
    ensure_private_dir,
    private_file,
    sqlite_file,
)

#: Seconds a transaction waits for a lock another one holds before failing (``Busy``).
DEFAULT_LOCK_TIMEOUT = 30.0
#: Execution option naming how a SQLite transaction begins ("IMMEDIATE": with the write lock).
BEGIN_OPTION = "dealvault_begin"
#: SQLite: SQLITE_BUSY, SQLITE_LOCKED (primary codes); PostgreSQL: lock_not_available,
#: deadlock_detected, serialization_failure.
_SQLITE_LOCK_CODES = (5, 6)
_PG_LOCK_STATES = ("55P03", "40P01", "40001")


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` (SQLAlchemy's wrapper or the driver's own error, as raised by the
    bulk paths that use the driver directly) says a lock could not be had in time."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_LOCK_CODES
        return "locked" in str(orig)
    return getattr(orig, "sqlstate", None) in _PG_LOCK_STATES


def is_race_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a unique-constraint violation: the use cases check before they
    insert, so at commit it means a concurrent transaction made the same row first."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.IntegrityError):
        return "UNIQUE constraint failed" in str(orig)
    return getattr(orig, "sqlstate", None) == "23505"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int, cache_kib: int) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy own transactions: pysqlite's implicit BEGIN is switched off.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    # Page size: 4 KiB (SQLite's default) by default. 16 KiB makes the bulk import ~5% faster
    # but triples what each small commit writes (an audit event commits ~10 pages), which cut
    # one-commit-per-event appends from ~2.5k to ~2.1k/s. Only applies when a file is created.
    cur.execute(f"PRAGMA page_size={_PAGE}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    cur.execute(f"PRAGMA cache_size=-{cache_kib}")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


_PAGE = int(os.environ.get("DEALVAULT_SQLITE_PAGE_SIZE", "4096"))
_CACHE_KIB = int(os.environ.get("DEALVAULT_SQLITE_CACHE_MIB", "64")) * 1024
#: the key store's page cache: its rows are key blocks read and written in order, so a small
#: cache costs nothing there and keeps a large import's memory down
_KEYSTORE_CACHE_KIB = min(_CACHE_KIB, 16 * 1024)


def _sqlite_begin(conn: Any) -> None:
    """BEGIN (deferred), or BEGIN IMMEDIATE when the connection asks for the write lock: then
    the busy timeout applies while waiting for it (upgrading a read transaction later does
    not wait, and fails at once when another writer committed meanwhile)."""
    immediate = conn.get_execution_options().get(BEGIN_OPTION) == "IMMEDIATE"
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    conn.info["dv_write"] = immediate
    conn.info["dv_changes"] = conn.connection.dbapi_connection.total_changes


def _pg_lock_timeout(dbapi_connection: Any, _record: Any, *, timeout_ms: int) -> None:
    """Every lock wait of the session (rows, tables, advisory locks) ends after the timeout."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cur = dbapi_connection.cursor()
    try:
        cur.execute(f"SET lock_timeout = {int(timeout_ms)}")
    finally:
        cur.close()
        dbapi_connection.autocommit = autocommit


def _sqlite_secure_delete(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA secure_delete=ON")


def _private_side_files(database: Path) -> Any:
    """A connect hook narrowing the -wal/-shm files of ``database`` to 0600: SQLite gives them
    the database file's mode, but a store made before files were private may have wide ones."""

    def hook(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            for suffix in SQLITE_SIDE_FILES:
                side = Path(f"{database}{suffix}")
                if side.exists():
                    private_file(side)

    return hook


def make_engine(
    url: str, *, secure_delete: bool = False, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> Engine:
    """Build an engine; SQLite files get their directory created and WAL mode switched on.

    A new SQLite file is created with mode 0600 (in a directory made 0700) before SQLite opens
    it, so the database and the -wal/-shm files SQLite makes beside it are private.
    ``secure_delete`` (key store) makes SQLite overwrite deleted rows, so a shredded key
    does not linger in free pages of the file. ``lock_timeout``: seconds any lock wait may
    take (SQLite busy timeout, PostgreSQL ``lock_timeout``).
    """
    parsed = make_url(url)
    timeout_ms = max(1, round(lock_timeout * 1000))
    if parsed.get_backend_name() == "sqlite":
        native.sqlite_register()  # the audit verifier's and package reader's aggregates
        engine = create_engine(url)
        cache_kib = _KEYSTORE_CACHE_KIB if secure_delete else _CACHE_KIB
        event.listen(
            engine,
            "connect",
            functools.partial(_sqlite_pragmas, busy_ms=timeout_ms, cache_kib=cache_kib),
        )
        database = sqlite_file(url)
        if database is not None:
            ensure_private_dir(database.parent, what=None)
            create_private(database)
            event.listen(engine, "connect", _private_side_files(database))
        if secure_delete:
            event.listen(engine, "connect", _sqlite_secure_delete)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # a server worker runs requests in threads, each holding a records and a key-store
    # connection: connections beyond the pool would be opened and closed per request
    engine = create_engine(parsed, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=20)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", functools.partial(_pg_lock_timeout, timeout_ms=timeout_ms))
    return engine


#: Connections each engine keeps open (per process).
POOL_SIZE = 12


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
