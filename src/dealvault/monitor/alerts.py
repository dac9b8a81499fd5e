"""Alerts: hits merged into de-duplicated rows (same rule, deal, subject and local day: one
alert with a count), and listing, showing and acknowledging them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import polars as pl
from pydantic import BaseModel, Field
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.monitor.models import Alert
from dealvault.monitor.rules import SEVERITIES, RuleSet

STATUSES: Final = ("open", "acknowledged")
_NO_DEAL: Final = "\x00"  # a store alert's deal while hits are grouped
_CHUNK: Final = 500


class AlertOut(BaseModel):
    """An alert as shown: names people, deals and counts, never a personal value."""

    id: int
    rule: str
    kind: str
    severity: str
    deal: str | None = Field(description="The deal's code; null for an alert about the store.")
    subject: str = Field(description="Whom or what it is about: a person, a grant, a canary.")
    status: str
    count: int = Field(description="Events (or reports) that made the rule fire in the window.")
    window_start: datetime
    window_end: datetime
    first_seq: int | None = None
    last_seq: int | None = None
    title: str
    explanation: str
    details: dict[str, Any] = Field(default_factory=dict)
    froze: bool = Field(description="This alert froze its deal (its rule says freeze).")
    rules_version: int
    created_at: datetime
    updated_at: datetime
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_note: str | None = None
    delivered_at: datetime | None = None
    delivery_error: str | None = None


def alert_view(row: Alert) -> AlertOut:
    try:
        details = json.loads(row.details or "{}")
    except ValueError:
        details = {}
    return AlertOut(
        id=row.id,
        rule=row.rule,
        kind=row.kind,
        severity=row.severity,
        deal=row.deal,
        subject=row.subject,
        status=row.status,
        count=row.count,
        window_start=row.window_start,
        window_end=row.window_end,
        first_seq=row.first_seq,
        last_seq=row.last_seq,
        title=row.title,
        explanation=row.explanation,
        details=details if isinstance(details, dict) else {},
        froze=row.froze,
        rules_version=row.rules_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        ack_note=row.ack_note,
        delivered_at=row.delivered_at,
        delivery_error=row.delivery_error,
    )


def dedup_key(rule: str, deal: str | None, subject: str, window_start: datetime) -> str:
    text = f"{rule}\n{deal or '-'}\n{subject}\n{window_start.isoformat()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hits(
    session: Session, hits: pl.DataFrame, *, rules: RuleSet, now: datetime | None = None
) -> tuple[list[Alert], list[Alert]]:
    """Merge ``hits`` into alerts: a new alert per rule, deal, subject and local day, or more
    ``count`` on the one there is. Hits of events an alert already counted (``seq`` up to its
    ``last_seq``) count nothing. Returns (new alerts, alerts that grew). Flushes."""
    if hits.is_empty():
        return [], []
    now = now or utcnow()
    group = ["rule", "deal", "subject", "window_start"]
    hits = _windows(hits, rules.utc_offset_minutes).with_columns(pl.col("deal").fill_null(_NO_DEAL))
    keys = hits.select(group).unique()
    keys = keys.with_columns(
        key=pl.Series(
            [
                dedup_key(r, None if d == _NO_DEAL else d, sub, w)
                for r, d, sub, w in keys.iter_rows()
            ],
            dtype=pl.String,
        )
    )
    existing: dict[str, Alert] = {}
    wanted = keys.get_column("key").to_list()
    for i in range(0, len(wanted), _CHUNK):
        for found in session.scalars(
            select(Alert).where(Alert.dedup_key.in_(wanted[i : i + _CHUNK]))
        ):
            existing[found.dedup_key] = found
    counted = pl.DataFrame(
        [(k, a.last_seq) for k, a in existing.items()],
        schema={"key": pl.String, "counted": pl.Int64},
        orient="row",
    )
    merged = (
        hits.join(keys, on=group, how="left")
        .join(counted, on="key", how="left")
        .filter(
            pl.col("seq").is_null()
            | pl.col("counted").is_null()
            | (pl.col("seq") > pl.col("counted"))
        )
        .sort("seq", "ts", nulls_last=False)
        .group_by("key", maintain_order=True)
        .agg(
            *(pl.col(c).first() for c in group),
            pl.len().alias("n"),
            pl.col("seq").min().alias("first_seq"),
            pl.col("seq").max().alias("last_seq"),
            *(pl.col(c).last() for c in ("title", "explanation", "details")),
        )
    )
    fresh: list[dict[str, Any]] = []
    grown: list[Alert] = []
    for g in merged.iter_rows(named=True):
        row = existing.get(g["key"])
        if row is None:
            rule = rules.get(g["rule"])
            fresh.append(
                {
                    "dedup_key": g["key"],
                    "rule": g["rule"],
                    "kind": rule.kind if rule else "unknown",
                    "severity": rule.severity if rule else "warning",
                    "deal": None if g["deal"] == _NO_DEAL else g["deal"],
                    "subject": str(g["subject"])[:254],
                    "window_start": g["window_start"],
                    "window_end": g["window_start"] + timedelta(days=1),
                    "count": int(g["n"]),
                    "first_seq": g["first_seq"],
                    "last_seq": g["last_seq"],
                    "title": str(g["title"])[:300],
                    "explanation": str(g["explanation"]),
                    "details": str(g["details"] or "{}"),
                    "status": "open",
                    "froze": False,
                    "rules_version": rules.version,
                    "created_at": now,
                    "updated_at": now,
                    "delivery_attempts": 0,
                }
            )
            continue
        grown.append(row)
        row.count = (row.count or 0) + int(g["n"])
        if g["last_seq"] is not None:
            row.last_seq = max(int(g["last_seq"]), row.last_seq if row.last_seq is not None else -1)
        row.title = str(g["title"])[:300]
        row.explanation = str(g["explanation"])
        row.details = str(g["details"] or "{}")
        row.updated_at = now
    session.flush()
    # new alerts in one statement (ORM bulk insert, the rows returned as objects, in order)
    new = (
        list(session.scalars(insert(Alert).returning(Alert, sort_by_parameter_order=True), fresh))
        if fresh
        else []
    )
    return new, grown


def _windows(hits: pl.DataFrame, offset_minutes: int) -> pl.DataFrame:
    local = pl.col("ts").dt.replace_time_zone(None) + pl.duration(minutes=offset_minutes)
    start = local.dt.truncate("1d") - pl.duration(minutes=offset_minutes)
    return hits.with_columns(window_start=start.dt.replace_time_zone("UTC"))


def get_alert(session: Session, *, alert_id: int) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None:
        raise NotFound(f"alert {alert_id} not found")
    return row


def list_alerts(
    session: Session,
    *,
    deals: Sequence[str],
    store: bool,
    status: str | None = None,
    severity: str | None = None,
    limit: int = 200,
) -> list[Alert]:
    """Alerts of ``deals`` (and of the store as a whole when ``store``), newest first."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"unknown status {status!r}; choose one of: {', '.join(STATUSES)}")
    if severity is not None and severity not in SEVERITIES:
        raise Invalid(f"unknown severity {severity!r}; choose one of: {', '.join(SEVERITIES)}")
    if not 1 <= limit <= 10_000:
        raise Invalid("limit must be between 1 and 10000")
    where = []
    if deals:
        where.append(Alert.deal.in_(list(deals)))
    if store:
        where.append(Alert.deal.is_(None))
    if not where:
        return []
    q = select(Alert).where(or_(*where))
    if status is not None:
        q = q.where(Alert.status == status)
    if severity is not None:
        q = q.where(Alert.severity == severity)
    return list(session.scalars(q.order_by(Alert.id.desc()).limit(limit)))


def acknowledge(session: Session, row: Alert, *, by: str, note: str, now: datetime) -> Alert:
    """Mark an open alert as handled, with a note (Conflict if it already is)."""
    if not note.strip():
        raise Invalid("a note is required to acknowledge an alert (what was done)")
    if row.status == "acknowledged":
        raise Conflict(f"alert {row.id} is already acknowledged by {row.acked_by}")
    row.status = "acknowledged"
    row.acked_by = by
    row.acked_at = now
    row.ack_note = note.strip()[:2000]
    row.updated_at = now
    session.flush()
    return row
