"""The content review's records: the dataset state it reviewed (a fingerprint), each review
stored with its counts, the last one of a plan, and the facts the content rules read."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.audit.service import canonical_json
from dealvault.compliance.content_models import ComplianceReview
from dealvault.ingest.fields import Category
from dealvault.transfer.models import TransferPlan
from dealvault.transfer.records import status_counts
from dealvault.vault.models import Dataset, ImportRun

if TYPE_CHECKING:  # the scanner (and its model) only where a review runs
    from dealvault.compliance.content_scan import ScanCounts
    from dealvault.compliance.content_words import WordList


class ReviewOut(BaseModel):
    id: int
    plan: int
    at: datetime
    by: str
    words_version: str = Field(description="Version of the word list used.")
    words_sha256: str = Field(description="SHA-256 of the word list file used.")
    words: dict[str, int] = Field(description="Customers with a listed word, per category.")
    third_party: dict[str, int] = Field(
        description="Customers whose notes hold another person's data, per PI type."
    )
    columns: int = Field(description="Note columns scanned (0: the plan hands over none).")
    customers: int = Field(description="Customers scanned: those the plan would hand over.")
    affected: int = Field(description="Customers with a listed word or another's data.")
    minors: int = Field(description="Customers under 14 counted at import (rule of their own).")
    sensitive_rows: int = Field(description="Rows with sensitive PI counted at import.")


class ContentFacts(TypedDict):
    """What the content rules read about a plan (fields at the end of ``PlanFacts``)."""

    content_reviewed: bool
    content_stale: bool
    content_words: Mapping[str, int]
    content_third_party: Mapping[str, int]


def fingerprint(session: Session, *, dataset: Dataset) -> str:
    """The dataset's state as a review sees it: its last finished import and its customers
    per status (a new import, an opt-out or a shred changes it)."""
    last = session.scalar(
        select(func.max(ImportRun.id)).where(
            ImportRun.dataset_id == dataset.id, ImportRun.finished_at.is_not(None)
        )
    )
    state = {"import": int(last or 0), "status": status_counts(session, dataset=dataset)}
    return "sha256:" + hashlib.sha256(canonical_json(state)).hexdigest()


def imported_counts(session: Session, *, dataset: Dataset) -> tuple[int, int]:
    """Customers under 14 and rows with sensitive PI counted at the dataset's imports."""
    minors, sensitive = session.execute(
        select(func.coalesce(func.sum(ImportRun.minors), 0),
               func.coalesce(func.sum(ImportRun.sensitive_rows), 0))
        .where(ImportRun.dataset_id == dataset.id)
    ).one()  # fmt: skip
    return int(minors or 0), int(sensitive or 0)


def record_review(
    session: Session,
    *,
    plan: TransferPlan,
    dataset: Dataset,
    by: str,
    words: WordList,
    counts: ScanCounts,
    columns: int,
    at: datetime,
) -> ComplianceReview:
    minors, sensitive = imported_counts(session, dataset=dataset)
    row = ComplianceReview(
        plan_id=plan.id, at=at, by=by, words_version=words.version, words_sha256=words.sha256,
        words=json.dumps({c: int(counts.words.get(c, 0)) for c in words.words}, sort_keys=True),
        third_party=json.dumps({k: int(n) for k, n in counts.third_party.items() if n},
                               sort_keys=True),
        columns=columns, customers=counts.scanned, affected=counts.affected, minors=minors,
        sensitive_rows=sensitive, fingerprint=fingerprint(session, dataset=dataset),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def last_review(session: Session, *, plan_id: int) -> ComplianceReview | None:
    return session.scalar(
        select(ComplianceReview)
        .where(ComplianceReview.plan_id == plan_id)
        .order_by(ComplianceReview.id.desc())
        .limit(1)
    )


def content_facts(session: Session, *, plan: TransferPlan, dataset: Dataset) -> ContentFacts:
    """The plan's last content review and whether the dataset changed since (only when the
    plan hands over free text: otherwise there is nothing to review)."""
    none: ContentFacts = {"content_reviewed": False, "content_stale": False,
                          "content_words": {}, "content_third_party": {}}  # fmt: skip
    if Category.FREE_TEXT.value not in plan.categories.split(","):
        return none
    last = last_review(session, plan_id=plan.id)
    if last is None:
        return none
    return {
        "content_reviewed": True,
        "content_stale": last.fingerprint != fingerprint(session, dataset=dataset),
        "content_words": {k: int(v) for k, v in json.loads(last.words).items() if v},
        "content_third_party": {k: int(v) for k, v in json.loads(last.third_party).items() if v},
    }


def view(row: ComplianceReview) -> ReviewOut:
    return ReviewOut(
        id=row.id, plan=row.plan_id, at=row.at, by=row.by, words_version=row.words_version,
        words_sha256=row.words_sha256, words=json.loads(row.words or "{}"),
        third_party=json.loads(row.third_party or "{}"), columns=row.columns,
        customers=row.customers, affected=row.affected, minors=row.minors,
        sensitive_rows=row.sensitive_rows,
    )  # fmt: skip
