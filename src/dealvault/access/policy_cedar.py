"""The access policy in Cedar: the level scale, the schema, compiling the matrix, evaluating it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import cedarpy

from dealvault.access.stages import MemberRole, Stage
from dealvault.errors import Invalid

#: Disclosure levels of DESIGN.md §2, lowest first; a level's index is its rank.
LEVELS: tuple[str, ...] = (
    "none",
    "metadata",
    "aggregate",
    "anonymized",
    "pseudonymized",
    "masked",
    "full",
)
#: Actions the policy speaks about: reading customer data, reading a deal's audit log.
ACTIONS: tuple[str, ...] = ("read", "audit_log")

#: The Cedar schema every compiled policy is validated against (and every request checked by).
SCHEMA = """\
// A person, evaluated by the member role they act in.
entity Person { role: String };
// A deal, by its stage and whether it is frozen.
entity Deal { stage: String, frozen: Bool };
// Read customer data at a disclosure level (rank in LEVELS) for some data categories.
action "read" appliesTo {
  principal: Person,
  resource: Deal,
  context: { level_rank: Long, categories: Set<String> }
};
// Read the deal's audit log.
action "audit_log" appliesTo { principal: Person, resource: Deal };
"""


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


def compile_cedar(
    *,
    ceilings: Mapping[str, Mapping[str, str]],
    caps: Mapping[str, CategoryCap],
    audit_log_roles: Sequence[str],
    frozen_actions: Sequence[str],
    sha256: str,
) -> str:
    """Cedar text for a validated policy: one permit per (role, stage) above none, one forbid
    per category cap, one forbid per action a freeze stops, one permit per audit-log role.

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
    for action in frozen_actions:
        out += [
            f"// a frozen deal stops {action}",
            f'@id("{_id("frozen", action)}")',
            f'forbid (principal, action == Action::"{action}", resource)',
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
        {"uid": _person(r.value), "attrs": {"role": r.value}, "parents": []} for r in MemberRole
    ]
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


def audit_log_request(*, role: str, stage: str, frozen: bool) -> dict[str, Any]:
    return {
        "principal": _person(role),
        "action": {"type": "Action", "id": "audit_log"},
        "resource": _deal(stage, frozen),
        "context": {},
    }


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

    def run(self, requests: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Evaluate ``requests`` in one call; an evaluation error denies (fail closed)."""
        if not requests:
            return []
        results = cedarpy.is_authorized_batch(
            list(requests), self._set, _entities(), cedar_schema()
        )
        outcomes = []
        for res in results:
            diag = res.diagnostics
            names = diag.id_annotations_by_reason
            errors = tuple(str(e) for e in diag.errors)
            outcomes.append(
                Outcome(
                    allowed=res.allowed and not errors,
                    policies=tuple(str(names.get(p, p)) for p in diag.reasons),
                    errors=errors,
                )
            )
        return outcomes
