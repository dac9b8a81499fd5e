"""Rows of a Core statement straight from the driver's cursor: for the bulk reads of sealed
records, where building SQLAlchemy rows and converting every blob costs more than the query
itself. Same connection, same transaction; the statement is compiled by the dialect."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement


def raw_rows(conn: Connection, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` as the driver's tuples (blobs as ``bytes``)."""
    compiled = cast(
        SQLCompiler,
        stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True}),
    )
    params = compiled.construct_params()
    args: Any = (
        tuple(params[name] for name in compiled.positiontup or ())
        if compiled.positional
        else params
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(compiled.string, args)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return [tuple(r) if not isinstance(r, tuple) else r for r in rows]
