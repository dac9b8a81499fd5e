"""Consent rules of the gate: separate consent for sensitive information in an asset transfer
(customers without it are left out of the package), and marketing use only with consent. The
facts are counted from the consent records in SQL, never from a personal value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from dealvault.access.stages import DealKind
from dealvault.consent import service as consents
from dealvault.ingest.fields import Category
from dealvault.vault.flags import MINOR
from dealvault.vault.models import CustomerRecord

if TYPE_CHECKING:
    from dealvault.compliance.rules import FindingIn, PlanFacts, Rule

SENSITIVE: Final = Category.SENSITIVE.value
#: the exclusion reason a package counts for customers left out for want of separate consent
NO_SEPARATE_CONSENT: Final = "no_separate_consent"
#: ... and for children under 14 (flagged at import) without a guardian's consent
NO_GUARDIAN_CONSENT: Final = "no_guardian_consent"


@dataclass(frozen=True)
class ConsentFacts:
    held: bool = False
    #: active customers holding sensitive information / of them without separate consent
    sensitive_customers: int = 0
    sensitive_without_consent: int = 0
    #: active customers with / without a marketing consent in force
    marketing_permitted: int = 0
    marketing_not_permitted: int = 0
    #: active customers flagged as under 14 at import / of them without a guardian's consent
    minors_flagged: int = 0
    minors_without_consent: int = 0


def needs_separate_consent(*, deal_kind: str, categories: tuple[str, ...] | list[str]) -> bool:
    """An asset transfer that hands over sensitive information needs each customer's separate
    consent to it (PIPL art. 29; the buyer is a new handler, not a successor by merger)."""
    return deal_kind == DealKind.ASSET.value and SENSITIVE in categories


def _child() -> ColumnElement[bool]:
    return CustomerRecord.flags.op("&")(MINOR) != 0


def excluded_for_consent(
    *, deal_kind: str, categories: tuple[str, ...] | list[str], at: datetime
) -> dict[str, ColumnElement[bool]]:
    """Reason -> SQL condition on ``CustomerRecord`` of the active customers a package of this
    plan leaves out for want of consent: children under 14 without a guardian's consent in
    force (PIPL art. 31), and in an asset transfer of sensitive information, customers holding
    it without a separate consent to the transfer (art. 29)."""
    out: dict[str, ColumnElement[bool]] = {
        NO_GUARDIAN_CONSENT: _child() & ~consents.in_force(purpose="guardian", at=at)
    }
    if needs_separate_consent(deal_kind=deal_kind, categories=categories):
        lacking = ~consents.in_force(purpose="transfer", at=at, category=SENSITIVE, separate=True)
        out[NO_SEPARATE_CONSENT] = CustomerRecord.enc_sensitive.is_not(None) & lacking
    return out


def gather(
    session: Session, *, dataset_id: int, deal_kind: str, categories: tuple[str, ...], at: datetime
) -> ConsentFacts:
    marketing = consents.in_force(purpose="marketing", at=at)
    has_sensitive = CustomerRecord.enc_sensitive.is_not(None)
    lacking = ~consents.in_force(purpose="transfer", at=at, category=SENSITIVE, separate=True)
    n = consents.count_active_each(  # one pass over the customers for all six counts
        session,
        dataset_id=dataset_id,
        conditions={
            "sensitive": [has_sensitive],
            "sensitive_lacking": [has_sensitive, lacking],
            "marketing": [marketing],
            "no_marketing": [~marketing],
            "minors": [_child()],
            "minors_lacking": [_child(), ~consents.in_force(purpose="guardian", at=at)],
        },
    )
    return ConsentFacts(
        held=consents.any_held(session, dataset_id=dataset_id),
        sensitive_customers=n["sensitive"],
        sensitive_without_consent=n["sensitive_lacking"],
        marketing_permitted=n["marketing"],
        marketing_not_permitted=n["no_marketing"],
        minors_flagged=n["minors"],
        minors_without_consent=n["minors_lacking"],
    )


def _separate(f: PlanFacts, rule: Rule) -> FindingIn | None:
    if not needs_separate_consent(deal_kind=f.deal_kind, categories=f.categories):
        return None
    if f.eligible == 0 or f.consent.held:
        return None
    return rule.found(
        f"the plan hands over sensitive personal information of up to {f.eligible} "
        "customer(s) in an asset transfer, and no consent records were imported: import them "
        "(dealvault consent import) so that customers without a separate consent to the "
        "transfer are left out, or leave the sensitive category out of the plan",
        customers=f.eligible,
    )


def _left_out(f: PlanFacts, rule: Rule) -> FindingIn | None:
    counts: dict[str, int] = {}
    parts = []
    if f.consent.minors_without_consent:
        counts[NO_GUARDIAN_CONSENT] = f.consent.minors_without_consent
        parts.append(
            f"{f.consent.minors_without_consent} of {f.consent.minors_flagged} child(ren) under "
            "14 have no guardian's consent"
        )
    separate = needs_separate_consent(deal_kind=f.deal_kind, categories=f.categories)
    if separate and f.consent.held and f.consent.sensitive_without_consent:
        counts[NO_SEPARATE_CONSENT] = f.consent.sensitive_without_consent
        parts.append(
            f"{f.consent.sensitive_without_consent} of {f.consent.sensitive_customers} "
            "customer(s) holding sensitive information gave no separate consent to the transfer"
        )
    if not counts:
        return None
    return rule.found(
        "; ".join(parts) + ": the package leaves them out (counted per reason in the manifest)",
        **counts,
    )


def _marketing(f: PlanFacts, rule: Rule) -> FindingIn | None:
    if Category.CONTACT.value not in f.categories or f.eligible == 0:
        return None
    if f.consent.marketing_not_permitted == 0:
        return None
    return rule.found(
        f"{f.consent.marketing_not_permitted} customer(s) hold no marketing consent in force: "
        "the recipient may not use their information for advertising or promotion (the "
        "manifest carries the restriction and the counts)",
        permitted=f.consent.marketing_permitted,
        not_permitted=f.consent.marketing_not_permitted,
    )


def rules() -> tuple[Rule, ...]:
    from dealvault.compliance.rules import Rule

    return (
        Rule("sensitive-separate-consent", "Sensitive personal information: separate consent",
             "PIPL art. 29, 30; GB/T 35273-2020 §5.4", True, _separate),
        Rule("consent-exclusions", "Customers left out for want of consent",
             "PIPL art. 14, 29, 31", False, _left_out),
        Rule("marketing-consent", "No marketing without consent",
             "PIPL art. 13, 14, 24; seed 001 §8", False, _marketing),
    )  # fmt: skip
