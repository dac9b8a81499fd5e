"""Cross-border rules on PlanFacts: both sides of every PIPL volume threshold, HK, MO and TW
as outside the mainland, weaker mechanisms not clearing, GDPR adequacy against none, and the
rules file validated with errors that name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealvault.compliance.crossborder_file import FILE, parse, shipped
from dealvault.compliance.rules import BY_ID, RULES, FindingIn, PlanFacts, evaluate
from dealvault.errors import Invalid
from dealvault.flows.crossborder import rules_catalogue

SHIPPED = (Path(__file__).parents[2] / "src/dealvault/compliance" / FILE).read_text("utf-8")


def _facts(**over: object) -> PlanFacts:
    base: dict[str, object] = {
        "plan_id": 1, "deal": "d", "deal_kind": "asset", "dataset": "crm", "recipient": "Buyer",
        "categories": ("identity", "contact"), "purpose": "hand-over of the customer base",
        "eligible": 100, "destination": "HK",
    }  # fmt: skip
    return PlanFacts(**{**base, **over})  # type: ignore[arg-type]


def _found(rule: str, **over: object) -> FindingIn | None:
    return next((f for f in evaluate(_facts(**over)) if f.rule == rule), None)


def _needs(**over: object) -> str | None:
    """The mechanism the cross-border finding asks for (None: no finding)."""
    f = _found("cross-border-mechanism", **over)
    if f is None:
        return None
    assert f.blocking and "促进和规范数据跨境流动规定" in f.source and "v1" in f.source
    return "security_assessment" if "security assessment" in f.message else "standard_contract"


SENS = ("identity", "sensitive")


@pytest.mark.parametrize(
    ("over", "need"),
    [
        # personal information (not sensitive) of individuals since 1 January
        ({"eligible": 99_999}, None),
        ({"eligible": 100_000}, "standard_contract"),
        ({"eligible": 1, "abroad_prior": 99_998}, None),
        ({"eligible": 1, "abroad_prior": 99_999}, "standard_contract"),
        ({"eligible": 999_999}, "standard_contract"),
        ({"eligible": 1_000_000}, "security_assessment"),
        ({"eligible": 500_000, "abroad_prior": 499_999}, "standard_contract"),
        ({"eligible": 500_000, "abroad_prior": 500_000}, "security_assessment"),
        # sensitive personal information: 0 / 1 and 9,999 / 10,000
        ({"eligible": 10}, None),
        ({"eligible": 10, "abroad_prior_sensitive": 1}, "standard_contract"),
        ({"eligible": 1, "categories": SENS}, "standard_contract"),
        ({"eligible": 9_999, "categories": SENS}, "standard_contract"),
        ({"eligible": 10_000, "categories": SENS}, "security_assessment"),
        ({"eligible": 1, "categories": SENS, "abroad_prior_sensitive": 9_998}, "standard_contract"),
        ({"eligible": 1, "categories": SENS, "abroad_prior_sensitive": 9_999},
         "security_assessment"),
        # nothing handed over: nothing provided
        ({"eligible": 0, "abroad_prior": 2_000_000}, None),
    ],
)  # fmt: skip
def test_pipl_thresholds_on_both_sides(over: dict[str, object], need: str | None) -> None:
    assert _needs(**over) == need


def test_counts_behind_the_finding() -> None:
    f = _found("cross-border-mechanism", eligible=40_000, abroad_prior=70_000,
               categories=SENS, abroad_prior_sensitive=5)  # fmt: skip
    assert f is not None
    want = {"individuals": 110_000, "sensitive": 40_005, "provided_before": 70_000}
    assert dict(f.counts) == want


@pytest.mark.parametrize("dest", ["HK", "MO", "TW", "US", "DE", "hk"])
def test_outside_the_mainland_includes_hk_mo_tw(dest: str) -> None:
    assert _needs(eligible=100_000, destination=dest) == "standard_contract"


def test_the_mainland_needs_no_mechanism() -> None:
    assert _needs(eligible=5_000_000, categories=SENS, destination="CN") is None


@pytest.mark.parametrize(
    ("eligible", "recorded", "cleared"),
    [
        (100_000, ("standard_contract",), True),
        (100_000, ("certification",), True),
        (100_000, ("security_assessment",), True),  # a stronger mechanism clears it too
        (100_000, ("scc", "adequacy", "derogation"), False),  # GDPR mechanisms are not PIPL's
        (1_000_000, ("standard_contract", "certification"), False),  # weaker: still open
        (1_000_000, ("security_assessment",), True),
    ],
)
def test_a_weaker_mechanism_does_not_clear(
    eligible: int, recorded: tuple[str, ...], cleared: bool
) -> None:
    assert (_needs(eligible=eligible, mechanisms=recorded) is None) is cleared


@pytest.mark.parametrize(
    ("dest", "recorded", "found"),
    [
        ("CN", (), True),  # no adequacy decision for China
        ("HK", (), True),
        ("DE", (), False),  # inside the EEA
        ("NO", (), False),  # EEA, not EU
        ("JP", (), False),  # an adequacy decision
        ("CH", (), False),
        ("US", (), True),  # only certified organisations are covered
        ("US", ("adequacy",), False),  # counsel recorded the recipient is covered
        ("CN", ("adequacy",), True),  # adequacy cannot be recorded away for China
        ("CN", ("scc",), False),
        ("CN", ("derogation",), False),
        ("CN", ("standard_contract", "security_assessment"), True),  # PIPL's do not count
    ],
)
def test_gdpr_transfer(dest: str, recorded: tuple[str, ...], found: bool) -> None:
    f = _found("gdpr-transfer", eu_subjects=3, destination=dest, mechanisms=recorded)
    assert (f is not None) is found
    if f is not None:
        assert f.blocking and dict(f.counts) == {"eu_subjects": 3}
        assert "2016/679" in f.source and "2021/914" in f.source


def test_gdpr_transfer_needs_eu_subjects() -> None:
    assert _found("gdpr-transfer", eu_subjects=0, destination="CN") is None
    assert _found("gdpr-transfer", eu_subjects=1, destination="CN") is not None


def test_customers_without_flags_are_an_advisory() -> None:
    assert _found("flags-unknown", flags_unknown=0) is None
    f = _found("flags-unknown", flags_unknown=4)
    assert f is not None and not f.blocking and dict(f.counts) == {"customers": 4}


def test_the_gate_lists_the_cross_border_rules() -> None:
    assert {"cross-border-mechanism", "gdpr-transfer", "flags-unknown"} <= set(BY_ID)
    out = rules_catalogue()
    assert [r.id for r in out.rules] == [r.id for r in RULES]
    assert {r.kind for r in out.rules} == {"blocking", "advisory"}
    assert (out.crossborder_version, out.crossborder_as_of) == (1, "2025-01-01")


# -- the rules file ------------------------------------------------------------------------
def test_the_shipped_file_states_its_sources() -> None:
    rules = shipped()
    assert rules.version >= 1 and rules.outside_mainland("HK") and not rules.outside_mainland("cn")
    assert {"pipl", "assessment", "contract", "provisions", "gdpr", "scc"} <= set(rules.sources)
    assert str(rules.sources["provisions"].effective) == "2024-03-22"
    assert all(s.zh and s.en for s in rules.sources.values())
    t = rules.pipl.thresholds
    assert [(x.mechanism, x.min_individuals, x.min_sensitive) for x in t] == [
        ("security_assessment", 1_000_000, 10_000),
        ("standard_contract", 100_000, 1),
    ]
    assert len(rules.gdpr.eea) == 30 and rules.in_eea("IS") and not rules.in_eea("GB")
    assert rules.adequacy_of("JP") is not None and rules.adequacy_of("CN") is None
    assert "check with counsel" in SHIPPED
    assert parse(SHIPPED, where=FILE) == rules


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("version = 1", "version = 0"), "version"),
        (lambda t: t.replace("version = 1\n", ""), "version: Field required"),
        (lambda t: t.replace("as_of = 2025-01-01", 'as_of = "soon"'), "as_of"),
        (lambda t: t.replace("min_individuals = 1_000_000", "min_individual = 1_000_000"),
         "pipl.thresholds.0"),
        (lambda t: t.replace('mechanism = "security_assessment"', 'mechanism = "prayer"'),
         "pipl.thresholds.0.mechanism"),
        (lambda t: t.replace("min_individuals = 100_000", "min_individuals = 1_000_000"),
         "strictest mechanism down"),
        (lambda t: t.replace('phone = "358"', 'phone = "35"'), "prefix of another"),
        (lambda t: t.replace('{ code = "JP", name = "Japan" }',
                             '{ code = "FR", name = "France" }'), "adequacy country"),
        (lambda t: t.replace('sources = ["provisions", "assessment", "pipl"]',
                             'sources = ["provisions", "nowhere"]'), "unknown sources"),
        (lambda t: t.replace("[sources.scc]", "[sources.other]"), "sources.scc is missing"),
        (lambda t: t.replace('codes = ["CN"]', 'codes = ["China"]'), "alpha-2"),
        (lambda t: t + "\n[[oops", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_rules_file_is_refused_naming_the_problem(change: object, message: str) -> None:
    text = change(SHIPPED)  # type: ignore[operator]
    assert text != SHIPPED
    with pytest.raises(Invalid, match=r"draft\.toml: ") as err:
        parse(text, where="draft.toml")
    assert message in str(err.value)
    with pytest.raises(Invalid):
        rules_catalogue(text, where="draft.toml")
