"""Alembic migrations of the two stores, run programmatically at the edge or in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

Store = Literal["records", "keystore"]
_HERE = Path(__file__).parent
SCRIPT_DIRS: dict[Store, Path] = {
    "records": _HERE / "migrations",
    "keystore": _HERE / "keystore_migrations",
}
VERSION_TABLES: dict[Store, str] = {
    "records": "alembic_version",
    "keystore": "alembic_version_keystore",
}


def alembic_config(store: Store, engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_DIRS[store]))
    cfg.attributes["engine"] = engine
    cfg.attributes["store"] = store
    return cfg


def upgrade(engine: Engine, store: Store, revision: str = "head") -> None:
    """Bring a store's schema up to ``revision``."""
    command.upgrade(alembic_config(store, engine), revision)


def current_revision(engine: Engine, store: Store) -> str | None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLES[store]})
        return ctx.get_current_revision()


def head_revision(store: Store) -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_DIRS[store]))
    return ScriptDirectory.from_config(cfg).get_current_head()


def run_env() -> None:
    """Body of both ``env.py`` files: online migrations on the engine passed in."""
    from alembic import context

    from dealvault.db.registry import STORES

    cfg = context.config
    store: Store = cfg.attributes.get("store", "records")
    engine: Engine | None = cfg.attributes.get("engine")
    if engine is None:
        url = cfg.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no engine or sqlalchemy.url given to Alembic")
        from dealvault.db.engine import make_engine

        engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=STORES[store],
            version_table=VERSION_TABLES[store],
            render_as_batch=engine.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
