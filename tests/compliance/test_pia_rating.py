"""The impact assessment's stated rules on both sides of each threshold: impact from volume,
sensitive information and children; likelihood from the controls; the rating matrix; and the
gate's rule pia-signed-off for each state of the plan's assessment."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dealvault.compliance import pia_rating as rate
from dealvault.compliance.pia import kept_until
from dealvault.compliance.rules import PlanFacts, evaluate

INPUTS: dict[str, Any] = {
    "schema": 1,
    "basis": {"plan": 1, "dataset": "crm", "recipient": "Buyer", "purpose": "hand over the base",
              "categories": ["contact", "identity"], "destination": "CN", "eligible": 100,
              "exclusions": {"objecting": 1}, "minors": 0, "sensitive_rows": 0, "imports": 1},
    "deal": {"code": "d", "kind": "asset", "stage": "closing"},
    "plan": {"status": "pending", "required_roles": ""},
    "inventory": {"tables": 1, "columns": 9, "columns_by_category": {}, "columns_by_pii_type": {},
                  "sensitive_columns": 0, "customers": 101, "customers_active": 100,
                  "imports_with_sensitive": 0},
    "controls": {
        "encryption": {"provider": "env", "master_key_version": 1, "data_key_version": 1,
                       "customer_keys": 101},
        "access": {"agreements_in_force": {"transfer": 1}, "recipient_transfer_agreements": 1,
                   "members": 3, "members_trained": 3, "grants_active": 0},
        "audit": {"events": 10, "last_checkpoint": {"size": 10, "at": "2026-12-07T00:00:00+00:00"}},
        "canaries": 1,
        "findings_blocking_open": 0,
    },
}  # fmt: skip


def _with(**basis: Any) -> dict[str, Any]:
    out = copy.deepcopy(INPUTS)
    out["basis"].update(basis)
    return out


def _risk(inputs: dict[str, Any], rid: str) -> rate.Risk:
    return {r.id: r for r in rate.risks(inputs)}[rid]


def test_impact_on_both_sides_of_each_threshold() -> None:
    assert rate.impact(_with(eligible=9_999))[0] == 1
    assert rate.impact(_with(eligible=10_000))[0] == 2
    assert rate.impact(_with(eligible=999_999))[0] == 2
    assert rate.impact(_with(eligible=1_000_000))[0] == 3
    assert rate.impact(_with(minors=0))[0] == 1
    assert rate.impact(_with(minors=1))[0] == 2
    # sensitive information raises the impact only when the plan hands it over
    assert rate.impact(_with(sensitive_rows=5))[0] == 1
    assert rate.impact(_with(sensitive_rows=5, categories=["identity", "sensitive"]))[0] == 2
    worst = _with(eligible=2_000_000, minors=3, sensitive_rows=9, categories=["sensitive"])
    assert rate.impact(worst)[0] == 4  # capped
    assert rate.impact(_with(eligible=0, minors=3))[0] == 1


@pytest.mark.parametrize(
    ("likelihood", "impact", "level"),
    [(1, 3, 1), (2, 2, 2), (2, 3, 2), (4, 2, 3), (3, 3, 3), (3, 4, 4), (4, 4, 4), (1, 1, 1)],
)
def test_rating_matrix(likelihood: int, impact: int, level: int) -> None:
    assert rate.rating(likelihood, impact) == level


def test_likelihood_rises_with_missing_controls_and_open_findings() -> None:
    base = _risk(INPUTS, "leak").likelihood
    no_canary = copy.deepcopy(INPUTS)
    no_canary["controls"]["canaries"] = 0
    assert _risk(no_canary, "leak").likelihood == base + 1
    findings = copy.deepcopy(INPUTS)
    findings["controls"]["findings_blocking_open"] = 2
    assert _risk(findings, "purpose").likelihood == _risk(INPUTS, "purpose").likelihood + 1
    untrained = copy.deepcopy(INPUTS)
    untrained["controls"]["access"]["members_trained"] = 2
    assert _risk(untrained, "access").likelihood == _risk(INPUTS, "access").likelihood + 1
    assert "cross_border" not in {r.id for r in rate.risks(INPUTS)}
    abroad = _with(destination="SG")
    assert _risk(abroad, "cross_border").likelihood == 2
    assert _risk(abroad, "rights").likelihood == _risk(INPUTS, "rights").likelihood + 1


def test_art56_contents() -> None:
    ok = rate.art56(INPUTS, rate.risks(INPUTS))
    assert [v for _, _, v, _ in ok] == ["yes", "低 low", "yes"]
    bad = copy.deepcopy(INPUTS)
    bad["basis"]["purpose"] = "closing"
    bad["controls"]["access"]["recipient_transfer_agreements"] = 0
    bad["basis"].update(eligible=2_000_000, minors=2)
    found = rate.art56(bad, rate.risks(bad))
    assert found[0][2] == "concerns" and len(found[0][3]) == 2
    assert found[2][2] == "strengthen"


def test_kept_three_years() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
    assert kept_until(at) == datetime(2029, 12, 7, 19, 0, tzinfo=UTC)
    assert kept_until(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2031, 2, 28, tzinfo=UTC)


def _facts(pia: str | None) -> PlanFacts:
    return PlanFacts(plan_id=1, deal="d", deal_kind="asset", dataset="crm", recipient="B",
                     categories=("identity",), purpose="hand over the base", eligible=5,
                     pia=pia)  # fmt: skip


def test_rule_for_each_state() -> None:
    def found(state: str | None) -> dict[str, int] | None:
        got = {f.rule: dict(f.counts) for f in evaluate(_facts(state))}
        return got.get("pia-signed-off")

    assert found(None) is None  # not gathered (facts built by hand)
    assert found("signed:4") is None
    assert found("missing") == {"assessments": 0}
    assert found("stale:4") == {"pia": 4}
    assert found("unsigned:4:counsel,security_officer") == {"pia": 4, "signoffs_missing": 2}
    assert found("unsigned:4:security_officer") == {"pia": 4, "signoffs_missing": 1}
