"""Use cases of the access policy: show, validate, check, history, and the audited change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import policy as pol
from dealvault.access import service as access
from dealvault.access.governance_models import PolicyVersion
from dealvault.access.models import Membership, Person
from dealvault.access.stages import MemberRole
from dealvault.audit.service import EventIn
from dealvault.errors import Forbidden
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, checkpoint


class CapOut(BaseModel):
    category: str
    level: str
    exempt: list[str]


class PolicyOut(BaseModel):
    """A policy as people read it; ``matrix`` (role -> stage -> ceiling) is evaluated by Cedar."""

    version: int
    source: str  # "shipped default", "stored" or "file"
    sha256: str
    description: str
    created_at: datetime | None = None
    actor: str | None = None
    comment: str | None = None
    governed_above: str
    training_course: str
    approvals_default: list[str]
    approvals_sensitive: list[str]
    matrix: dict[str, dict[str, str]]
    category_caps: list[CapOut]
    audit_log_roles: list[str]
    frozen_actions: list[str]
    text: str
    cedar: str | None = None


class PolicyVersionOut(BaseModel):
    version: int
    sha256: str
    actor: str | None
    comment: str | None
    created_at: datetime
    in_force: bool


class LevelCheckOut(BaseModel):
    level: str
    allowed: bool
    reasons: list[str]


class CheckOut(BaseModel):
    """The ceiling of a role at a stage for some categories, and Cedar's answer per level."""

    policy_version: int
    role: str
    stage: str
    categories: list[str]
    frozen: bool
    ceiling: str
    levels: list[LevelCheckOut]
    audit_log: bool


def _view(
    policy: pol.Policy,
    *,
    source: str,
    row: PolicyVersion | None = None,
    actor: str | None = None,
    cedar: bool = False,
) -> PolicyOut:
    matrix: dict[str, dict[str, str]] = {}
    for (role, stage, _), level in policy.ceiling_table().items():
        matrix.setdefault(role, {})[stage] = level
    return PolicyOut(
        version=policy.version,
        source=source,
        sha256=policy.sha256,
        description=policy.description,
        created_at=row.created_at if row else None,
        actor=actor,
        comment=row.comment if row else None,
        governed_above=policy.governed_above,
        training_course=policy.training_course,
        approvals_default=list(policy.approvals_default),
        approvals_sensitive=list(policy.approvals_sensitive),
        matrix=matrix,
        category_caps=[
            CapOut(category=c, level=cap.level, exempt=list(cap.exempt))
            for c, cap in policy.category_caps.items()
        ],
        audit_log_roles=list(policy.audit_log_roles),
        frozen_actions=list(policy.frozen_actions),
        text=policy.text,
        cedar=policy.cedar if cedar else None,
    )


def _emails(session: Session, rows: Sequence[PolicyVersion]) -> dict[int, str]:
    ids = {r.actor_id for r in rows if r.actor_id is not None}
    if not ids:
        return {}
    return {p.id: p.email for p in session.scalars(select(Person).where(Person.id.in_(ids)))}


def show_policy(stores: AppStores, *, cedar: bool = False) -> PolicyOut:
    """The policy in force: the newest stored version, else the shipped default."""
    with stores.records_session() as s:
        policy = pol.active_policy(s)
        if policy.version == 0:
            return _view(policy, source="shipped default", cedar=cedar)
        row = s.scalar(select(PolicyVersion).where(PolicyVersion.version == policy.version))
        assert row is not None  # active_policy just read it
        actor = _emails(s, [row]).get(row.actor_id) if row.actor_id is not None else None
        return _view(policy, source="stored", row=row, actor=actor, cedar=cedar)


def validate_policy(*, text: str, cedar: bool = False) -> PolicyOut:
    """Check a policy file: it parses, compiles to valid Cedar and only tightens the default."""
    policy = pol.parse_policy(text)
    pol.require_tightening(policy)
    return _view(policy, source="file", cedar=cedar)


def policy_history(stores: AppStores) -> list[PolicyVersionOut]:
    """Every stored version, oldest first (none: the shipped default is in force)."""
    with stores.records_session() as s:
        rows = pol.policy_versions(s)
        emails = _emails(s, rows)
        newest = rows[-1].version if rows else None
        return [
            PolicyVersionOut(
                version=r.version,
                sha256=r.sha256,
                actor=emails.get(r.actor_id) if r.actor_id is not None else None,
                comment=r.comment,
                created_at=r.created_at,
                in_force=r.version == newest,
            )
            for r in rows
        ]


def check_policy(
    stores: AppStores,
    *,
    role: str,
    stage: str,
    categories: Sequence[str] = (),
    frozen: bool = False,
) -> CheckOut:
    """What the policy in force gives ``role`` at ``stage`` for ``categories``."""
    with stores.records_session() as s:
        policy = pol.active_policy(s)
    ceiling = policy.ceiling(role=role, stage=stage, categories=categories)
    levels = []
    for level in pol.LEVELS[1:]:
        ok, reasons = policy.allows(
            role=role, stage=stage, level=level, categories=categories, frozen=frozen
        )
        levels.append(LevelCheckOut(level=level, allowed=ok, reasons=list(reasons)))
    return CheckOut(
        policy_version=policy.version,
        role=role,
        stage=stage,
        categories=sorted(set(categories)),
        frozen=frozen,
        ceiling=ceiling,
        levels=levels,
        audit_log=policy.allows_audit_log(role=role, stage=stage, frozen=frozen)[0],
    )


def _is_steward(session: Session, person: Person) -> bool:
    q = select(Membership.id).where(
        Membership.person_id == person.id, Membership.role == MemberRole.SELLER_STEWARD.value
    )
    return session.scalar(q.limit(1)) is not None


def set_policy(
    stores: AppStores, *, text: str, actor: str, comment: str | None
) -> PolicyVersionOut:
    """Store a new policy version and record ``policy.change`` in the same transaction.

    Only a seller steward of at least one deal may do it; a refusal is recorded too.
    """
    with stores.unit_of_work() as uow:
        s = uow.records
        who = access.get_person(s, email=actor)
        email = who.email
        if _is_steward(s, who):
            old = pol.active_policy(s)
            row = pol.set_policy(s, text=text, actor=who, comment=comment)
            audit(
                stores,
                uow,
                EventIn(
                    action="policy.change",
                    actor=who.email,
                    objects={
                        "old_version": old.version,
                        "old_sha256": old.sha256,
                        "new_version": row.version,
                        "new_sha256": row.sha256,
                    },
                    purpose=comment,
                    decision="allow",
                ),
            )
            checkpoint(stores, uow, reason=f"access policy version {row.version}")
            return PolicyVersionOut(
                version=row.version,
                sha256=row.sha256,
                actor=who.email,
                comment=row.comment,
                created_at=row.created_at,
                in_force=True,
            )
    why = "only a seller steward of a deal may change the access policy"
    with stores.unit_of_work() as uow:
        audit(
            stores,
            uow,
            EventIn(action="policy.change", actor=email, decision="deny", reasons=(why,)),
        )
    raise Forbidden(f"access denied: {why}", code="denied")
