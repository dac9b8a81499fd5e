"""Contention: a command meeting another job's lock fails with exit 75 and a clear message
(never a driver traceback), and goes through once the lock is gone; SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from dealvault.cli.main import app
from dealvault.db.locks import NAMESPACE, lock_key
from tests.cli.test_cli import jrun, run, setup_deal
from tests.vault.helpers import customer_row, write_csv

STEWARD = "steward@seller.example"
BUSY = 75


@pytest.fixture
def env(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    values = {
        "DEALVAULT_HOME": str(tmp_path / "store"),
        "DEALVAULT_KEY_PROVIDER": "env",
        "DEALVAULT_MASTER_KEY": secrets.token_bytes(32).hex(),
        "DEALVAULT_ACTOR": STEWARD,
        "DEALVAULT_LOCK_TIMEOUT": "0.3",
    }
    if backend == "postgres":
        make = request.getfixturevalue("pg_database")
        values["DEALVAULT_DATABASE_URL"] = make()
        values["DEALVAULT_KEYSTORE_URL"] = make()
    else:
        values["DEALVAULT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'store' / 'vault.sqlite'}"
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def busy(*args: str) -> str:
    r = CliRunner().invoke(app, list(args))
    out = r.output
    assert r.exit_code == BUSY, f"{args}: exit {r.exit_code}\n{out}\n{r.exception!r}"
    assert "error (busy)" in out and "nothing was changed" in out
    assert "Traceback" not in out and "database is locked" not in out and "psycopg" not in out
    return out


@contextmanager
def held(url: str, *statements: str) -> Iterator[None]:
    """Another client holding locks: ``statements`` run in a transaction kept open."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
            yield
            conn.rollback()
    finally:
        engine.dispose()


def dataset_lock_sql() -> str:
    """What a job on dataset 'crm' of deal d1 (ids 1, 1) holds on PostgreSQL."""
    return f"SELECT pg_advisory_xact_lock({NAMESPACE}, {lock_key('dataset:1:crm')})"


def test_commands_meeting_another_jobs_lock_fail_clearly_then_succeed(
    env: dict[str, str], tmp_path: Path, backend: str
) -> None:
    setup_deal()
    rows = [customer_row(i) for i in range(1, 11)]
    run("import", str(write_csv(tmp_path / "a.csv", rows)), "--deal", "d1", "--dataset", "crm")
    subject = jrun("lookup", "13900000003", "--deal", "d1", "--dataset", "crm")[0]["subject_id"]  # type: ignore[index]
    more = str(write_csv(tmp_path / "b.csv", [customer_row(i) for i in range(20, 23)]))
    commands: list[tuple[str, ...]] = [
        ("import", more, "--deal", "d1", "--dataset", "crm"),
        ("shred", subject, "--deal", "d1", "--dataset", "crm", "--yes"),
        ("keys", "rotate", "--deal", "d1", "--data", "crm"),
    ]
    url = env["DEALVAULT_DATABASE_URL"]
    with held(url, dataset_lock_sql()):
        for args in commands:
            out = busy(*args)
            if backend == "postgres":  # the dataset's own lock: named
                assert "dataset 'crm' is held by another job" in out
    if backend == "postgres":  # a lock the command meets later (the audit log's): generic
        with held(url, "LOCK TABLE audit_events IN EXCLUSIVE MODE"):
            assert "the store is busy" in busy(*commands[1])
    # nothing happened meanwhile; now each goes through
    assert jrun("import", *commands[0][1:])["rows_imported"] == 3  # type: ignore[index]
    assert jrun(*commands[1])["keys_destroyed"] == 1  # type: ignore[index]
    assert jrun(*commands[2])["processed"] == 12  # the shredded one is not rotated  # type: ignore[index]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            events = conn.execute(
                select(func.count())
                .select_from(text("audit_events"))
                .where(text("action = 'shred'"))
            ).scalar()
    finally:
        engine.dispose()
    assert events == 1  # the refused attempts left no event behind
