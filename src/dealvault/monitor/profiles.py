"""The baselines the monitor keeps as it reads the log: each person's events and records per
deal, local day and hour, and the client addresses and devices they acted from (first
sighting)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Final

import polars as pl
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dealvault.db.raw import raw_rows
from dealvault.monitor.models import MonitorActivity, MonitorClient, MonitorDevice

ACTIVITY: Final = pl.Schema(
    {
        "actor": pl.String,
        "deal": pl.String,
        "day": pl.Date,
        "hour": pl.Int64,
        "events": pl.Int64,
        "records": pl.Int64,
    }
)
CLIENTS: Final = pl.Schema({"actor": pl.String, "client": pl.String, "first_seq": pl.Int64})
DEVICES: Final = pl.Schema({"actor": pl.String, "device": pl.String, "first_seq": pl.Int64})
#: the first-sighting tables: the event column each keeps, and the table
_FIRSTS: Final[dict[str, Any]] = {"client": MonitorClient, "device": MonitorDevice}
_CHUNK = 500


def activity_of(events: pl.DataFrame) -> pl.DataFrame:
    """Per person, deal ('' outside any deal), local day and hour: events and records (the
    events need :func:`hits.local_columns`)."""
    return (
        events.filter(pl.col("actor").is_not_null())
        .with_columns(pl.col("deal").fill_null(""))
        .group_by("actor", "deal", "day", "hour")
        .agg(pl.len().cast(pl.Int64).alias("events"), pl.col("records").sum().cast(pl.Int64))
        .cast(ACTIVITY)
    )


def load_activity(session: Session, *, since: date) -> pl.DataFrame:
    """Stored activity from local day ``since`` on."""
    stmt = select(
        MonitorActivity.actor,
        MonitorActivity.deal,
        MonitorActivity.day,
        MonitorActivity.hour,
        MonitorActivity.events,
        MonitorActivity.records,
    ).where(MonitorActivity.day >= since.isoformat())
    rows = raw_rows(session.connection(), stmt)
    frame = pl.DataFrame(rows, schema={**ACTIVITY, "day": pl.String}, orient="row")
    return frame.with_columns(pl.col("day").str.to_date("%Y-%m-%d"))


def _load_firsts(
    session: Session, column: str, schema: pl.Schema, actors: Sequence[str]
) -> pl.DataFrame:
    table = _FIRSTS[column]
    rows: list[Any] = []
    wanted = sorted(set(actors))
    for i in range(0, len(wanted), _CHUNK):
        rows += session.execute(
            select(table.actor, getattr(table, column), table.first_seq).where(
                table.actor.in_(wanted[i : i + _CHUNK])
            )
        ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def load_clients(session: Session, *, actors: Sequence[str]) -> pl.DataFrame:
    """Stored first sightings of ``actors``' addresses."""
    return _load_firsts(session, "client", CLIENTS, actors)


def load_devices(session: Session, *, actors: Sequence[str]) -> pl.DataFrame:
    """Stored first sightings of ``actors``' devices."""
    return _load_firsts(session, "device", DEVICES, actors)


def _insert(session: Session, table: Any) -> Any:
    dialect = session.connection().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def add_activity(session: Session, activity: pl.DataFrame) -> None:
    """Add ``activity`` to the stored counts (one upsert per row, sent together)."""
    if activity.is_empty():
        return
    rows = activity.with_columns(pl.col("day").dt.strftime("%Y-%m-%d")).to_dicts()
    stmt = _insert(session, MonitorActivity.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["actor", "deal", "day", "hour"],
        set_={
            "events": MonitorActivity.events + stmt.excluded.events,
            "records": MonitorActivity.records + stmt.excluded.records,
        },
    )
    session.execute(stmt, rows)


def _add_firsts(session: Session, events: pl.DataFrame, column: str) -> None:
    seen = (
        events.filter(pl.col("actor").is_not_null(), pl.col(column).is_not_null())
        .sort("seq")
        .unique(["actor", column], keep="first")
        .select("actor", pl.col(column).str.slice(0, 64), first_seq="seq", first_at="ts")
    )
    if seen.is_empty():
        return
    stmt = _insert(session, _FIRSTS[column].__table__).on_conflict_do_nothing(
        index_elements=["actor", column]
    )
    session.execute(stmt, seen.to_dicts())


def add_clients(session: Session, events: pl.DataFrame) -> None:
    """Record the first sighting of each (person, address) in ``events`` (kept if known)."""
    _add_firsts(session, events, "client")


def add_devices(session: Session, events: pl.DataFrame) -> None:
    """Record the first sighting of each (person, device) in ``events`` (kept if known)."""
    _add_firsts(session, events, "device")


def forget_from(session: Session, *, day: date, seq: int) -> None:
    """Drop what was learnt from local day ``day`` and event ``seq`` on (a run over history
    from there learns it again)."""
    session.execute(delete(MonitorActivity).where(MonitorActivity.day >= day.isoformat()))
    session.execute(delete(MonitorClient).where(MonitorClient.first_seq >= seq))
    session.execute(delete(MonitorDevice).where(MonitorDevice.first_seq >= seq))
