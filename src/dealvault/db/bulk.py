"""Bulk loads and reads inside the current transaction, on the driver: executemany or COPY in,
plain tuples out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

#: From this many rows PostgreSQL gets COPY; fewer go as one INSERT (psycopg pipelines an
#: executemany): COPY's own exchange costs more round trips than a few rows are worth.
COPY_FROM = 64


def bulk_insert(
    session: Session, *, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the session's
    transaction: COPY on PostgreSQL for many rows, else one pipelined INSERT."""
    if not rows:
        return 0
    conn = session.connection()
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM and not _pipelined(conn):
        raw = conn.connection.driver_connection
        types = _binary_types(conn, table, columns)
        how = " (FORMAT BINARY)" if types else ""
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN{how}") as copy:  # type: ignore[union-attr]
            if types:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        return len(rows)
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    marks = ", ".join(mark for _ in columns)
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
    finally:
        cur.close()
    return len(rows)


#: column types whose Python values (int, str, bytes, bool, None) psycopg writes in COPY's
#: binary format as they come; a table with any other column type is copied as text
_BINARY_SAFE = frozenset({"smallint", "integer", "bigint", "bytea", "text", "boolean"})


def _binary_types(conn: Any, table: str, columns: Sequence[str]) -> list[str] | None:
    """The PostgreSQL types of ``columns`` for a binary COPY (bytea travels as it is, not
    as hex text), or None when one is not in :data:`_BINARY_SAFE`. Read from the catalog
    once per connection and table."""
    cache: dict[tuple[str, tuple[str, ...]], list[str] | None] = conn.connection.info.setdefault(
        "dealvault_copy_types", {}
    )
    key = (table, tuple(columns))
    if key not in cache:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table,),
            )
            found = {name: kind for name, kind in cur.fetchall()}
        kinds = [
            "text" if found.get(c) == "character varying" else found.get(c, "?") for c in columns
        ]
        cache[key] = kinds if all(k in _BINARY_SAFE for k in kinds) else None
    return cache[key]


def _pipelined(conn: Any) -> bool:
    """Whether the connection is in psycopg's pipeline mode (COPY is not allowed there)."""
    status = conn.connection.driver_connection.pgconn.pipeline_status
    return bool(status)


def bulk_update(
    session: Session,
    *,
    table: str,
    set_columns: Sequence[str],
    key: str,
    rows: Sequence[Sequence[Any]],
) -> int:
    """Update rows by ``key``; each row is (*set values, key value)."""
    if not rows:
        return 0
    conn = session.connection()
    sets = ", ".join(
        f"{c} = %s" if conn.dialect.name == "postgresql" else f"{c} = ?" for c in set_columns
    )
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        cur.executemany(f"UPDATE {table} SET {sets} WHERE {key} = {mark}", rows)
    finally:
        cur.close()
    return len(rows)


def fetch_tuples(session: Session, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """Run a Core ``select`` on the session's connection (same transaction) and return the
    driver's plain tuples: no Row objects, no result processing. For hot read loops over
    columns whose driver values are already what the caller wants (integers, text, bytes)."""
    conn = session.connection()
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if conn.dialect.positional:
        params = tuple(params[name] for name in compiled.positiontup or ())
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        cur.execute(str(compiled), params)
        return list(cur.fetchall())
    finally:
        cur.close()
