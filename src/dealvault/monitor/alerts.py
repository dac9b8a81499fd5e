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
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.monitor.models import Alert
from dealvault.monitor.rules import SEVERITIES, RuleSet

STATUSES: Final = ("open", "acknowledged")
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
    off = rules.utc_offset_minutes
    hits = _windows(hits, off)
    groups = hits.select("rule", "deal", "subject", "window_start").unique()
    keys = {
        (g["rule"], g["deal"], g["subject"], g["window_start"]): dedup_key(
            g["rule"], g["deal"], g["subject"], g["window_start"]
        )
        for g in groups.iter_rows(named=True)
    }
    existing: dict[str, Alert] = {}
    wanted = sorted(set(keys.values()))
    for i in range(0, len(wanted), _CHUNK):
        for found in session.scalars(
            select(Alert).where(Alert.dedup_key.in_(wanted[i : i + _CHUNK]))
        ):
            existing[found.dedup_key] = found
    new: list[Alert] = []
    grown: list[Alert] = []
    ordered = hits.sort("seq", "ts", nulls_last=False)
    for (rule_id, deal, subject, start), part in ordered.group_by(
        "rule", "deal", "subject", "window_start", maintain_order=True
    ):
        key = keys[(rule_id, deal, subject, start)]
        row: Alert | None = existing.get(key)
        seqs = part.get_column("seq")
        if row is not None and row.last_seq is not None:
            part = part.filter(seqs.is_null() | (seqs > row.last_seq))
        if part.is_empty():
            continue
        last = part.row(part.height - 1, named=True)
        top = part.get_column("seq").max()
        rule = rules.get(str(rule_id))
        if row is None:
            row = Alert(
                dedup_key=key,
                rule=str(rule_id),
                kind=rule.kind if rule else "unknown",
                severity=rule.severity if rule else "warning",
                deal=deal,
                subject=str(subject)[:254],
                window_start=start,
                window_end=start + timedelta(days=1),
                count=0,
                first_seq=part.get_column("seq").min(),
                title=str(last["title"])[:300],
                explanation=str(last["explanation"]),
                details=str(last["details"] or "{}"),
                status="open",
                froze=False,
                rules_version=rules.version,
                created_at=now,
                delivery_attempts=0,
            )
            session.add(row)
            new.append(row)
        elif row not in grown:
            grown.append(row)
        row.count = (row.count or 0) + part.height
        if isinstance(top, int):
            row.last_seq = max(top, row.last_seq if row.last_seq is not None else -1)
        row.title = str(last["title"])[:300]
        row.explanation = str(last["explanation"])
        row.details = str(last["details"] or "{}")
        row.updated_at = now
    session.flush()
    return new, [g for g in grown if g not in new]


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
