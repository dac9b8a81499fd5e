"""The deal stage machine of docs/design.md §1 and the vocabularies of roles and kinds."""

from __future__ import annotations

from enum import StrEnum

from dealvault.errors import Conflict


class Stage(StrEnum):
    PREPARATION = "preparation"
    DUE_DILIGENCE = "due_diligence"
    CLEAN_TEAM = "clean_team"
    SIGNING = "signing"
    CLOSING = "closing"
    POST_CLOSING = "post_closing"
    TERMINATED = "terminated"


class OrgKind(StrEnum):
    SELLER = "seller"
    BIDDER = "bidder"
    BUYER = "buyer"
    INTERMEDIARY = "intermediary"
    LAW_FIRM = "law_firm"
    AUDITOR = "auditor"


class PartyRole(StrEnum):
    SELLER = "seller"
    BIDDER = "bidder"
    INTERMEDIARY = "intermediary"
    COUNSEL = "counsel"
    AUDITOR = "auditor"


class MemberRole(StrEnum):
    SELLER_STEWARD = "seller_steward"
    BIDDER_BUSINESS = "bidder_business"
    BIDDER_CLEAN_TEAM = "bidder_clean_team"
    BUYER_RECEIVER = "buyer_receiver"
    COUNSEL = "counsel"
    INTERMEDIARY = "intermediary"
    SECURITY_OFFICER = "security_officer"
    AUDITOR = "auditor"


class DealKind(StrEnum):
    EQUITY = "equity"
    ASSET = "asset"
    MERGER = "merger"


ORDER: tuple[Stage, ...] = (
    Stage.PREPARATION,
    Stage.DUE_DILIGENCE,
    Stage.CLEAN_TEAM,
    Stage.SIGNING,
    Stage.CLOSING,
    Stage.POST_CLOSING,
)

#: Allowed forward moves. The clean-team stage is optional: due diligence may go to signing.
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.PREPARATION: frozenset({Stage.DUE_DILIGENCE, Stage.TERMINATED}),
    Stage.DUE_DILIGENCE: frozenset({Stage.CLEAN_TEAM, Stage.SIGNING, Stage.TERMINATED}),
    Stage.CLEAN_TEAM: frozenset({Stage.SIGNING, Stage.TERMINATED}),
    Stage.SIGNING: frozenset({Stage.CLOSING, Stage.TERMINATED}),
    Stage.CLOSING: frozenset({Stage.POST_CLOSING}),
    Stage.POST_CLOSING: frozenset(),
    Stage.TERMINATED: frozenset(),
}


def next_stage(current: Stage) -> Stage:
    """The default next stage when ``advance`` is called without a target."""
    if current in (Stage.POST_CLOSING, Stage.TERMINATED):
        raise Conflict(f"deal is at stage {current.value}; it cannot advance any further")
    return ORDER[ORDER.index(current) + 1]


def check_transition(current: Stage, target: Stage) -> None:
    """Reject an illegal move with a message that lists the legal ones."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        legal = ", ".join(sorted(s.value for s in allowed)) or "none"
        raise Conflict(
            f"illegal stage transition {current.value} -> {target.value}; "
            f"allowed from {current.value}: {legal}",
            code="illegal_transition",
        )
