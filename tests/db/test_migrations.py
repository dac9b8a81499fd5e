"""Migrations match the models on both databases; SQLite runs in WAL mode with foreign keys."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from dealvault.db import migrate
from dealvault.db.engine import make_engine
from dealvault.db.heads import HEADS
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


def test_upgrade_to_0010_keeps_existing_agreements_signed_offline(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Agreements and signers made before click-through acceptance stay ``signed`` and
    ``offline`` (the server defaults of 0010), on both databases."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    else:
        url = request.getfixturevalue("pg_database")()
    engine = make_engine(url)
    migrate.upgrade(engine, "records", "0009")
    now = datetime.now(UTC)
    rows = (
        ("organizations", {"id": 1, "name": "Bidder A", "kind": "bidder", "created_at": now}),
        ("persons", {"id": 1, "email": "a@bidder-a.example", "name": "A", "organization_id": 1,
                     "created_at": now}),
        ("deals", {"id": 1, "code": "d1", "name": "D", "kind": "equity", "stage": "preparation",
                   "frozen": False, "created_at": now, "updated_at": now}),
        ("agreements", {"id": 1, "deal_id": 1, "organization_id": 1, "kind": "clean_team",
                        "title": "CT", "datasets": "*", "categories": "*",
                        "effective": date(2026, 1, 5), "created_at": now}),
        ("agreement_signers", {"id": 1, "agreement_id": 1, "person_id": 1,
                               "signed_on": date(2026, 1, 5)}),
    )  # fmt: skip
    with engine.begin() as conn:
        for table, values in rows:
            names = ", ".join(values)
            conn.execute(text(f"INSERT INTO {table} ({names}) VALUES (:{', :'.join(values)})"),
                         values)  # fmt: skip
    migrate.upgrade(engine, "records")
    assert migrate.current_revision(engine, "records") == HEADS["records"][0]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT acceptance FROM agreements")).scalars().all() == ["signed"]
        signer = conn.execute(
            text("SELECT method, accepted_at, client, document_sha256 FROM agreement_signers")
        ).one()
        assert tuple(signer) == ("offline", None, None, None)
    engine.dispose()


def test_upgrade_to_0023_gives_old_plans_the_default_window(tmp_path: Path) -> None:
    """Plans drawn up before PIPL art. 22 notices get 30 days and no recipient contact (the
    server defaults of 0023); a delivery has no delivery time yet."""
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    migrate.upgrade(engine, "records", "0022")
    now = datetime.now(UTC)
    rows = (
        ("organizations", {"id": 1, "name": "Bidder A", "kind": "bidder", "created_at": now}),
        ("persons", {"id": 1, "email": "a@seller.example", "name": "A", "organization_id": 1,
                     "created_at": now}),
        ("deals", {"id": 1, "code": "d1", "name": "D", "kind": "equity", "stage": "closing",
                   "frozen": False, "created_at": now, "updated_at": now}),
        ("datasets", {"id": 1, "deal_id": 1, "name": "crm", "grade": "general",
                      "status": "active", "schema_version": 1, "data_key_version": 1,
                      "created_at": now}),
        ("transfer_plans", {"id": 1, "deal_id": 1, "dataset_id": 1, "recipient_id": 1,
                            "recipients": "age1x", "categories": "contact",
                            "purpose": "hand-over", "status": "pending",
                            "required_roles": "counsel", "created_by": 1, "created_at": now}),
        ("notice_batches", {"id": 1, "deal": "d1", "ref": "plan:1", "template_set": "transfer",
                            "channel": "sms", "customers": 1, "file_sha256": "",
                            "created_by": "a@seller.example", "created_at": now}),
        ("notice_deliveries", {"id": "1-000001", "batch_id": 1, "subject_id": "s",
                               "language": "zh", "status": "delivered"}),
    )  # fmt: skip
    with engine.begin() as conn:
        for table, values in rows:
            names = ", ".join(values)
            conn.execute(text(f"INSERT INTO {table} ({names}) VALUES (:{', :'.join(values)})"),
                         values)  # fmt: skip
    migrate.upgrade(engine, "records")
    with engine.connect() as conn:
        plan = conn.execute(text("SELECT objection_days, recipient_contact FROM transfer_plans"))
        assert tuple(plan.one()) == (30, "")
        at = conn.execute(text("SELECT delivered_at FROM notice_deliveries")).scalar()
        assert at is None
    engine.dispose()
