"""The access policy: a versioned, validated TOML file (stage x role x category), run by Cedar."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.access.actions import FROZEN_ALWAYS
from dealvault.access.governance_models import PolicyVersion
from dealvault.access.models import Deal, Person
from dealvault.access.policy_cedar import (
    ACTIONS,
    LEVELS,
    ROLES,
    ActionRule,
    CategoryCap,
    CedarEngine,
    Outcome,
    action_request,
    audit_log_request,
    compile_cedar,
    level_rank,
    read_request,
)
from dealvault.access.policy_file import (
    CATEGORIES,
    MEMBER_ROLES,
    STAGES,
    check_keys,
    choice,
    names_of,
    one_line,
    parse_actions,
    parse_caps,
    parse_ceilings,
    parse_toml,
    subtable,
)
from dealvault.db.memo import recall
from dealvault.errors import Conflict, IntegrityError, Invalid

__all__ = [
    "LEVELS",
    "CategoryCap",
    "Policy",
    "active_policy",
    "default_policy",
    "level_rank",
    "loosenings",
    "parse_policy",
    "policy_versions",
    "require_tightening",
    "set_policy",
]

FORMAT = 2


@dataclass(frozen=True)
class Policy:
    """One parsed policy. Decisions (``ceiling``, ``allows``) are made by Cedar."""

    version: int  # 0: the shipped default, not stored
    text: str = field(repr=False)
    sha256: str
    approvals_default: tuple[str, ...]
    approvals_sensitive: tuple[str, ...]
    training_course: str
    governed_above: str
    description: str
    ceilings: Mapping[str, Mapping[str, str]] = field(repr=False, compare=False)
    category_caps: Mapping[str, CategoryCap] = field(repr=False, compare=False)
    audit_log_roles: tuple[str, ...] = field(repr=False, compare=False)
    frozen_allow: tuple[str, ...] = field(repr=False, compare=False)
    actions: Mapping[str, ActionRule] = field(repr=False, compare=False)
    engine: CedarEngine = field(repr=False, compare=False)

    @property
    def cedar(self) -> str:
        """The Cedar text this policy compiles to."""
        return self.engine.text

    def ceiling(self, *, role: str, stage: str, categories: Sequence[str] = ()) -> str:
        """The highest level ``role`` may get at ``stage`` for all ``categories`` together."""
        role, stage, cats = _request_names(role, stage, categories)
        return self._ceilings([(role, stage, cats)])[0]

    def ceiling_table(
        self, *, categories: Iterable[str | None] = (None,)
    ) -> dict[tuple[str, str, str | None], str]:
        """Ceiling of every (role, stage, category) in one Cedar batch (None: no category)."""
        keys = [(r, s, c) for r in MEMBER_ROLES for s in STAGES for c in categories]
        levels = self._ceilings([(r, s, (c,) if c else ()) for r, s, c in keys])
        return dict(zip(keys, levels, strict=True))

    def _ceilings(self, asks: Sequence[tuple[str, str, tuple[str, ...]]]) -> list[str]:
        top = len(LEVELS) - 1
        outcomes = self.engine.run(
            [
                read_request(role=r, stage=s, rank=rank, categories=c, frozen=False)
                for r, s, c in asks
                for rank in range(1, top + 1)
            ]
        )
        levels = []
        for i in range(len(asks)):
            allowed = [o.allowed for o in outcomes[i * top : (i + 1) * top]]
            # the highest rank with every rank below it allowed too
            rank = next((k for k, ok in enumerate(allowed) if not ok), top)
            levels.append(LEVELS[rank])
        return levels

    def allows(
        self,
        *,
        role: str,
        stage: str,
        level: str,
        categories: Sequence[str] = (),
        frozen: bool = False,
    ) -> tuple[bool, tuple[str, ...]]:
        """Cedar's decision on reading ``categories`` at ``level``, with readable reasons."""
        role, stage, cats = _request_names(role, stage, categories)
        rank = level_rank(level)
        if rank == 0:
            raise Invalid("level none asks for nothing; ask for metadata or above")
        req = read_request(role=role, stage=stage, rank=rank, categories=cats, frozen=frozen)
        out = self.engine.run([req])[0]
        return out.allowed, self._explain(out, role=role, stage=stage, level=level)

    def allows_audit_log(
        self, *, role: str, stage: str, frozen: bool = False
    ) -> tuple[bool, tuple[str, ...]]:
        """Cedar's decision on reading a deal's audit log (no customer values)."""
        role, stage, _ = _request_names(role, stage, ())
        out = self.engine.run([audit_log_request(role=role, stage=stage, frozen=frozen)])[0]
        if out.errors:
            return False, tuple(f"policy evaluation error: {e}" for e in out.errors)
        if out.allowed:
            return True, tuple(f"{role} may read the audit log [{p}]" for p in out.policies)
        if out.policies:
            return False, tuple(
                f"the deal is frozen: audit log reads are stopped [{p}]" for p in out.policies
            )
        return False, (f"{role} may not read the audit log",)

    def allows_action(
        self,
        *,
        action: str,
        roles: Iterable[str],
        stage: str | None,
        frozen: bool = False,
        targets_self: bool = False,
    ) -> tuple[bool, tuple[str, ...]]:
        """Cedar's decision on a catalogue ``action`` by a person holding ``roles``, with
        readable reasons (the action is allowed when one of the roles is)."""
        held = sorted({choice(r, ROLES, "role", "request") for r in roles})
        if stage is not None:
            stage = choice(stage, STAGES, "stage", "request")
        if not held:
            rule = self.actions.get(action)
            who = ", ".join(rule.roles) if rule and rule.roles else "nobody"
            return False, (f"{action} needs one of the roles: {who} (held: none)",)
        outs = self.engine.run(
            [
                action_request(
                    action=action, role=r, stage=stage, frozen=frozen, targets_self=targets_self
                )
                for r in held
            ]
        )
        for role, out in zip(held, outs, strict=True):
            if out.allowed:
                return True, tuple(f"{role} may {action} [{p}]" for p in out.policies)
        reasons: list[str] = []
        for out in outs:
            reasons += [f"policy evaluation error: {e}" for e in out.errors]
            if "self_grant" in out.policies:
                reasons.append(f"nobody may {action} for themselves")
            if "frozen" in out.policies:
                reasons.append(f"the deal is frozen: {action} is stopped")
        rule = self.actions.get(action)
        allowed_roles = rule.roles if rule else ()
        if not any(r in allowed_roles for r in held):
            who = ", ".join(allowed_roles) or "nobody"
            reasons.append(f"{action} needs one of the roles: {who} (held: {', '.join(held)})")
        elif stage is not None and rule is not None and stage not in rule.stages:
            where = ", ".join(rule.stages) or "no stage"
            reasons.append(f"{action} is not possible at stage {stage} (only at: {where})")
        return False, tuple(dict.fromkeys(reasons)) or (f"no policy permits {action}",)

    def _explain(self, out: Outcome, *, role: str, stage: str, level: str) -> tuple[str, ...]:
        if out.errors:
            return tuple(f"policy evaluation error: {e}" for e in out.errors)
        ceiling = self.ceilings[role][stage]
        if out.allowed:
            return tuple(
                f"level {level} is within the ceiling {ceiling} for {role} at stage {stage} [{p}]"
                for p in out.policies
            )
        reasons = []
        for p in out.policies:
            kind, _, name = p.partition(".")
            if kind == "cap":
                cap = self.category_caps[name].level
                reasons.append(
                    f"category {name} is capped at {cap} for {role}; {level} asked [{p}]"
                )
            elif kind == "frozen":
                reasons.append(f"the deal is frozen: every read is stopped [{p}]")
            else:
                reasons.append(f"denied by [{p}]")
        if ceiling == "none":
            reasons.append(f"{role} gets no data at stage {stage} (ceiling none)")
        elif level_rank(level) > level_rank(ceiling):
            reasons.append(
                f"level {level} is above the ceiling {ceiling} for {role} at stage {stage}"
            )
        return tuple(reasons) or ("no policy permits this request",)


def _request_names(
    role: str, stage: str, categories: Sequence[str]
) -> tuple[str, str, tuple[str, ...]]:
    return (
        choice(role, MEMBER_ROLES, "member role", "request"),
        choice(stage, STAGES, "stage", "request"),
        tuple(sorted({choice(c, CATEGORIES, "category", "request") for c in categories})),
    )


@lru_cache(maxsize=32)
def _build(text: str, version: int) -> Policy:
    doc = parse_toml(text)
    meta = subtable(doc, "policy", "[policy]")
    check_keys(
        meta,
        "[policy]",
        required=("format", "governed_above", "training_course"),
        optional=("description",),
    )
    if type(meta["format"]) is not int or meta["format"] != FORMAT:
        raise Invalid(f"policy.format: unsupported format {meta['format']!r}; expected {FORMAT}")
    approvals = subtable(doc, "approvals", "[approvals]")
    check_keys(approvals, "[approvals]", required=("default", "sensitive"))
    default = names_of(approvals["default"], MEMBER_ROLES, "member role", "approvals.default")
    sensitive = names_of(approvals["sensitive"], MEMBER_ROLES, "member role", "approvals.sensitive")
    if not default:
        raise Invalid("approvals.default: at least one approver role is needed")
    missing = [r for r in default if r not in sensitive]
    if missing:
        raise Invalid(f"approvals.sensitive: must include every default approver; add {missing[0]}")
    audit_log = subtable(doc, "audit_log", "[audit_log]")
    check_keys(audit_log, "[audit_log]", required=("roles",))
    frozen = subtable(doc, "frozen", "[frozen]")
    check_keys(frozen, "[frozen]", required=("allow",))
    ceilings = parse_ceilings(doc)
    caps = parse_caps(doc)
    audit_roles = names_of(audit_log["roles"], MEMBER_ROLES, "member role", "audit_log.roles")
    frozen_allow = names_of(frozen["allow"], ACTIONS, "action", "frozen.allow")
    for name in FROZEN_ALWAYS:
        if name not in frozen_allow:
            raise Invalid(f"frozen.allow: must include {name} (else a freeze can never end)")
    actions = parse_actions(doc)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    cedar = compile_cedar(
        ceilings=ceilings,
        caps=caps,
        audit_log_roles=audit_roles,
        frozen_allow=frozen_allow,
        actions=actions,
        sha256=sha,
    )
    return Policy(
        version=version,
        text=text,
        sha256=sha,
        approvals_default=default,
        approvals_sensitive=sensitive,
        training_course=one_line(meta["training_course"], "policy.training_course"),
        governed_above=choice(meta["governed_above"], LEVELS, "level", "policy.governed_above"),
        description=one_line(meta.get("description", "access policy"), "policy.description"),
        ceilings=MappingProxyType({r: MappingProxyType(row) for r, row in ceilings.items()}),
        category_caps=MappingProxyType(caps),
        audit_log_roles=audit_roles,
        frozen_allow=frozen_allow,
        actions=MappingProxyType(actions),
        engine=CedarEngine(cedar),
    )


def parse_policy(text: str, *, version: int = 0) -> Policy:
    """Validate a policy file and compile it to Cedar; Invalid names the section and key."""
    return _build(text, version)


@lru_cache(maxsize=8)
def _all_ceilings(policy: Policy) -> Mapping[tuple[str, str, str | None], str]:
    return policy.ceiling_table(categories=(None, *CATEGORIES))


def loosenings(policy: Policy, *, baseline: Policy) -> list[str]:
    """Where ``policy`` allows more than ``baseline`` (ceilings compared through Cedar)."""
    mine, base = _all_ceilings(policy), _all_ceilings(baseline)
    looser = {k for k, level in mine.items() if level_rank(level) > level_rank(base[k])}
    out = [
        f"{r} at {s}{f' for {c}' if c else ''}: {mine[r, s, c]} is above {base[r, s, c]}"
        for r, s, c in mine
        if (r, s, c) in looser and (c is None or (r, s, None) not in looser)
    ]
    out += [
        f"approvals.default drops {r}"
        for r in baseline.approvals_default
        if r not in policy.approvals_default
    ]
    out += [
        f"approvals.sensitive drops {r}"
        for r in baseline.approvals_sensitive
        if r not in policy.approvals_sensitive
    ]
    if level_rank(policy.governed_above) > level_rank(baseline.governed_above):
        out.append(
            f"policy.governed_above: {policy.governed_above} is above {baseline.governed_above}"
        )
    out += [
        f"audit_log.roles adds {r}"
        for r in policy.audit_log_roles
        if r not in baseline.audit_log_roles
    ]
    out += [f"frozen.allow adds {a}" for a in policy.frozen_allow if a not in baseline.frozen_allow]
    for name, rule in policy.actions.items():
        was = baseline.actions.get(name, ActionRule(roles=(), stages=()))
        out += [f"actions.{name} adds role {r}" for r in rule.roles if r not in was.roles]
        out += [f"actions.{name} adds stage {s}" for s in rule.stages if s not in was.stages]
    return out


def require_tightening(policy: Policy) -> None:
    """Invalid (code ``policy_loosens``) when ``policy`` allows more than the shipped default."""
    problems = loosenings(policy, baseline=default_policy())
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise Invalid(
            "a policy may only tighten the shipped default (docs/design.md §1); this one loosens: "
            + "; ".join(problems[:5])
            + more,
            code="policy_loosens",
        )


# -- versions ------------------------------------------------------------------------------
@cache
def _default_text() -> str:
    return resources.files("dealvault.access").joinpath("default_policy.toml").read_text("utf-8")


def default_policy() -> Policy:
    """The policy shipped with dealvault (docs/design.md §1), version 0."""
    return parse_policy(_default_text(), version=0)


def active_policy(session: Session, *, deal: Deal | None) -> Policy:
    """The newest version stored for ``deal``, else the shipped default. Store-wide actions
    (``deal`` None) are always decided by the shipped default."""
    if deal is None:
        return default_policy()
    return recall(session, ("policy", deal.id), lambda: _stored_policy(session, deal=deal))


def _stored_policy(session: Session, *, deal: Deal) -> Policy:
    row = session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.deal_id == deal.id)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    )
    if row is None:
        return default_policy()
    if hashlib.sha256(row.text.encode("utf-8")).hexdigest() != row.sha256:
        raise IntegrityError(f"policy version {row.version}: stored text does not match its sha256")
    return parse_policy(row.text, version=row.version)


def policy_versions(session: Session, *, deal: Deal) -> list[PolicyVersion]:
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.deal_id == deal.id)
            .order_by(PolicyVersion.version)
        )
    )


def set_policy(
    session: Session, *, deal: Deal, text: str, actor: Person, comment: str | None
) -> PolicyVersion:
    """Store ``text`` as the deal's next version. It must validate and must not loosen the
    shipped default; storing the version in force again is a Conflict. Does not commit."""
    new = parse_policy(text)
    require_tightening(new)
    current = active_policy(session, deal=deal)
    if current.version and current.sha256 == new.sha256:
        raise Conflict(
            f"this policy is already in force for {deal.code} as version {current.version}"
        )
    latest = (
        session.scalar(
            select(func.max(PolicyVersion.version)).where(PolicyVersion.deal_id == deal.id)
        )
        or 0
    )
    row = PolicyVersion(
        deal_id=deal.id,
        version=latest + 1,
        text=text,
        sha256=new.sha256,
        comment=comment,
        actor_id=actor.id,
    )
    session.add(row)
    session.flush()
    return row
