"""The access policy in Cedar: the level scale, the schema, compiling the matrix, evaluating it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import cedarpy

from dealvault.access.actions import CATALOGUE, Scope, StoreRole
from dealvault.access.stages import MemberRole, Stage
from dealvault.errors import Invalid

#: Disclosure levels of docs/design.md §2, lowest first; a level's index is its rank.
LEVELS: tuple[str, ...] = (
    "none",
    "metadata",
    "aggregate",
    "anonymized",
    "pseudonymized",
    "masked",
    "full",
)
#: Actions the policy speaks about: reading customer data, reading a deal's audit log, and
#: every action of the catalogue (``access.actions``).
ACTIONS: tuple[str, ...] = ("read", "audit_log", *CATALOGUE)
#: Every role a request can name: member roles of a deal, then store roles.
ROLES: tuple[str, ...] = (*(r.value for r in MemberRole), *(r.value for r in StoreRole))


def _schema() -> str:
    lines = [
        "// A person, evaluated by the role they act in (a member role or a store role).",
        "entity Person { role: String };",
        "// A deal, by its stage and whether it is frozen.",
        "entity Deal { stage: String, frozen: Bool };",
        "// The store as a whole.",
        "entity Store;",
        "// Read customer data at a disclosure level (rank in LEVELS) for some data categories.",
        'action "read" appliesTo {',
        "  principal: Person,",
        "  resource: Deal,",
        "  context: { level_rank: Long, categories: Set<String> }",
        "};",
        "// Read the deal's audit log.",
        'action "audit_log" appliesTo { principal: Person, resource: Deal };',
        "// The catalogue: targets_self is true when the action would grant the actor something.",
    ]
    for a in CATALOGUE.values():
        res = "Deal" if a.scope is Scope.DEAL else "Store"
        lines.append(
            f'action "{a.name}" appliesTo '
            f"{{ principal: Person, resource: {res}, context: {{ targets_self: Bool }} }};"
        )
    return "\n".join(lines) + "\n"


#: The Cedar schema every compiled policy is validated against (and every request checked by).
SCHEMA = _schema()


@dataclass(frozen=True)
class ActionRule:
    """Who may take an action (roles) and where (stages of the deal; empty for the store)."""

    roles: tuple[str, ...]
    stages: tuple[str, ...]


def level_rank(level: str) -> int:
    """The index of ``level`` in LEVELS; Invalid on an unknown level."""
    try:
        return LEVELS.index(level)
    except ValueError:
        raise Invalid(f"unknown level {level!r}; choose one of: {', '.join(LEVELS)}") from None


@dataclass(frozen=True)
class CategoryCap:
    """A category is never disclosed above ``level``, except to the ``exempt`` roles."""

    level: str
    exempt: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """Cedar's answer to one request: the decision, the ``@id``s of the policies that decided
    (permits on allow, forbids on deny; none when nothing permitted) and evaluation errors."""

    allowed: bool
    policies: tuple[str, ...]
    errors: tuple[str, ...]


def _id(kind: str, *parts: str) -> str:
    return ".".join((kind, *parts))


def _action_list(names: Sequence[str]) -> str:
    return ", ".join(f'Action::"{n}"' for n in names)


def compile_cedar(
    *,
    ceilings: Mapping[str, Mapping[str, str]],
    caps: Mapping[str, CategoryCap],
    audit_log_roles: Sequence[str],
    frozen_allow: Sequence[str],
    actions: Mapping[str, ActionRule],
    sha256: str,
) -> str:
    """Cedar text for a validated policy: one permit per (role, stage) above none, one forbid
    per category cap, one forbid for what a freeze stops, one permit per audit-log role, one
    permit per catalogue action, one forbid on granting oneself anything.

    Every name written into the text comes from a closed vocabulary (validated before), never
    from free text of the policy file, so the file cannot smuggle Cedar in.
    """
    out = [
        f"// dealvault access policy compiled from TOML sha256:{sha256}",
        "// Deny unless permitted; any matching forbid overrides every permit.",
        "",
    ]
    for role, row in ceilings.items():
        nothing = [stage for stage, level in row.items() if level_rank(level) == 0]
        out.append(f"// ---- {role}")
        if nothing:
            out.append(f"// no data (no permit) at: {', '.join(nothing)}")
        out.append("")
        for stage, level in row.items():
            if stage in nothing:
                continue
            out += [
                f'@id("{_id("ceiling", role, stage)}")',
                'permit (principal, action == Action::"read", resource)',
                f'when {{ principal.role == "{role}" && resource.stage == "{stage}" }}',
                f"when {{ context.level_rank <= {level_rank(level)} }};  // up to {level}",
                "",
            ]
    out += ["// ---- category caps, frozen deals, the audit log", ""]
    for category, cap in caps.items():
        exempt = ", ".join(f'"{r}"' for r in cap.exempt)
        out += [
            f"// {category} never above {cap.level}",
            f'@id("{_id("cap", category)}")',
            'forbid (principal, action == Action::"read", resource)',
            f'when {{ context.categories.contains("{category}")'
            f" && context.level_rank > {level_rank(cap.level)} }}"
            + (f"\nunless {{ [{exempt}].contains(principal.role) }};" if exempt else ";"),
            "",
        ]
    stopped = [
        a
        for a in ("read", "audit_log", *(n for n, d in CATALOGUE.items() if d.scope is Scope.DEAL))
        if a not in frozen_allow
    ]
    out += [
        "// a frozen deal stops everything but: " + (", ".join(frozen_allow) or "nothing"),
        '@id("frozen")',
        f"forbid (principal, action in [{_action_list(stopped)}], resource)",
        "when { resource.frozen };",
        "",
    ]
    for role in audit_log_roles:
        out += [
            f'@id("{_id("audit_log", role)}")',
            'permit (principal, action == Action::"audit_log", resource)',
            f'when {{ principal.role == "{role}" }};',
            "",
        ]
    out += ["// ---- the action catalogue", ""]
    for name, rule in actions.items():
        if not rule.roles:
            out += [f"// {name}: nobody", ""]
            continue
        roles = ", ".join(f'"{r}"' for r in rule.roles)
        cond = f"[{roles}].contains(principal.role)"
        if CATALOGUE[name].scope is Scope.DEAL:
            if not rule.stages:
                out += [f"// {name}: at no stage", ""]
                continue
            stages = ", ".join(f'"{s}"' for s in rule.stages)
            cond += f" && [{stages}].contains(resource.stage)"
        out += [
            f'@id("{_id("action", name)}")',
            f'permit (principal, action == Action::"{name}", resource)',
            f"when {{ {cond} }};",
            "",
        ]
    granting = [n for n, d in CATALOGUE.items() if d.grants]
    out += [
        "// nobody grants themselves a role, a membership, training, a signature or an approval",
        '@id("self_grant")',
        f"forbid (principal, action in [{_action_list(granting)}], resource)",
        "when { context.targets_self };",
        "",
    ]
    return "\n".join(out).rstrip() + "\n"


@cache
def cedar_schema() -> cedarpy.Schema:
    return cedarpy.Schema.from_str(SCHEMA)


def _person(role: str) -> dict[str, str]:
    return {"type": "Person", "id": f"role:{role}"}


def _deal(stage: str, frozen: bool) -> dict[str, str]:
    return {"type": "Deal", "id": f"stage:{stage}" + (":frozen" if frozen else "")}


@cache
def _entities() -> cedarpy.Entities:
    """One representative person per role and one deal per (stage, frozen): a request names
    the pair it is about, so one parsed entity set serves every request."""
    ents: list[dict[str, Any]] = [
        {"uid": _person(r), "attrs": {"role": r}, "parents": []} for r in ROLES
    ]
    ents.append({"uid": _STORE, "attrs": {}, "parents": []})
    ents += [
        {"uid": _deal(s.value, f), "attrs": {"stage": s.value, "frozen": f}, "parents": []}
        for s in Stage
        for f in (False, True)
    ]
    return cedarpy.Entities.from_json_str(json.dumps(ents), cedar_schema())


def read_request(
    *, role: str, stage: str, rank: int, categories: Sequence[str], frozen: bool
) -> dict[str, Any]:
    return {
        "principal": _person(role),
        "action": {"type": "Action", "id": "read"},
        "resource": _deal(stage, frozen),
        "context": {"level_rank": rank, "categories": sorted(set(categories))},
    }


_STORE = {"type": "Store", "id": "store"}


def action_request(
    *, action: str, role: str, stage: str | None, frozen: bool, targets_self: bool
) -> dict[str, Any]:
    """A catalogue action by ``role``: on a deal at ``stage`` (frozen or not), or on the
    store (``stage`` None)."""
    scope = CATALOGUE[action].scope
    if scope is Scope.DEAL and stage is None:
        raise Invalid(f"action {action} needs a deal")
    return {
        "principal": _person(role),
        "action": {"type": "Action", "id": action},
        "resource": _STORE if scope is Scope.STORE else _deal(stage or "", frozen),
        "context": {"targets_self": targets_self},
    }


def audit_log_request(*, role: str, stage: str, frozen: bool) -> dict[str, Any]:
    return {
        "principal": _person(role),
        "action": {"type": "Action", "id": "audit_log"},
        "resource": _deal(stage, frozen),
        "context": {},
    }


#: Outcomes one engine remembers (a policy has a few thousand distinct questions at most).
_REMEMBERED = 8192


class CedarEngine:
    """A compiled policy, parsed and validated once, answering batches of requests."""

    def __init__(self, text: str) -> None:
        try:
            self._set = cedarpy.PolicySet.from_str(text)
        except ValueError as exc:  # a compiler bug, never the file's fault
            raise Invalid(f"compiled Cedar policy does not parse: {exc}") from None
        result = cedarpy.validate_policies(text, cedar_schema())
        if not result.validation_passed:
            problems = "; ".join(str(e) for e in result.errors)
            raise Invalid(f"compiled Cedar policy fails schema validation: {problems}")
        self.text = text
        self._outcomes: dict[str, Outcome] = {}

    def run(self, requests: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Evaluate ``requests`` in one call; an evaluation error denies (fail closed).

        A request is a pure function of (role, stage, frozen, action, context) over fixed
        entities and this policy set, so outcomes are remembered per engine (bounded): the
        many decisions of one request, and the same questions of the next, ask Cedar once.
        """
        if not requests:
            return []
        keys = [json.dumps(r, sort_keys=True, separators=(",", ":")) for r in requests]
        found = {k: self._outcomes[k] for k in keys if k in self._outcomes}
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            results = cedarpy.is_authorized_batch(
                [requests[i] for i in missing], self._set, _entities(), cedar_schema()
            )
            for i, res in zip(missing, results, strict=True):
                diag = res.diagnostics
                names = diag.id_annotations_by_reason
                errors = tuple(str(e) for e in diag.errors)
                found[keys[i]] = Outcome(
                    allowed=res.allowed and not errors,
                    policies=tuple(str(names.get(p, p)) for p in diag.reasons),
                    errors=errors,
                )
            if len(self._outcomes) + len(missing) > _REMEMBERED:
                self._outcomes.clear()
            self._outcomes.update(found)
        return [found[k] for k in keys]
