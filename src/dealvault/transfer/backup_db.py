"""The database side of backups: consistent snapshots of both stores, checks, pg_restore."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from dealvault.db import migrate
from dealvault.db.engine import make_engine
from dealvault.db.stores import Stores
from dealvault.errors import Conflict, IntegrityError, Invalid
from dealvault.files import create_private, private_file

STORES: tuple[migrate.Store, ...] = ("records", "keystore")
SUFFIX = {"sqlite": "sqlite", "postgresql": "pgdump"}
#: How long a snapshot waits for a running key-store write before giving up (seconds).
LOCK_WAIT_S = 60
_BUSY = "the key store is busy with a long write; try the backup again"

#: Reports progress: (stage, done, total or None when unknown). Units: bytes.
Progress = Callable[[str, int, int | None], None]


def no_progress(stage: str, done: int, total: int | None) -> None:
    return None


def member_name(store: str, backend: str) -> str:
    return f"{store}.{SUFFIX[backend]}"


def backend_of(stores: Stores) -> str:
    names = {stores.records_engine.dialect.name, stores.keystore_engine.dialect.name}
    if len(names) != 1 or not names <= set(SUFFIX):
        raise Invalid("a backup needs both stores on SQLite or both on PostgreSQL")
    return names.pop()


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Invalid(
            f"{name} not found on PATH: install the PostgreSQL client tools "
            "(the same major version as the server, or newer)"
        )
    return found


def run(args: list[str], env: dict[str, str], what: str) -> None:
    """Run a PostgreSQL client tool; its last stderr line (never a password) on failure."""
    res = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if res.returncode != 0:
        lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
        raise Invalid(f"{what} failed: {lines[-1] if lines else f'exit {res.returncode}'}")


def pg_args(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment carrying it (not on argv)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    uri = u.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _major(version_text: str) -> int:
    word = next((w for w in version_text.split() if w[:1].isdigit()), "0")
    return int(word.split(".")[0])


def _sqlite_file(engine: Engine) -> Path:
    db = engine.url.database
    if not db or db == ":memory:" or not Path(db).is_file():
        raise Invalid("the SQLite store is not a file that can be backed up")
    return Path(db)


def _snapshot_sqlite(stores: Stores, work: Path, progress: Progress) -> dict[str, str]:
    """Online backups (``sqlite3.Connection.backup``) of both files from pinned read snapshots.

    A use case commits its keys before its records. Both read snapshots are taken while the
    key store's write lock is held, so every record in the backup has its key in it (keys
    committed just before, whose records were not yet, are harmless orphans). The lock is
    held for milliseconds; the copies run afterwards, with writers going on (WAL).
    """
    src = {
        "records": _sqlite_file(stores.records_engine),
        "keystore": _sqlite_file(stores.keystore_engine),
    }
    with ExitStack() as stack:

        def conn(path: Path) -> sqlite3.Connection:
            c = sqlite3.connect(path, timeout=LOCK_WAIT_S, isolation_level=None)
            stack.callback(c.close)
            return c

        lock, ks, rec = conn(src["keystore"]), conn(src["keystore"]), conn(src["records"])
        try:
            lock.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            raise Conflict(_BUSY) from None
        for c in (ks, rec):
            c.execute("BEGIN")
            c.execute("SELECT count(*) FROM sqlite_master").fetchone()  # pins the snapshot
        lock.execute("ROLLBACK")
        # One step each (pages=-1): a stepwise copy restarts whenever a writer commits.
        for store, c in (("keystore", ks), ("records", rec)):
            progress(f"snapshot {store}", 0, None)
            member = work / member_name(store, "sqlite")
            create_private(member)  # sqlite3 would make it with the umask's mode
            dst = sqlite3.connect(member)
            try:
                c.backup(dst)
            finally:
                dst.close()
            c.execute("COMMIT")
    return {s: src[s].name for s in STORES}


def _snapshot_postgres(stores: Stores, work: Path, progress: Progress) -> dict[str, str]:
    """``pg_dump --format=custom`` of both databases from snapshots exported under a lock.

    The key store's tables are locked against writes (SHARE) while both snapshots are
    exported (``pg_export_snapshot``), for the same reason as on SQLite; the dumps then run
    on those snapshots (``--snapshot``) without any lock.
    """
    pg_dump = tool("pg_dump")
    tool_major = _major(subprocess.check_output([pg_dump, "--version"], text=True))  # noqa: S603
    engines = {"records": stores.records_engine, "keystore": stores.keystore_engine}
    snaps: dict[str, str] = {}
    with ExitStack() as stack:
        lock = stack.enter_context(engines["keystore"].connect())
        try:
            with lock.begin():
                server = int(lock.execute(text("SHOW server_version_num")).scalar_one()) // 10000
                if tool_major < server:
                    raise Invalid(
                        f"pg_dump {tool_major} is older than the server ({server}): "
                        f"install the PostgreSQL {server} client tools"
                    )
                lock.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_S}s'"))
                tables = lock.execute(
                    text(
                        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                    )
                ).scalars()
                lock.execute(text(f"LOCK TABLE {', '.join(tables)} IN SHARE MODE"))
                for store in ("keystore", "records"):
                    c = stack.enter_context(engines[store].connect())
                    c.execution_options(isolation_level="REPEATABLE READ").begin()
                    snaps[store] = str(c.execute(text("SELECT pg_export_snapshot()")).scalar_one())
        except OperationalError:
            raise Conflict(_BUSY) from None
        for store in STORES:
            progress(f"snapshot {store}", 0, None)
            uri, env = pg_args(engines[store].url.render_as_string(hide_password=False))
            dest = work / member_name(store, "postgresql")
            args = [pg_dump, "--format=custom", f"--snapshot={snaps[store]}", f"--file={dest}"]
            run([*args, f"--dbname={uri}"], env, f"pg_dump of the {store} store")
            private_file(dest)
    return {s: str(engines[s].url.database) for s in STORES}


def snapshot(
    stores: Stores, backend: str, work: Path, progress: Progress
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Write both stores' snapshots into ``work``; their sources and Alembic revisions."""
    if backend == "postgresql":
        sources = _snapshot_postgres(stores, work, progress)
        return sources, {
            "records": migrate.current_revision(stores.records_engine, "records"),
            "keystore": migrate.current_revision(stores.keystore_engine, "keystore"),
        }
    sources = _snapshot_sqlite(stores, work, progress)
    revisions: dict[str, str | None] = {}
    for store in STORES:  # read from the copies themselves
        eng = create_engine(f"sqlite:///{work / member_name(store, backend)}")
        try:
            revisions[store] = migrate.current_revision(eng, store)
        finally:
            eng.dispose()
    return sources, revisions


def check_member(path: Path, backend: str, *, backup: str) -> None:
    """SQLite: ``PRAGMA integrity_check``; PostgreSQL: ``pg_restore --list`` reads the dump."""
    if backend == "postgresql":
        try:
            run([tool("pg_restore"), "--list", str(path)], dict(os.environ), "pg_restore")
        except Invalid:
            raise IntegrityError(
                f"backup {backup}: member {path.name} is not a readable pg_dump archive"
            ) from None
        return
    conn = sqlite3.connect(path)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError:
        rows = ["not a database"]
    finally:
        conn.close()
    if rows != ["ok"]:
        raise IntegrityError(f"backup {backup}: member {path.name} fails PRAGMA integrity_check")


def require_empty_pg(url: str) -> None:
    if make_url(url).get_backend_name() != "postgresql":
        raise Invalid("--records-url and --keystore-url must be PostgreSQL URLs")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            n = conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND n.nspname NOT LIKE 'pg_toast%' AND c.relkind IN ('r', 'v', 'm', 'S', 'p')"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    if n:
        raise Conflict(
            f"database {make_url(url).database} is not empty: restore only into an empty database"
        )


def pg_restore(dump: Path, *, url: str, store: str) -> None:
    """Restore one dump in a single transaction (all or nothing), without owners or grants."""
    uri, env = pg_args(url)
    args = [tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    run([*args, "--single-transaction", f"--dbname={uri}", str(dump)], env, f"pg_restore ({store})")
