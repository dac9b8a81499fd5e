"""Audit events as one Polars frame: read in batches straight from the driver, bodies decoded
in one pass (never one Python call per event), plus the roles people hold in deals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Membership, Person
from dealvault.access.stages import MemberRole
from dealvault.audit.models import AuditEvent
from dealvault.db.raw import raw_rows

#: Fields of the signed body the rules read (``objects.*`` and ``counts.*`` flattened).
_TEXT: Final = (
    "at", "actor", "action", "deal", "decision", "client", "session", "authn", "device",
)  # fmt: skip
_OBJECTS: Final = ("level", "dataset", "recipient", "package")
_COUNTS: Final = ("rows", "customers", "offset", "grant", "rows_left_before", "canaries")
#: Decoded as text: a field of an unexpected type (a tampered or future body) becomes null
#: when cast, instead of failing the whole batch.
_BODY: Final = pl.Struct(
    {
        **dict.fromkeys(_TEXT, pl.String),
        "reasons": pl.List(pl.String),
        "objects": pl.Struct(dict.fromkeys(_OBJECTS, pl.String)),
        "counts": pl.Struct(dict.fromkeys(_COUNTS, pl.String)),
    }
)
_COLUMNS: Final[dict[str, pl.DataType]] = {
    "seq": pl.Int64(),
    "ts": pl.Datetime("us", "UTC"),
    **{k: pl.String() for k in _TEXT if k != "at"},
    "reasons": pl.List(pl.String),
    "level": pl.String(),
    "dataset": pl.String(),
    "recipient": pl.String(),
    "package": pl.Int64(),
    **{k: pl.Int64() for k in _COUNTS},
}
SCHEMA: Final = pl.Schema(_COLUMNS)


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def decode(seqs: Sequence[int], bodies: Sequence[bytes]) -> pl.DataFrame:
    """The events' bodies (RFC 8785 JSON) as columns of :data:`SCHEMA`, in the order given."""
    if not bodies:
        return empty()
    text = pl.Series("body", bodies, dtype=pl.Binary).cast(pl.String)
    doc = text.str.json_decode(_BODY).struct.unnest()
    objects = doc.get_column("objects").struct.unnest()
    counts = doc.get_column("counts").struct.unnest()
    ts = doc.get_column("at").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.3fZ", time_zone="UTC", strict=False
    )
    return pl.DataFrame(
        {
            "seq": pl.Series(seqs, dtype=pl.Int64),
            "ts": ts.cast(pl.Datetime("us", "UTC")),
            **{k: doc.get_column(k) for k in _TEXT if k != "at"},
            "reasons": doc.get_column("reasons").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            "level": objects.get_column("level"),
            "dataset": objects.get_column("dataset"),
            "recipient": objects.get_column("recipient"),
            "package": objects.get_column("package").cast(pl.Int64, strict=False),
            **{k: counts.get_column(k).cast(pl.Int64, strict=False) for k in _COUNTS},
        },
        schema=SCHEMA,
    )


def _frame(rows: Sequence[tuple[Any, ...]]) -> pl.DataFrame:
    return decode([int(r[0]) for r in rows], [bytes(r[1]) for r in rows])


def load_after(session: Session, *, after: int, limit: int) -> tuple[pl.DataFrame, list[bytes]]:
    """Up to ``limit`` events with ``seq > after``, in log order, and their bodies as stored
    (which the monitor also checks against the log's tree)."""
    stmt = (
        select(AuditEvent.seq, AuditEvent.body)
        .where(AuditEvent.seq > after)
        .order_by(AuditEvent.seq)
        .limit(limit)
    )
    rows = raw_rows(session.connection(), stmt)
    bodies = [bytes(r[1]) for r in rows]
    return decode([int(r[0]) for r in rows], bodies), bodies


def load_window(session: Session, *, since: datetime, upto: int) -> pl.DataFrame:
    """The events from ``since`` on with ``seq <= upto``: the recent past a sliding window
    (minutes) of the next batch's first events reaches back into."""
    first = first_seq_since(session, since=since)
    if first is None or first > upto:
        return empty()
    stmt = (
        select(AuditEvent.seq, AuditEvent.body)
        .where(AuditEvent.seq >= first, AuditEvent.seq <= upto)
        .order_by(AuditEvent.seq)
    )
    return _frame(raw_rows(session.connection(), stmt))


def first_seq_since(session: Session, *, since: datetime) -> int | None:
    """The first event at or after ``since``, found through the time column's index (the log
    is in time order: events are stamped as they are appended)."""
    return session.scalar(
        select(AuditEvent.seq).where(AuditEvent.at >= since).order_by(AuditEvent.at).limit(1)
    )


def roles(session: Session) -> pl.DataFrame:
    """(deal, actor, role): each person's most privileged member role in each deal (the role
    baseline of the volume rule compares people of one role)."""
    rows = session.execute(
        select(Deal.code, Person.email, Membership.role)
        .join(Membership, Membership.deal_id == Deal.id)
        .join(Person, Person.id == Membership.person_id)
    ).all()
    order = {r.value: i for i, r in enumerate(MemberRole)}
    frame = pl.DataFrame(
        [(d, a, r, order.get(r, len(order))) for d, a, r in rows],
        schema={"deal": pl.String, "actor": pl.String, "role": pl.String, "rank": pl.Int64},
        orient="row",
    )
    return frame.sort("rank").unique(["deal", "actor"], keep="first").drop("rank")
