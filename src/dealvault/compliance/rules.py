"""The rules a transfer plan is checked against: each with its id, its legal source, whether
its finding blocks the package, and a check over the plan's facts (counts, never a personal
value)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from dealvault.compliance import rules_consent
from dealvault.compliance.rules_consent import ConsentFacts
from dealvault.compliance.rules_content import CONTENT_RULES
from dealvault.compliance.rules_crossborder import CROSSBORDER_RULES


@dataclass(frozen=True)
class PlanFacts:
    """What the rules read about a plan, gathered once per check."""

    plan_id: int
    deal: str
    deal_kind: str
    dataset: str
    recipient: str
    categories: tuple[str, ...]
    purpose: str
    #: customers the plan would hand over (active), and those excluded per reason
    eligible: int
    exclusions: Mapping[str, int] = field(default_factory=dict)
    #: customers under 14 counted when the dataset was imported (PIPL art. 28, 31)
    minors: int = 0
    #: rows with sensitive personal information counted at import
    sensitive_rows: int = 0
    #: what the consent records say (compliance/rules_consent.py)
    consent: ConsentFacts = field(default_factory=ConsentFacts)
    #: the plan's impact assessment (compliance.pia.state); None: not gathered
    pia: str | None = None
    #: the plan's last content review of its free text (compliance/content.py), whether the
    #: dataset changed since, and customers it found per word category / third-party PI type
    content_reviewed: bool = False
    content_stale: bool = False
    content_words: Mapping[str, int] = field(default_factory=dict)
    content_third_party: Mapping[str, int] = field(default_factory=dict)
    #: PIPL art. 22 notices (compliance.rules_notice; None: not gathered): batches sent, and
    #: active customers never notified, pending, whose window is open (until when), unreached
    notice_batches: int | None = None
    notice_uncovered: int = 0
    notice_pending: int = 0
    notice_windows_open: int = 0
    notice_window_end: datetime | None = None
    notice_unreachable: int = 0
    #: cross-border (compliance/rules_crossborder.py): where the recipient holds the data,
    #: customers provided abroad since 1 January by other plans (and those with sensitive
    #: information), EU/EEA subjects among the active customers, customers without flags,
    #: the mechanisms counsel recorded
    destination: str = "CN"
    abroad_prior: int = 0
    abroad_prior_sensitive: int = 0
    eu_subjects: int = 0
    flags_unknown: int = 0
    mechanisms: tuple[str, ...] = ()


@dataclass(frozen=True)
class FindingIn:
    rule: str
    blocking: bool
    source: str
    message: str
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    source: str
    blocking: bool
    check: Callable[[PlanFacts, Rule], FindingIn | None]

    def found(self, message: str, **counts: int) -> FindingIn:
        return FindingIn(rule=self.id, blocking=self.blocking, source=self.source,
                         message=message, counts=counts)  # fmt: skip


def _minors(f: PlanFacts, rule: Rule) -> FindingIn | None:
    """Blocking only while the store cannot tell which customers are children: some were
    imported before per-customer flags. Flagged children without a guardian's consent are
    left out of the package (rules_consent: ``no_guardian_consent``)."""
    if f.minors <= 0 or f.flags_unknown == 0:
        return None
    return rule.found(
        f"the dataset {f.dataset} held {f.minors} customer(s) under 14 when imported, and "
        f"{f.flags_unknown} customer(s) were imported before children were flagged one by one: "
        "their personal information is sensitive and needs a parent's or guardian's consent "
        "before it is transferred; import the source again (children without a guardian's "
        "consent are then left out) or record why the finding may stand",
        minors=f.minors,
        unflagged=f.flags_unknown,
    )


def _purpose(f: PlanFacts, rule: Rule) -> FindingIn | None:
    words = len(f.purpose.split())
    if words >= 3:
        return None
    return rule.found(
        "the plan's purpose is too short to tell the customers what the recipient will do "
        "with their information (the recipient is bound to the original purposes)",
        words=words,
    )


def _excluded(f: PlanFacts, rule: Rule) -> FindingIn | None:
    total = sum(f.exclusions.values())
    if total == 0:
        return None
    parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(f.exclusions.items()))
    return rule.found(
        f"{total} customer(s) are left out of the transfer ({parts}); the manifest counts "
        "them per reason",
        **{k: int(n) for k, n in f.exclusions.items()},
    )


from dealvault.compliance.rules_notice import NOTICE_RULES  # noqa: E402 (its rules are Rules)
from dealvault.compliance.rules_pia import PIA_RULES  # noqa: E402  (it needs Rule above)

#: every rule, in the order findings are listed
RULES: Final[tuple[Rule, ...]] = (
    Rule("minors-guardian-consent", "Children's personal information",
         "PIPL art. 28, 31", True, _minors),
    *rules_consent.rules(),
    Rule("purpose-stated", "Purposes carried over", "PIPL art. 22", True, _purpose),
    Rule("exclusions-counted", "Customers left out", "PIPL art. 22, 44-47", False, _excluded),
    *PIA_RULES,
    *(Rule(*spec) for spec in CONTENT_RULES),  # content review (rules_content.py)
    *NOTICE_RULES,
    *(Rule(*r) for r in CROSSBORDER_RULES),
)  # fmt: skip
BY_ID: Final = {r.id: r for r in RULES}


def evaluate(facts: PlanFacts) -> list[FindingIn]:
    """Every rule's finding about the plan (a rule that finds nothing gives none)."""
    return [f for r in RULES if (f := r.check(facts, r)) is not None]
