"""The static newest revisions used to skip Alembic on an up-to-date store are the real ones."""

from __future__ import annotations

from pathlib import Path

from dealvault.db import migrate
from dealvault.db.engine import make_engine
from dealvault.db.heads import HEADS, up_to_date


def test_heads_match_the_migration_scripts() -> None:
    for store, (head, table) in HEADS.items():
        assert migrate.head_revision(store) == head, store  # type: ignore[arg-type]
        assert migrate.VERSION_TABLES[store] == table  # type: ignore[index]


def test_up_to_date_only_at_the_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    assert not up_to_date(engine, "records")  # empty database
    migrate.upgrade(engine, "records", "0001")
    assert not up_to_date(engine, "records")
    migrate.upgrade(engine, "records")
    assert up_to_date(engine, "records")
    engine.dispose()
