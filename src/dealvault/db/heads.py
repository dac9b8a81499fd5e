"""The newest migration of each store, so opening an up-to-date store needs no Alembic (a test
checks these against the migration scripts)."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

#: store -> (revision of its newest migration, its version table)
HEADS: dict[str, tuple[str, str]] = {
    "records": ("0029", "alembic_version"),
    "keystore": ("0002", "alembic_version_keystore"),
}


def up_to_date(engine: Engine, store: str) -> bool:
    """Whether ``store``'s schema is at the newest migration (one cheap query)."""
    head, table = HEADS[store]
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {table}")).scalars().all()
    except DBAPIError:  # no version table yet: a new store
        return False
    return list(rows) == [head]
