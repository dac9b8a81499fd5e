"""Migrated test databases made once per test process and reused: SQLite stores are copied
from a migrated template file; PostgreSQL databases are emptied and handed to the next test.

Making a store costs a migration (about 0.3 s) and, on PostgreSQL, a CREATE DATABASE (about
0.3 s) and a DROP; a test suite that makes two stores per test spent a quarter of its time on
that. A reused PostgreSQL database is emptied with DELETE (the audit tables' append-only
triggers and the foreign keys are bypassed for it with ``session_replication_role``) and is
reused only if its schema is still the migrated one: a test that altered it (a tampering test
dropping a trigger, say) gets its database dropped instead.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from dealvault.db import migrate
from dealvault.db.engine import make_engine

STORES: tuple[migrate.Store, ...] = ("records", "keystore")

#: one line per table column, index, trigger and function: any schema change changes it
_FINGERPRINT = """
SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (
  SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable AS x
    FROM information_schema.columns WHERE table_schema = 'public'
  UNION ALL SELECT 'i:' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT 't:' || tgrelid::regclass::text || ':' || tgname || ':' || tgenabled::text
    FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'f:' || p.proname || ':' || md5(p.prosrc) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
  UNION ALL SELECT 'c:' || conrelid::regclass::text || ':' || conname
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE n.nspname = 'public'
) s
"""


#: every table emptied and every sequence restarted, in one round trip. DELETE rather than
#: TRUNCATE: a test leaves a few rows, and TRUNCATE gives each of some sixty tables a new file
#: (0.3-0.5 s a database against about 20 ms)
_EMPTY = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT quote_ident(tablename) AS t FROM pg_tables
           WHERE schemaname = 'public' AND tablename NOT LIKE 'alembic_version%' LOOP
    EXECUTE 'DELETE FROM ' || r.t;
  END LOOP;
  FOR r IN SELECT quote_ident(sequencename) AS s FROM pg_sequences
           WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
    EXECUTE 'ALTER SEQUENCE ' || r.s || ' RESTART';
  END LOOP;
END $$
"""


class SqliteTemplates:
    """Migrated SQLite store files, copied for each test."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._made: dict[str, Path] = {}

    def copy(self, store: migrate.Store, dest: Path) -> str:
        tpl = self._made.get(store)
        if tpl is None:
            tpl = self._root / f"{store}.sqlite"
            engine = make_engine(f"sqlite:///{tpl}", secure_delete=store == "keystore")
            migrate.upgrade(engine, store)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            self._made[store] = tpl
        shutil.copyfile(tpl, dest)
        dest.chmod(0o600)
        return f"sqlite:///{dest}"


class PostgresPool:
    """Migrated PostgreSQL databases of this test process: taken by a test, emptied and put
    back after it, all dropped at the end of the session."""

    def __init__(self, admin_url: str) -> None:
        self._url = make_url(admin_url)
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._free: dict[str, list[str]] = {s: [] for s in STORES}
        self._prints: dict[str, str] = {}
        self._all: set[str] = set()

    def url(self, name: str) -> str:
        return self._url.set(database=name).render_as_string(hide_password=False)

    def _engine(self, name: str) -> Engine:
        return create_engine(self.url(name), isolation_level="AUTOCOMMIT")

    def take(self, store: migrate.Store) -> str:
        """The name of an empty, migrated database for ``store``."""
        if self._free[store]:
            return self._free[store].pop()
        name = f"dv_pool_{store[:3]}_{secrets.token_hex(5)}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self._all.add(name)
        engine = make_engine(self.url(name))
        try:
            migrate.upgrade(engine, store)
        finally:
            engine.dispose()
        eng = self._engine(name)
        try:
            with eng.connect() as conn:
                self._prints.setdefault(store, conn.execute(text(_FINGERPRINT)).scalar_one())
        finally:
            eng.dispose()
        return name

    def give_back(self, store: migrate.Store, name: str) -> None:
        """Empty ``name`` and keep it for the next test; drop it when that is not safe."""
        with self._admin.connect() as conn:  # connections the test left behind
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
        eng = self._engine(name)
        try:
            with eng.connect() as conn:
                if conn.execute(text(_FINGERPRINT)).scalar_one() != self._prints.get(store):
                    raise LookupError("schema changed")
                conn.execute(text("SET session_replication_role = replica"))
                conn.execute(text("SET lock_timeout = '5s'"))
                conn.execute(text(_EMPTY))
        except Exception:
            eng.dispose()
            self._drop(name)
            return
        eng.dispose()
        self._free[store].append(name)

    def _drop(self, name: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._all.discard(name)

    def close(self) -> None:
        for name in list(self._all):
            self._drop(name)
        self._admin.dispose()
