"""Migrations match the models on both databases; SQLite runs in WAL mode with foreign keys."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from dealvault.db import migrate
from dealvault.db.registry import STORES
from dealvault.flows.context import AppStores


def test_models_and_migrations_do_not_drift(stores: AppStores) -> None:
    for store, engine in (("records", stores.records_engine), ("keystore", stores.keystore_engine)):
        assert migrate.current_revision(engine, store) == migrate.head_revision(store)  # type: ignore[arg-type]
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={"compare_type": True, "version_table": migrate.VERSION_TABLES[store]},  # type: ignore[index]
            )
            diff = compare_metadata(ctx, STORES[store])
        assert diff == [], f"{store}: models and migrations disagree: {diff}"


def test_sqlite_pragmas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = AppStores.connect(
        records_url=f"sqlite:///{tmp_path / 'r.sqlite'}",
        keystore_url=f"sqlite:///{tmp_path / 'k.sqlite'}",
    )
    with s.records_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    with s.keystore_engine.connect() as conn:
        assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1
    s.dispose()


def test_migrations_are_idempotent(stores: AppStores) -> None:
    migrate.upgrade(stores.records_engine, "records")
    migrate.upgrade(stores.keystore_engine, "keystore")
    assert migrate.current_revision(stores.records_engine, "records") == migrate.head_revision(
        "records"
    )
