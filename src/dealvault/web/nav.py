"""The sections of a deal's pages and which roles see each in their menu (the menu only
guides: every section's flow decides for itself, and refuses with its reason)."""

from __future__ import annotations

from dataclasses import dataclass

from dealvault.access.stages import MemberRole as R


@dataclass(frozen=True)
class Section:
    slug: str  # the path under /deals/{code}/ ("" for the overview)
    label: str  # English; translated in the template
    roles: frozenset[str]


def N_(message: str) -> str:  # noqa: N802 - the name Babel's extraction looks for
    """Mark ``message`` for translation; it is translated where it is shown."""
    return message


def _roles(*roles: R) -> frozenset[str]:
    return frozenset(r.value for r in roles)


_ALL = _roles(*R)
SECTIONS: tuple[Section, ...] = (
    Section("", N_("Overview"), _ALL),
    Section("inventory", N_("Inventory"), _ALL),
    Section("aggregates", N_("Aggregates"), _roles(R.SELLER_STEWARD, R.BIDDER_BUSINESS,
                                              R.BIDDER_CLEAN_TEAM, R.COUNSEL, R.INTERMEDIARY)),
    Section("records", N_("Records"), _roles(R.SELLER_STEWARD, R.BIDDER_CLEAN_TEAM)),
    Section("requests", N_("Access requests"), _roles(R.SELLER_STEWARD, R.BIDDER_CLEAN_TEAM,
                                                  R.BIDDER_BUSINESS, R.COUNSEL,
                                                  R.INTERMEDIARY, R.SECURITY_OFFICER)),
    Section("agreements", N_("Agreements"), _ALL),
    Section("people", N_("People"), _roles(R.SELLER_STEWARD, R.SECURITY_OFFICER)),
    Section("timeline", N_("Timeline"), _roles(R.SELLER_STEWARD, R.COUNSEL, R.INTERMEDIARY,
                                           R.SECURITY_OFFICER)),
    Section("alerts", N_("Alerts"), _roles(R.SELLER_STEWARD, R.SECURITY_OFFICER)),
    Section("incidents", N_("Incidents"), _roles(R.SELLER_STEWARD, R.SECURITY_OFFICER)),
    Section("audit", N_("Audit log"), _roles(R.AUDITOR, R.SELLER_STEWARD, R.COUNSEL)),
    Section("transfer", N_("Transfer"), _roles(R.SELLER_STEWARD, R.BUYER_RECEIVER, R.COUNSEL,
                                           R.AUDITOR, R.INTERMEDIARY, R.SECURITY_OFFICER)),
)  # fmt: skip


def sections_for(roles: list[str]) -> list[Section]:
    mine = set(roles)
    return [s for s in SECTIONS if s.roles & mine]
