"""What every detector returns: hits (one row per event that made a rule fire) and the local
time columns and event classes the detectors share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import polars as pl

from dealvault.audit.anchoring import RECORD_LEVELS

#: One row per triggering event: the rule, the event (``seq`` None for a finding outside the
#: event stream), the deal (None: the store), the subject (a person, a grant, a canary, the
#: log), and the alert's words and figures as of that event.
HITS: Final = pl.Schema(
    {
        "rule": pl.String(),
        "seq": pl.Int64(),
        "ts": pl.Datetime("us", "UTC"),
        "deal": pl.String(),
        "subject": pl.String(),
        "title": pl.String(),
        "explanation": pl.String(),
        "details": pl.String(),
    }
)


def no_hits() -> pl.DataFrame:
    return pl.DataFrame(schema=HITS)


@dataclass(frozen=True)
class Context:
    """What the detectors see besides the events: the batch's first seq (earlier events are
    context only), the local offset, and the tables the baselines come from."""

    start_seq: int
    offset_minutes: int
    #: (deal, actor, role)
    roles: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())
    #: stored activity before this batch: (actor, deal, day, hour, events, records)
    activity: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())
    #: stored first sightings before this batch: (actor, client, first_seq)
    clients: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())
    #: stored first sightings of devices before this batch: (actor, device, first_seq)
    devices: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())
    #: grants the batch's disclosures drew on: (grant, row_cap, granted_at)
    grants: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())


def local_columns(events: pl.DataFrame, offset_minutes: int) -> pl.DataFrame:
    """``events`` with the local ``day`` (Date), ``hour``, ``minute_of_day`` and ``weekday``
    (1 = Monday), ``records`` (customers a disclosure released at a record level) and
    ``download`` (a disclosure taken out whole, not a page of a view; a package fetched)."""
    local = pl.col("ts").dt.replace_time_zone(None) + pl.duration(minutes=offset_minutes)
    allowed = pl.col("decision") == "allow"
    disclose = (pl.col("action") == "disclose") & allowed
    record_level = pl.col("level").is_null() | pl.col("level").is_in(sorted(RECORD_LEVELS))
    return events.with_columns(
        day=local.dt.date(),
        hour=local.dt.hour().cast(pl.Int64),
        minute_of_day=(local.dt.hour().cast(pl.Int64) * 60 + local.dt.minute().cast(pl.Int64)),
        weekday=local.dt.weekday().cast(pl.Int64),
        records=pl.when(disclose & record_level)
        .then(pl.coalesce("rows", "customers", pl.lit(0, dtype=pl.Int64)))
        .otherwise(0),
        download=(disclose & pl.col("offset").is_null())
        | ((pl.col("action") == "package.fetch") & allowed),
    )


def day_start(day: date, offset_minutes: int) -> datetime:
    """The UTC instant a local day begins."""
    return datetime.combine(day, time(0), tzinfo=UTC) - timedelta(minutes=offset_minutes)


def local_day(at: datetime, offset_minutes: int) -> date:
    return (at.astimezone(UTC) + timedelta(minutes=offset_minutes)).date()


def deal_words(col: str = "deal") -> pl.Expr:
    """'deal X' or 'the store' (an event outside any deal)."""
    return (
        pl.when(pl.col(col).is_null())
        .then(pl.lit("outside any deal"))
        .otherwise(pl.lit("in deal ") + pl.col(col))
    )


def finish(frame: pl.DataFrame, rule: str, *, subject: pl.Expr, details: list[str]) -> pl.DataFrame:
    """Hits of ``rule`` from ``frame`` (which has seq, ts, deal, title, explanation and the
    ``details`` columns), in :data:`HITS` form."""
    if frame.is_empty():
        return no_hits()
    return frame.select(
        rule=pl.lit(rule),
        seq=pl.col("seq").cast(pl.Int64),
        ts=pl.col("ts"),
        deal=pl.col("deal"),
        subject=subject,
        title=pl.col("title"),
        explanation=pl.col("explanation"),
        details=pl.struct(details).struct.json_encode(),
    ).cast(HITS)
