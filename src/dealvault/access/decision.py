"""The one decision point: may this person do this to this deal's data, now, and at what level?

Deny unless allowed, with every reason. A read is checked against, in order: a frozen deal,
membership, the policy's stage x role x category ceiling (Cedar, ``access.policy``), and —
above the policy's governed level — an agreement in force, valid confidentiality training and
an approved, unexpired grant (with its row cap). The seller's stewards hold the data: they
need no agreement or grant, but they do need the training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from dealvault.access.actions import CATALOGUE, Scope
from dealvault.access.agreements import coverage_problem
from dealvault.access.governance_models import Grant
from dealvault.access.grant_use import grant_problem
from dealvault.access.models import Deal, Person
from dealvault.access.policy import LEVELS, Policy, active_policy, level_rank
from dealvault.access.principal import Principal
from dealvault.access.scopes import OWN_ACCOUNT, principal_problem
from dealvault.access.service import member_roles, store_roles
from dealvault.access.stages import MemberRole
from dealvault.access.training import training_problem
from dealvault.errors import Forbidden
from dealvault.ingest.fields import Category

#: Every category, for reads that name none.
ALL_CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)


@dataclass(frozen=True)
class Decision:
    """The outcome of one access check, with the reasons (recorded, never containing values).

    ``level`` is the level allowed (``none`` on a denial); ``grant_id`` the grant relied on;
    ``rows_left`` how many more rows that grant may deliver (None: no cap).
    """

    allowed: bool
    level: str
    reasons: tuple[str, ...]
    grant_id: int | None = None
    rows_left: int | None = None

    def enforce(self) -> None:
        if not self.allowed:
            raise Forbidden("access denied: " + "; ".join(self.reasons), code="denied")


_PRINCIPAL = "dealvault.principal"


def bind_principal(person: Person, principal: Principal) -> Person:
    """Mark ``person`` (as loaded in this session) as acting under ``principal``."""
    if principal.email != person.email:
        raise AssertionError("a principal can only be bound to its own person")
    inspect(person).info[_PRINCIPAL] = principal
    return person


def principal_of(person: Person) -> Principal | None:
    """The principal ``person`` acts under in this session (None: not authenticated)."""
    found = inspect(person).info.get(_PRINCIPAL)
    return found if isinstance(found, Principal) else None


def decide(
    session: Session,
    *,
    actor: Person,
    deal: Deal | None,
    action: str,
    categories: Sequence[str] = (),
    level: str = "full",
    dataset: str | None = None,
    dataset_id: int | None = None,
    purpose: str | None = None,
    at: datetime | None = None,
    targets_self: bool = False,
) -> Decision:
    """Allow or deny ``action`` by ``actor`` on ``deal`` (a read: of ``categories`` of
    ``dataset`` at ``level``), with every reason that applies.

    ``action``: ``read`` (any disclosure; ``level`` says which), ``audit_log``, or an action
    of the catalogue (``access.actions``); store actions take no deal. ``targets_self``: the
    action would grant the actor something (always denied for granting actions).
    ``actor`` must have been bound to its authenticated principal (:func:`bind_principal`,
    done by the flows' ``person_of``): a person without one is denied everything, and an
    unfinished sign-in or a token's scopes limit what may be asked at all, before any policy.
    """
    principal = principal_of(actor)
    if principal is None:
        return Decision(False, "none", ("no authenticated identity for this person",))
    problem = principal_problem(principal, action=action)
    if problem is not None:
        return Decision(False, "none", (problem,))
    if action == OWN_ACCOUNT:
        return Decision(True, "none", ("a person may manage their own account",))
    if action in CATALOGUE:
        return _catalogue_action(
            session, actor=actor, deal=deal, action=action, targets_self=targets_self
        )
    if deal is None:
        return Decision(False, "none", (f"action {action} needs a deal",))
    now = at or datetime.now(UTC)
    policy = active_policy(session, deal=deal)
    roles = member_roles(session, deal=deal, person=actor)
    reasons: list[str] = []
    if deal.frozen and action not in policy.frozen_allow:
        reasons.append(f"deal {deal.code} is frozen (temporary isolation)")
    if not roles:
        reasons.append(f"{actor.email} is not a member of deal {deal.code}")
    if action == "audit_log":
        ok = any(
            policy.allows_audit_log(role=r.value, stage=deal.stage, frozen=deal.frozen)[0]
            for r in roles
        )
        if not ok and roles:
            reasons.append("no role of this person may read the audit log")
        return _result(reasons, level="audit_log", action=action, deal=deal)
    if action != "read":
        reasons.append(f"unknown action {action!r}")
        return _result(reasons, level="none", action=action, deal=deal)
    wanted = tuple(categories) or ALL_CATEGORIES
    level_rank(level)  # unknown levels fail here, cleanly
    best_role, policy_reasons = _best_role(policy, roles, deal=deal, level=level, cats=wanted)
    reasons.extend(policy_reasons)
    if not roles:
        return _result(reasons, level="none", action=action, deal=deal)
    if best_role is None:  # denied by the policy; still say what else is missing
        best_role = min(roles, key=lambda r: list(MemberRole).index(r))
    if level_rank(level) > level_rank("metadata"):
        problem = training_problem(session, person=actor, course=policy.training_course, at=now)
        if problem:
            reasons.append(problem)
    if best_role == MemberRole.SELLER_STEWARD or level_rank(level) <= level_rank(
        policy.governed_above
    ):
        if reasons:
            return _result(reasons, level="none", action=action, deal=deal)
        return Decision(True, level, (f"{best_role.value} may read {level} at {deal.stage}",))
    clean_team = best_role == MemberRole.BIDDER_CLEAN_TEAM
    covered = coverage_problem(
        session,
        deal=deal,
        person=actor,
        dataset=dataset or "*",
        categories=wanted,
        at=now,
        clean_team=clean_team,
    )
    if covered:
        reasons.append(covered)
    grant: Grant | None = None
    missing: str | None = "no dataset named for a governed read"
    if dataset_id is not None:
        grant, missing = grant_problem(
            session,
            person=actor,
            deal=deal,
            dataset_id=dataset_id,
            categories=wanted,
            level=level,
            at=now,
            dataset=dataset,
        )
    if missing:
        reasons.append(missing)
    if reasons or grant is None:
        return _result(reasons, level="none", action=action, deal=deal)
    left = None if grant.row_cap is None else max(0, grant.row_cap - grant.rows_used)
    if left == 0:
        return _result([f"grant #{grant.id} has delivered its row cap"], "none", action, deal)
    return Decision(
        True,
        level,
        (f"{best_role.value} at {deal.stage} under grant #{grant.id}",),
        grant_id=grant.id,
        rows_left=left,
    )


def allowed_level(
    session: Session,
    *,
    actor: Person,
    deal: Deal,
    categories: Sequence[str] = (),
    dataset: str | None = None,
    dataset_id: int | None = None,
    at: datetime | None = None,
) -> Decision:
    """The highest level ``actor`` may read now (tries each level from ``full`` down)."""
    last: Decision | None = None
    for level in reversed(LEVELS[1:]):
        d = decide(
            session,
            actor=actor,
            deal=deal,
            action="read",
            categories=categories,
            level=level,
            dataset=dataset,
            dataset_id=dataset_id,
            at=at,
        )
        if d.allowed:
            return d
        last = last or d
    assert last is not None
    return last


def _best_role(
    policy: Policy,
    roles: set[MemberRole],
    *,
    deal: Deal,
    level: str,
    cats: Sequence[str],
) -> tuple[MemberRole | None, list[str]]:
    """The first role (most privileged first) whose ceiling allows ``level``, or the reasons."""
    denials: list[str] = []
    for role in sorted(roles, key=lambda r: list(MemberRole).index(r)):
        ok, why = policy.allows(
            role=role.value, stage=deal.stage, level=level, categories=cats, frozen=deal.frozen
        )
        if ok:
            return role, []
        denials.extend(why)
    return None, denials[:3] if denials else []


def _catalogue_action(
    session: Session, *, actor: Person, deal: Deal | None, action: str, targets_self: bool
) -> Decision:
    """A catalogue action, decided by Cedar on every role the actor holds (store roles, and
    for a deal action the member roles in that deal) under the deal's policy."""
    scope = CATALOGUE[action].scope
    roles = store_roles(session, person=actor)
    reasons: list[str] = []
    if scope is Scope.STORE:
        ok, why = active_policy(session, deal=None).allows_action(
            action=action, roles=roles, stage=None, targets_self=targets_self
        )
        return Decision(True, "none", why) if ok else Decision(False, "none", why)
    if deal is None:
        return Decision(False, "none", (f"action {action} needs a deal",))
    held = {r.value for r in member_roles(session, deal=deal, person=actor)}
    if not held:
        reasons.append(f"{actor.email} is not a member of deal {deal.code}")
    policy = active_policy(session, deal=deal)
    ok, why = policy.allows_action(
        action=action,
        roles=roles | held,
        stage=deal.stage,
        frozen=deal.frozen,
        targets_self=targets_self,
    )
    if ok:
        return Decision(True, "none", why)
    if deal.frozen and action not in policy.frozen_allow:
        reasons.append(f"deal {deal.code} is frozen (temporary isolation)")
    return Decision(False, "none", tuple(dict.fromkeys([*reasons, *why])))


def _result(reasons: list[str], level: str, action: str, deal: Deal) -> Decision:
    if reasons:
        return Decision(False, "none", tuple(dict.fromkeys(reasons)))
    return Decision(True, level, (f"{action} allowed at stage {deal.stage}",))
