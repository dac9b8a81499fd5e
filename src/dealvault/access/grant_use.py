"""Grants in force: which one covers a read, the rows it has delivered, and revocation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from dealvault.access.governance_models import AccessRequest, Grant
from dealvault.access.grants import (
    LEVELS,
    REVOKERS,
    dataset_name,
    parse_categories,
    parse_level,
    split,
)
from dealvault.access.models import Deal, Person
from dealvault.access.service import member_roles
from dealvault.db.memo import recall
from dealvault.errors import Conflict, Forbidden, Invalid, NotFound


def get_grant(session: Session, *, grant_id: int, lock: bool = False) -> Grant:
    grant = session.get(Grant, grant_id, with_for_update=lock or None)
    if grant is None:
        raise NotFound(f"grant {grant_id} not found")
    return grant


def grant_for(session: Session, *, request: AccessRequest) -> Grant | None:
    return session.scalar(select(Grant).where(Grant.request_id == request.id))


def revoker_problem(session: Session, *, person: Person, deal: Deal) -> tuple[str, ...]:
    if not member_roles(session, deal=deal, person=person) & REVOKERS:
        return ("only a seller steward or security officer of the deal may revoke a grant",)
    return ()


def revoke(
    session: Session, *, grant: Grant, actor: Person, deal: Deal, reason: str, at: datetime
) -> Grant:
    """End a grant at ``at`` (it covers nothing from that instant on)."""
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason for the revocation")
    problems = revoker_problem(session, person=actor, deal=deal)
    if problems:
        raise Forbidden("access denied: " + "; ".join(problems), code="denied")
    if grant.revoked_at is not None:
        raise Conflict(f"grant {grant.id} is already revoked", code="already_revoked")
    grant.revoked_at = at
    grant.revoked_by = actor.id
    grant.revoke_reason = reason
    session.flush()
    return grant


def grant_state(grant: Grant, at: datetime) -> str:
    """``active``, ``revoked``, ``expired`` or ``future`` at the instant ``at``."""
    if grant.revoked_at is not None and grant.revoked_at <= at:
        return "revoked"
    if at < grant.granted_at:
        return "future"
    if at >= grant.expires_at:
        return "expired"
    return "active"


def _grants(session: Session, *, person: Person, deal: Deal, dataset_id: int) -> list[Grant]:
    def load() -> tuple[Grant, ...]:
        return tuple(
            session.scalars(
                select(Grant)
                .where(
                    Grant.person_id == person.id,
                    Grant.deal_id == deal.id,
                    Grant.dataset_id == dataset_id,
                )
                .order_by(Grant.id)
            )
        )

    return list(recall(session, ("grants", person.id, deal.id, dataset_id), load))


def active_grants(
    session: Session, *, person: Person, deal: Deal, dataset_id: int, at: datetime
) -> list[Grant]:
    """Grants in force at ``at``: granted_at <= at < expires_at and not revoked by ``at``."""
    return [
        g
        for g in _grants(session, person=person, deal=deal, dataset_id=dataset_id)
        if grant_state(g, at) == "active"
    ]


def rows_left(grant: Grant) -> int | None:
    """Rows the grant may still deliver (None: no cap)."""
    return None if grant.row_cap is None else max(grant.row_cap - grant.rows_used, 0)


def covers(grant: Grant, *, categories: Sequence[str], level: str) -> bool:
    return LEVELS.index(grant.level) >= LEVELS.index(level) and set(categories) <= set(
        split(grant.categories)
    )


def grant_problem(
    session: Session,
    *,
    person: Person,
    deal: Deal,
    dataset_id: int,
    categories: Sequence[str],
    level: str,
    at: datetime,
    dataset: str | None = None,
) -> tuple[Grant | None, str | None]:
    """The best grant in force covering every category at ``level`` or above, or why none
    (``dataset``: the dataset's name for the reason, when the caller has it).

    Best: rows left first, then the most rows left (uncapped counts as most), then the
    latest expiry. A covering grant whose row cap is used up is reported as the reason. No
    categories: any grant at ``level`` or above covers.
    """
    cats = parse_categories(categories) if categories else ()
    lvl = parse_level(level)
    grants = _grants(session, person=person, deal=deal, dataset_id=dataset_id)
    live = [g for g in grants if grant_state(g, at) == "active"]
    fits = [g for g in live if covers(g, categories=cats, level=lvl)]

    def rank(g: Grant) -> tuple[bool, float, datetime]:
        left = rows_left(g)
        return (left != 0, float("inf") if left is None else left, g.expires_at)

    if fits:
        best = max(fits, key=rank)
        if rows_left(best) != 0:
            return best, None
        return None, (
            f"row cap of grant {best.id} is used up ({best.rows_used} of {best.row_cap} rows)"
        )
    name = dataset or dataset_name(session, dataset_id)
    what = f"{lvl}{' of ' + ', '.join(cats) if cats else ''} in {name}"
    return None, f"no approved grant for {what} ({_summary(grants, live, at)})"


def _summary(grants: list[Grant], live: list[Grant], at: datetime) -> str:
    parts: list[str] = []
    expired = [g for g in grants if grant_state(g, at) == "expired"]
    if expired:
        last = max(g.expires_at for g in expired)
        parts.append(f"{len(expired)} expired {last:%Y-%m-%d}")
    revoked = sum(grant_state(g, at) == "revoked" for g in grants)
    if revoked:
        parts.append(f"{revoked} revoked")
    future = sum(grant_state(g, at) == "future" for g in grants)
    if future:
        parts.append(f"{future} not yet in force")
    if live:
        shown = "; ".join(f"{g.level} of {g.categories.replace(',', ', ')}" for g in live)
        parts.append(f"{len(live)} in force not covering it: {shown}")
    return "grants: " + ", ".join(parts) if parts else "no grants"


def add_rows(session: Session, *, grant_id: int, rows: int) -> None:
    """Count ``rows`` delivered on a grant without a row cap: one atomic increment, so reads
    on the grant need not queue behind each other while they are built."""
    if rows < 0:
        raise Invalid("rows to deliver must not be negative")
    session.execute(
        update(Grant).where(Grant.id == grant_id).values(rows_used=Grant.rows_used + rows)
    )


def consume_rows(grant: Grant, *, rows: int, locked: bool = False) -> int:
    """Reserve up to ``rows`` rows of delivery on ``grant``; returns how many may be delivered.

    With a row cap that is ``min(rows, row_cap - rows_used)``; without one, ``rows``. The
    reserved rows are added to ``rows_used`` (in the caller's transaction; the grant row is
    re-read under a row lock first, so two deliveries cannot both spend the same rows;
    ``locked``: the caller has already done so in this transaction).
    """
    if rows < 0:
        raise Invalid("rows to deliver must not be negative")
    session = object_session(grant)
    if session is not None and grant.id is not None and not locked:
        session.flush()
        session.refresh(grant, with_for_update=True)
    left = rows_left(grant)
    allowed = rows if left is None else min(rows, left)
    grant.rows_used += allowed
    if session is not None:
        session.flush()
    return allowed
