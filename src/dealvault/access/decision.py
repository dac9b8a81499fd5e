"""Access decisions for the one read path (for now: the seller's steward reads in full)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Person
from dealvault.access.service import member_roles, party_of
from dealvault.access.stages import MemberRole, PartyRole, Stage
from dealvault.errors import Forbidden


@dataclass(frozen=True)
class Decision:
    """The outcome of one access check, with the reasons (recorded, never containing values)."""

    allowed: bool
    level: str
    reasons: tuple[str, ...]

    def enforce(self) -> None:
        if not self.allowed:
            raise Forbidden("access denied: " + "; ".join(self.reasons), code="denied")


def decide(
    session: Session,
    *,
    actor: Person,
    deal: Deal,
    action: str,
    categories: Sequence[str] = (),
    level: str = "full",
) -> Decision:
    """Deny unless allowed. Until the policy engine lands, only a seller steward may act.

    ``action`` is ``read`` (disclose), ``import``, ``shred`` or ``rotate``.
    """
    reasons: list[str] = []
    if deal.frozen:
        reasons.append(f"deal {deal.code} is frozen")
    party = party_of(deal, actor.organization_id)
    if party is None or party.role != PartyRole.SELLER:
        reasons.append("actor's organisation is not the seller in this deal")
    if MemberRole.SELLER_STEWARD not in member_roles(session, deal=deal, person=actor):
        reasons.append("actor is not a seller data steward of this deal")
    if action == "import" and Stage(deal.stage) in (Stage.POST_CLOSING, Stage.TERMINATED):
        reasons.append(f"no imports at stage {deal.stage}")
    if reasons:
        return Decision(False, "none", tuple(reasons))
    return Decision(True, level, (f"seller steward, {action} at stage {deal.stage}",))
