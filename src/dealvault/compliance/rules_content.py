"""The content rules: a plan handing over free text needs a fresh content review, and the
review's findings (listed words, other people's personal data in notes) block it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from dealvault.ingest.fields import Category

if TYPE_CHECKING:  # compliance.rules makes the Rules of these (no import cycle)
    from dealvault.compliance.rules import FindingIn, PlanFacts, Rule

    #: (id, title, legal source, blocking, check): the arguments of a ``Rule``
    RuleSpec = tuple[str, str, str, bool, Callable[[PlanFacts, Rule], FindingIn | None]]

REMEDY: Final = (
    "leave free_text out of the plan, or correct the source data and import it again (then "
    "review again), or counsel waives the finding with a reason"
)


def _hands_over_text(f: PlanFacts) -> bool:
    return Category.FREE_TEXT.value in f.categories and f.eligible > 0


def _per(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))


def _review(f: PlanFacts, rule: Rule) -> FindingIn | None:
    if not _hands_over_text(f) or (f.content_reviewed and not f.content_stale):
        return None
    why = (
        "the dataset changed since its last content review (a new import or customers' statuses)"
        if f.content_reviewed
        else "its notes have not been reviewed"
    )
    return rule.found(
        f"the plan hands over free text of up to {f.eligible} customer(s) and {why}: run "
        f"`dealvault compliance review {f.plan_id}`; or {REMEDY}",
        reviewed=int(f.content_reviewed),
        stale=int(f.content_stale),
    )


def _unlawful(f: PlanFacts, rule: Rule) -> FindingIn | None:
    if not _hands_over_text(f) or not f.content_reviewed or not sum(f.content_words.values()):
        return None
    return rule.found(
        f"the last content review found words of the list in the notes of customers the plan "
        f"would hand over ({_per(f.content_words)} customer(s) per category): content that "
        f"must not be transferred; {REMEDY}",
        **{k: int(n) for k, n in f.content_words.items()},
    )


def _third_party(f: PlanFacts, rule: Rule) -> FindingIn | None:
    if not _hands_over_text(f) or not f.content_reviewed or not sum(f.content_third_party.values()):
        return None
    return rule.found(
        f"the last content review found other people's personal data in customers' notes "
        f"({_per(f.content_third_party)}: customers per type): they were not told of the "
        f"transfer and their data has no purpose in it; {REMEDY}",
        **{k: int(n) for k, n in f.content_third_party.items()},
    )


#: the content rules, each the arguments of a ``Rule``: appended to compliance.rules.RULES
CONTENT_RULES: Final[tuple[RuleSpec, ...]] = (
    ("content-review", "Free text reviewed before transfer",
     "PIPL art. 5, 10; seed 客户信息合规性审查", True, _review),
    ("content-unlawful", "Content that must not be transferred",
     "PIPL art. 10; 网络信息内容生态治理规定 art. 6, 7", True, _unlawful),
    ("third-party-pi", "Other people's personal data in notes",
     "PIPL art. 13, 23", True, _third_party),
)  # fmt: skip
