"""The two stores (records, keys) and the unit of work that commits them together."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from dealvault.db.engine import (
    DEFAULT_LOCK_TIMEOUT,
    is_lock_error,
    is_race_error,
    make_engine,
    make_session_factory,
)
from dealvault.db.heads import up_to_date
from dealvault.errors import Busy

#: What a lock failure becomes, wherever in a use case the driver reported it.
RACE_MESSAGE = (
    "another request made the same change at the same moment; nothing was changed by this "
    "one: run it again"
)
BUSY_MESSAGE = (
    "the store is busy: another job (an import, receive, shred, key rotation or package "
    "build) holds what this command needs; nothing was changed, run it again when that job "
    "has finished"
)


@contextmanager
def busy_errors() -> Iterator[None]:
    """Turn the drivers' lock errors (SQLite ``database is locked``, PostgreSQL lock
    timeouts, deadlocks, serialization failures) into :class:`Busy`; the one place."""
    try:
        yield
    except Exception as exc:
        if is_lock_error(exc):
            raise Busy(BUSY_MESSAGE) from None
        if is_race_error(exc):
            raise Busy(RACE_MESSAGE) from None
        raise


@dataclass(frozen=True)
class UnitOfWork:
    """One use case's two sessions. The key store commits first, then the records.

    Keys without records are harmless orphans; records without keys would be unreadable,
    so the order is chosen so that a crash between the two commits leaves only the former.
    """

    records: Session
    keys: Session


@dataclass
class Stores:
    records_engine: Engine
    keystore_engine: Engine
    records_sessions: sessionmaker[Session]
    keystore_sessions: sessionmaker[Session]

    @staticmethod
    def open_engines(
        *,
        records_url: str,
        keystore_url: str,
        migrate_schema: bool = True,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> tuple[Engine, Engine, sessionmaker[Session], sessionmaker[Session]]:
        rec = make_engine(records_url, lock_timeout=lock_timeout)
        ks = make_engine(keystore_url, secure_delete=True, lock_timeout=lock_timeout)
        if migrate_schema:
            for engine, store in ((rec, "records"), (ks, "keystore")):
                if not up_to_date(engine, store):  # Alembic only when there is work to do
                    from dealvault.db import migrate

                    migrate.upgrade(engine, store)  # type: ignore[arg-type]
        return rec, ks, make_session_factory(rec), make_session_factory(ks)

    @classmethod
    def open(
        cls,
        *,
        records_url: str,
        keystore_url: str,
        migrate_schema: bool = True,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> Stores:
        return cls(
            *cls.open_engines(
                records_url=records_url,
                keystore_url=keystore_url,
                migrate_schema=migrate_schema,
                lock_timeout=lock_timeout,
            )
        )

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Commit both sessions on success (keys first), roll both back on any error; a lock
        that could not be had becomes :class:`Busy`."""
        rec = self.records_sessions()
        keys = self.keystore_sessions()
        try:
            with busy_errors():
                yield UnitOfWork(records=rec, keys=keys)
                keys.commit()
                rec.commit()
        except BaseException:
            rec.rollback()
            keys.rollback()
            raise
        finally:
            rec.close()
            keys.close()

    @contextmanager
    def records_session(self) -> Iterator[Session]:
        """A read-only use of the record store (no commit)."""
        s = self.records_sessions()
        try:
            with busy_errors():
                yield s
        finally:
            s.rollback()
            s.close()

    @contextmanager
    def keystore_session(self) -> Iterator[Session]:
        """The key store alone (master-key rotation): committed on success."""
        ks = self.keystore_sessions()
        try:
            with busy_errors():
                yield ks
                ks.commit()
        except BaseException:
            ks.rollback()
            raise
        finally:
            ks.close()

    def purge_deleted_keys(self) -> None:
        """After a shred: make deleted key rows unrecoverable from the key store's files."""
        if self.keystore_engine.dialect.name == "sqlite":
            with self.keystore_engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self.keystore_engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as conn:
                conn.execute(text("VACUUM customer_key_blocks"))
                conn.execute(text("VACUUM dataset_keys"))

    def dispose(self) -> None:
        self.records_engine.dispose()
        self.keystore_engine.dispose()
