"""Events as the monitor decodes them, built by hand, and rules with chosen parameters: the
detectors are tested on frames, without a store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from dealvault.monitor import engine, events, profiles
from dealvault.monitor.hits import Context
from dealvault.monitor.rules import KINDS, Rule, default_rules

RULES = default_rules()
OFFSET = RULES.utc_offset_minutes  # +08:00
#: Monday 2 March 2026, 09:00 local (01:00 UTC)
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ANA = "analyst@bidder-a.example"
BOB = "analyst@bidder-b.example"


def rule(kind: str, *, id: str | None = None, severity: str = "warning", freeze: bool = False,
         **params: Any) -> Rule:  # fmt: skip
    """A rule of ``kind`` with its defaults and ``params``."""
    spec = KINDS[kind].params
    values = {k: params.get(k, p.default) for k, p in spec.items()}
    return Rule(id=id or kind, kind=kind, severity=severity, freeze=freeze, params=values)


def ev(seq: int, at: datetime, **fields: Any) -> dict[str, Any]:
    """One decoded event: an allowed ``disclose`` of deal d1 by ANA unless said otherwise."""
    row: dict[str, Any] = {
        "seq": seq, "ts": at, "actor": ANA, "action": "disclose", "deal": "d1",
        "decision": "allow", "reasons": [], "level": "masked",
    }  # fmt: skip
    row.update(fields)
    return row


def frame(rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """The events with the columns the detectors read."""
    data = list(rows)
    df = pl.DataFrame(data, schema=events.SCHEMA) if data else events.empty()
    return engine.prepare(df, RULES)


def history(rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """What the monitor would have stored about these (earlier) events."""
    return profiles.activity_of(frame(rows))


def context(start: int, **more: Any) -> Context:
    """A context whose batch starts at ``start`` (earlier rows: the windows' recent past)."""
    return Context(start_seq=start, offset_minutes=OFFSET, **more)


def hits(r: Rule, rows: Sequence[dict[str, Any]], ctx: Context) -> pl.DataFrame:
    return engine.DETECTORS[r.kind](frame(rows), ctx, r)


def days(n: int, start: datetime = T0) -> list[datetime]:
    """``n`` consecutive days before ``start`` (oldest first), same time of day."""
    return [start - timedelta(days=n - i) for i in range(n)]
