"""Reading a policy file: TOML sections, keys and names checked, each error naming where."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from dealvault.access.actions import CATALOGUE, Scope
from dealvault.access.policy_cedar import LEVELS, ROLES, ActionRule, CategoryCap
from dealvault.access.stages import MemberRole, Stage
from dealvault.errors import Invalid
from dealvault.ingest.fields import Category

MEMBER_ROLES = tuple(r.value for r in MemberRole)
STAGES = tuple(s.value for s in Stage)
CATEGORIES = tuple(c.value for c in Category)
SECTIONS = ("policy", "approvals", "ceiling", "category_caps", "audit_log", "frozen", "actions")


def choice(value: object, allowed: Sequence[str], what: str, where: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(f"{where}: unknown {what} {value!r}; choose one of: {', '.join(allowed)}")
    return value


def subtable(doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc[key]
    if not isinstance(value, dict):
        raise Invalid(f"{where}: must be a table, not {type(value).__name__}")
    return value


def check_keys(
    tbl: Mapping[str, Any],
    where: str,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    what: str = "key",
) -> None:
    for key in tbl:
        if key not in required and key not in optional:
            known = ", ".join((*required, *optional))
            raise Invalid(f"{where}: unknown {what} {key!r}; expected one of: {known}")
    for key in required:
        if key not in tbl:
            raise Invalid(f"{where}: missing {what} {key!r}")


def one_line(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{where}: must be a non-empty string")
    if any(ch in value for ch in "\r\n\x00") or len(value) > 200:
        raise Invalid(f"{where}: must be one line of at most 200 characters")
    return value


def names_of(value: object, allowed: Sequence[str], what: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Invalid(f"{where}: must be a list of {what}s")
    names = tuple(choice(v, allowed, what, where) for v in value)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise Invalid(f"{where}: {what} {dup[0]!r} is listed twice")
    return names


def parse_ceilings(doc: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    tbl = subtable(doc, "ceiling", "[ceiling]")
    check_keys(tbl, "[ceiling]", required=MEMBER_ROLES, what="member role")
    out: dict[str, dict[str, str]] = {}
    for role in MEMBER_ROLES:
        where = f"[ceiling.{role}]"
        row = subtable(tbl, role, where)
        check_keys(row, where, required=STAGES, what="stage")
        out[role] = {s: choice(row[s], LEVELS, "level", f"ceiling.{role}.{s}") for s in STAGES}
    return out


def parse_caps(doc: Mapping[str, Any]) -> dict[str, CategoryCap]:
    tbl = subtable(doc, "category_caps", "[category_caps]")
    caps: dict[str, CategoryCap] = {}
    for category in tbl:
        choice(category, CATEGORIES, "category", "[category_caps]")
        where = f"category_caps.{category}"
        cap = subtable(tbl, category, f"[{where}]")
        check_keys(cap, f"[{where}]", required=("level",), optional=("exempt",))
        caps[category] = CategoryCap(
            level=choice(cap["level"], LEVELS, "level", f"{where}.level"),
            exempt=names_of(cap.get("exempt", []), MEMBER_ROLES, "member role", f"{where}.exempt"),
        )
    return caps


def parse_actions(doc: Mapping[str, Any]) -> dict[str, ActionRule]:
    tbl = subtable(doc, "actions", "[actions]")
    rules: dict[str, ActionRule] = {}
    for name in tbl:
        if name not in CATALOGUE:
            raise Invalid(f"[actions]: unknown action {name!r}; see docs/policy.md for the list")
        where = f"actions.{name}"
        rule = subtable(tbl, name, where)
        store = CATALOGUE[name].scope is Scope.STORE
        check_keys(rule, where, required=("roles",), optional=() if store else ("stages",))
        stages = rule.get("stages", [])
        if stages == ["*"]:
            stages = list(STAGES)
        rules[name] = ActionRule(
            roles=names_of(rule["roles"], ROLES, "role", f"{where}.roles"),
            stages=() if store else names_of(stages, STAGES, "stage", f"{where}.stages"),
        )
    return rules


def parse_toml(text: str) -> dict[str, Any]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"policy is not valid TOML: {exc}") from None
    for key in doc:
        if key not in SECTIONS:
            raise Invalid(f"unknown section [{key}]; expected: {', '.join(SECTIONS)}")
    for key in SECTIONS:
        if key not in doc:
            raise Invalid(f"missing section [{key}]")
    return doc
