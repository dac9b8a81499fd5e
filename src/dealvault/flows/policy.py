"""Use cases of the access policy: show, validate, check, history, and the audited change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select

from dealvault.access import policy as pol
from dealvault.access import service as access
from dealvault.access.actions import CATALOGUE
from dealvault.access.governance_models import PolicyVersion
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint


class CapOut(BaseModel):
    category: str
    level: str
    exempt: list[str]


class ActionRuleOut(BaseModel):
    roles: list[str]
    stages: list[str]
    help: str


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
    frozen_allow: list[str]
    actions: dict[str, ActionRuleOut]
    deal: str | None = None
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
    deal: str | None = None,
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
        frozen_allow=list(policy.frozen_allow),
        actions={
            name: ActionRuleOut(
                roles=list(rule.roles), stages=list(rule.stages), help=CATALOGUE[name].help
            )
            for name, rule in policy.actions.items()
        },
        deal=deal,
        text=policy.text,
        cedar=policy.cedar if cedar else None,
    )


def shipped_policy(*, cedar: bool = False) -> PolicyOut:
    """The shipped default policy: it decides every store-wide action, and every deal's until
    a steward stores a tighter version (no store state is read)."""
    return _view(pol.default_policy(), source="shipped default", cedar=cedar)


def show_policy(
    stores: AppStores, *, actor: Principal, deal: str, cedar: bool = False
) -> PolicyOut:
    """The policy in force for ``deal``: its newest stored version, else the shipped default."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="policy.read",
            deal=d,
            event=EventIn(action="policy.show"),
        )
        policy = pol.active_policy(s, deal=d)
        audit(stores, uow, event)
        if policy.version == 0:
            return _view(policy, source="shipped default", cedar=cedar, deal=d.code)
        row = s.scalar(
            select(PolicyVersion).where(
                PolicyVersion.deal_id == d.id, PolicyVersion.version == policy.version
            )
        )
        assert row is not None  # active_policy just read it
        who = (
            access.emails_by_id(s, ids=[row.actor_id]).get(row.actor_id)
            if row.actor_id is not None
            else None
        )
        return _view(policy, source="stored", row=row, actor=who, cedar=cedar, deal=d.code)


def validate_policy(*, text: str, cedar: bool = False) -> PolicyOut:
    """Check a policy file: it parses, compiles to valid Cedar and only tightens the default."""
    policy = pol.parse_policy(text)
    pol.require_tightening(policy)
    return _view(policy, source="file", cedar=cedar)


def policy_history(stores: AppStores, *, actor: Principal, deal: str) -> list[PolicyVersionOut]:
    """Every version stored for ``deal``, oldest first (none: the shipped default is in force)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="policy.read",
            deal=d,
            event=EventIn(action="policy.history"),
        )
        rows = pol.policy_versions(s, deal=d)
        emails = access.emails_by_id(s, ids=(r.actor_id for r in rows))
        newest = rows[-1].version if rows else None
        audit(stores, uow, event)
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
    actor: Principal,
    deal: str,
    role: str,
    stage: str,
    categories: Sequence[str] = (),
    frozen: bool = False,
) -> CheckOut:
    """What the policy in force for ``deal`` gives ``role`` at ``stage`` for ``categories``."""
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal)
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="policy.read",
            deal=d,
            event=EventIn(action="policy.check"),
        )
        policy = pol.active_policy(uow.records, deal=d)
        audit(stores, uow, event)
    return check(policy, role=role, stage=stage, categories=categories, frozen=frozen)


def check(
    policy: pol.Policy,
    *,
    role: str,
    stage: str,
    categories: Sequence[str] = (),
    frozen: bool = False,
) -> CheckOut:
    """What ``policy`` gives ``role`` at ``stage`` for ``categories`` (no state is read)."""
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


def set_policy(
    stores: AppStores, *, actor: Principal, deal: str, text: str, comment: str | None
) -> PolicyVersionOut:
    """Store a new policy version for ``deal`` and record ``policy.change`` in the same
    transaction. Seller stewards of that deal only; a policy may only tighten the shipped
    default; a refusal is recorded too."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        who, event = authorize(
            stores,
            s,
            actor=actor,
            action="policy.set",
            deal=d,
            event=EventIn(action="policy.change", purpose=comment),
        )
        old = pol.active_policy(s, deal=d)
        row = pol.set_policy(s, deal=d, text=text, actor=who, comment=comment)
        audit(
            stores,
            uow,
            replace(
                event,
                objects={
                    "old_version": old.version,
                    "old_sha256": old.sha256,
                    "new_version": row.version,
                    "new_sha256": row.sha256,
                },
            ),
        )
        checkpoint(stores, uow, reason=f"access policy of {d.code} version {row.version}")
        return PolicyVersionOut(
            version=row.version,
            sha256=row.sha256,
            actor=who.email,
            comment=row.comment,
            created_at=row.created_at,
            in_force=True,
        )
