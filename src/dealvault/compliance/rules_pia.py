"""The gate's rule on the impact assessment: the plan's latest assessment matches its current
facts and is signed off by counsel and the security officer (PIPL art. 55, 56)."""

from __future__ import annotations

from typing import Final

from dealvault.compliance.rules import FindingIn, PlanFacts, Rule

SOURCE: Final = "PIPL art. 55, 56; GB/T 39335-2020"


def _signed_off(f: PlanFacts, rule: Rule) -> FindingIn | None:
    state = f.pia
    if state is None or state.startswith("signed:"):
        return None
    kind, _, rest = state.partition(":")
    pia, _, lacking = rest.partition(":")
    if kind == "missing":
        return rule.found(
            "no personal information impact assessment of the plan: generate one "
            "(compliance pia generate) and have counsel and the security officer sign it off",
            assessments=0,
        )
    if kind == "stale":
        return rule.found(
            f"impact assessment #{pia} no longer matches the plan's facts (recipient, purposes, "
            "categories, destination, customers or exclusions changed): generate it again and "
            "sign the new one off",
            pia=int(pia),
        )
    roles = [r.replace("_", " ") for r in lacking.split(",") if r]
    return rule.found(
        f"impact assessment #{pia} lacks the sign-off of the {' and the '.join(roles)}",
        pia=int(pia),
        signoffs_missing=len(roles),
    )


#: the impact assessment's rules, appended to compliance.rules.RULES
PIA_RULES: Final[tuple[Rule, ...]] = (
    Rule("pia-signed-off", "Personal information impact assessment", SOURCE, True, _signed_off),
)
