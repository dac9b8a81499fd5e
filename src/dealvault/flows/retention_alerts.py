"""The monitor's retention check: an alert (warning) for every active retention rule whose
periodic review is overdue, raised once per rule and due day, where a deal's alerts are seen."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Final

import polars as pl
from sqlalchemy import select

from dealvault.access.models import Deal
from dealvault.db.stores import UnitOfWork
from dealvault.monitor.alerts import record_hits
from dealvault.monitor.hits import HITS
from dealvault.monitor.models import Alert
from dealvault.monitor.rules import RuleSet
from dealvault.retention.models import RetentionRule
from dealvault.vault.models import Dataset

RULE: Final = "retention_review_overdue"
KIND: Final = "retention_review"
SEVERITY: Final = "warning"


def review_alerts(uow: UnitOfWork, *, rules: RuleSet, now: datetime) -> list[Alert]:
    """New alerts for the reviews overdue now (a review due yesterday or before: none was
    recorded since). Returns the new alerts."""
    s = uow.records
    today = now.astimezone(UTC).date()
    found = s.execute(
        select(RetentionRule, Deal.code, Dataset.name)
        .join(Deal, Deal.id == RetentionRule.deal_id)
        .join(Dataset, Dataset.id == RetentionRule.dataset_id)
        .where(RetentionRule.status == "active", RetentionRule.next_review < today)
        .order_by(RetentionRule.id)
    ).all()
    rows: list[dict[str, object]] = []
    for rule, deal, dataset in found:
        what = f"dataset {dataset}" + (f", category {rule.category}" if rule.category else "")
        days = (today - rule.next_review).days
        rows.append(
            {
                "rule": RULE,
                "seq": None,
                "ts": now,
                "deal": deal,
                "subject": f"retention rule #{rule.id} review due {rule.next_review.isoformat()}",
                "title": f"retention rule #{rule.id}: its periodic review is overdue",
                "explanation": f"The retention rule #{rule.id} of {what} was due for its "
                f"periodic review on {rule.next_review:%Y-%m-%d} ({days} day(s) ago; every "
                f"{rule.review_every} days). Review it: dealvault retention review {rule.id} "
                "--note TEXT.",
                "details": json.dumps(
                    {"retention_rule": rule.id, "due": rule.next_review.isoformat(), "days": days}
                ),
            }
        )
    if not rows:
        return []
    subjects = [str(r["subject"]) for r in rows]
    raised = set(
        s.scalars(select(Alert.subject).where(Alert.kind == KIND, Alert.subject.in_(subjects)))
    )
    fresh = [r for r in rows if r["subject"] not in raised]
    if not fresh:
        return []
    new, _ = record_hits(s, pl.DataFrame(fresh, schema=HITS), rules=rules, now=now)
    for a in new:
        a.kind, a.severity = KIND, SEVERITY
    s.flush()
    return new
