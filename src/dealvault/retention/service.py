"""Retention rules: set (a category ends no later than its dataset), review, what is due, what
holds a destruction back, and the views (ids, dates and counts, never a personal value)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Person
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.incidents.models import Incident
from dealvault.ingest.fields import Category
from dealvault.retention.models import RetentionReview, RetentionRule
from dealvault.transfer.models import TransferPackage, TransferPlan
from dealvault.vault.models import Dataset

CATEGORIES: Final = tuple(c.value for c in Category)
#: reviews due within this many days are listed by ``retention due``
SOON_DAYS: Final = 14
MAX_DAYS: Final = 36_600  # a hundred years
MIN_BASIS_WORDS: Final = 2
#: (rule, kind, state, day) of one thing due
DueItem = tuple[RetentionRule, str, str, date]


class RuleOut(BaseModel):
    id: int
    deal: str
    dataset: str
    category: str | None = Field(description="None: the whole dataset.")
    start: date = Field(description="The day the keeping counts from.")
    keep_days: int | None = None
    end: date = Field(description="The last day kept: destroyed from the day after.")
    review_every: int
    next_review: date
    basis: str
    status: str = Field(description="active, destroyed or superseded")
    reviews: int = 0
    certificate: int | None = None


class DueOut(BaseModel):
    """One thing due: a review (overdue or due soon) or a destruction (due or upcoming)."""

    rule: int
    deal: str
    dataset: str
    category: str | None
    kind: str = Field(description="review or destruction")
    state: str = Field(description="review: overdue or due-soon; destruction: due or upcoming")
    day: date = Field(description="The review's due day, or the retention's last day.")
    days: int = Field(description="Days from today to that day (negative: past).")


def valid_category(category: str | None) -> str | None:
    if category is None:
        return None
    c = category.strip().lower()
    if c not in CATEGORIES:
        raise Invalid(f"unknown category {category!r}; choose one of: {', '.join(CATEGORIES)}")
    return c


def first_import(dataset: Dataset) -> date:
    """The day a dataset was first imported (the default start of its retention)."""
    return dataset.created_at.date()


@dataclass(frozen=True)
class Term:
    """The terms of a rule as given: keep N days from ``start`` or keep until a day."""

    start: date
    keep_days: int | None
    until: date | None
    review_every: int
    basis: str

    def end(self) -> date:
        if (self.keep_days is None) == (self.until is None):
            raise Invalid("give either --keep-days or --until")
        if self.keep_days is not None:
            if not 1 <= self.keep_days <= MAX_DAYS:
                raise Invalid(f"--keep-days must be between 1 and {MAX_DAYS}")
            return self.start + timedelta(days=self.keep_days)
        assert self.until is not None
        if self.until < self.start:
            raise Invalid("--until is before the day the keeping counts from")
        return self.until

    def check(self) -> None:
        if not 1 <= self.review_every <= 3660:
            raise Invalid("--review-every must be between 1 and 3660 days")
        if len(self.basis.split()) < MIN_BASIS_WORDS:
            raise Invalid("--basis needs the legal or contractual basis in words (e.g. 'PIPL "
                          "art. 19; contract 2026-117')")  # fmt: skip


def rules_of(
    session: Session, *, deal: Deal, dataset: Dataset | None = None, active: bool = False
) -> list[RetentionRule]:
    q = select(RetentionRule).where(RetentionRule.deal_id == deal.id)
    if dataset is not None:
        q = q.where(RetentionRule.dataset_id == dataset.id)
    if active:
        q = q.where(RetentionRule.status == "active")
    return list(session.scalars(q.order_by(RetentionRule.id)))


def get(session: Session, *, rule_id: int) -> RetentionRule:
    row = session.get(RetentionRule, rule_id)
    if row is None:
        raise NotFound(f"retention rule {rule_id} not found")
    return row


def set_rule(
    session: Session,
    *,
    deal: Deal,
    dataset: Dataset,
    category: str | None,
    term: Term,
    by: Person,
    today: date,
    now: datetime,
) -> tuple[RetentionRule, bool]:
    """Create or change the rule of (dataset, category). A category rule needs its dataset's
    rule and ends no later; a dataset rule ends no earlier than its category rules. Returns
    (the rule, whether it is new)."""
    term.check()
    end = term.end()
    if dataset.status == "shredded":
        raise Conflict(f"dataset {dataset.name!r} is already destroyed")
    rows = rules_of(session, deal=deal, dataset=dataset, active=True)
    whole = next((r for r in rows if r.category is None), None)
    mine = next((r for r in rows if r.category == category), None)
    if category is not None:
        if whole is None:
            raise Conflict(f"set the retention of dataset {dataset.name!r} as a whole first: a "
                           "category's retention ends no later than its dataset's")  # fmt: skip
        if end > whole.end:
            raise Conflict(f"the {category} category would be kept until {end}, after its "
                           f"dataset's end ({whole.end}): a category ends no later than its "
                           "dataset")  # fmt: skip
    else:
        later = [r for r in rows if r.category is not None and r.end > end]
        if later:
            raise Conflict(f"the dataset would end on {end}, before its rule(s) for "
                           f"{', '.join(sorted(str(r.category) for r in later))} end: shorten "
                           "those first")  # fmt: skip
    new = mine is None
    row = mine or RetentionRule(deal_id=deal.id, dataset_id=dataset.id, category=category,
                                created_by=by.id, created_at=now, status="active")  # fmt: skip
    row.start, row.keep_days, row.end = term.start, term.keep_days, end
    row.review_every, row.basis, row.updated_at = term.review_every, term.basis.strip(), now
    row.next_review = today + timedelta(days=term.review_every)
    if new:
        session.add(row)
    session.flush()
    return row, new


def review(
    session: Session, row: RetentionRule, *, by: Person, note: str, today: date, now: datetime
) -> RetentionReview:
    """Record a periodic review: the next is due ``review_every`` days from today."""
    if len(note.split()) < MIN_BASIS_WORDS:
        raise Invalid("a review needs a note (what was checked, what was decided)")
    if row.status != "active":
        raise Conflict(f"retention rule {row.id} is {row.status}: nothing is left to review")
    row.next_review = today + timedelta(days=row.review_every)
    row.updated_at = now
    entry = RetentionReview(rule_id=row.id, reviewer_id=by.id, note=note.strip(), at=now,
                            next_review=row.next_review)  # fmt: skip
    session.add(entry)
    session.flush()
    return entry


def due(rows: Sequence[RetentionRule], *, today: date, soon: int = SOON_DAYS) -> list[DueItem]:
    """(rule, kind, state, day) of every active rule's review overdue or due within ``soon``
    days, and of its destruction due (its end passed) or upcoming within ``soon`` days."""
    out: list[DueItem] = []
    horizon = today + timedelta(days=soon)
    for r in rows:
        if r.status != "active":
            continue
        if r.next_review < today:
            out.append((r, "review", "overdue", r.next_review))
        elif r.next_review <= horizon:
            out.append((r, "review", "due-soon", r.next_review))
        if r.end < today:
            out.append((r, "destruction", "due", r.end))
        elif r.end <= horizon:
            out.append((r, "destruction", "upcoming", r.end))
    return out


def ended(row: RetentionRule, *, today: date) -> bool:
    """The rule's last day is past: what it covers is destroyed now."""
    return row.status == "active" and row.end < today


def holds(session: Session, *, deal: Deal, dataset: Dataset) -> list[str]:
    """What holds a destruction of ``dataset`` back: a frozen deal, an open incident of the
    deal (its evidence), a transfer plan of the dataset pending or approved and not packaged."""
    out: list[str] = []
    if deal.frozen:
        out.append(f"deal {deal.code} is frozen")
    incidents = session.scalar(
        select(func.count()).select_from(Incident)
        .where(Incident.deal == deal.code, Incident.status == "open")
    )  # fmt: skip
    if incidents:
        out.append(f"{incidents} incident(s) of deal {deal.code} are open (a legal hold)")
    packaged = select(TransferPackage.plan_id)
    plans = session.scalars(
        select(TransferPlan.id).where(
            TransferPlan.dataset_id == dataset.id,
            TransferPlan.status.in_(("pending", "approved")),
            TransferPlan.id.not_in(packaged),
        )
    ).all()
    if plans:
        out.append(f"transfer plan(s) {', '.join(f'#{p}' for p in plans)} of dataset "
                   f"{dataset.name} are not packaged yet")  # fmt: skip
    return out


def view(session: Session, row: RetentionRule) -> RuleOut:
    deal = session.get(Deal, row.deal_id)
    ds = session.get(Dataset, row.dataset_id)
    reviews = session.scalar(
        select(func.count()).select_from(RetentionReview).where(RetentionReview.rule_id == row.id)
    )
    return RuleOut(
        id=row.id, deal=deal.code if deal else "?", dataset=ds.name if ds else "?",
        category=row.category, start=row.start, keep_days=row.keep_days, end=row.end,
        review_every=row.review_every, next_review=row.next_review, basis=row.basis,
        status=row.status, reviews=int(reviews or 0), certificate=row.certificate_id,
    )  # fmt: skip


def due_view(session: Session, item: DueItem, *, today: date) -> DueOut:
    row, kind, state, day = item
    v = view(session, row)
    return DueOut(rule=row.id, deal=v.deal, dataset=v.dataset, category=row.category, kind=kind,
                  state=state, day=day, days=(day - today).days)  # fmt: skip
