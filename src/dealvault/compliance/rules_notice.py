"""Rules on the PIPL art. 22 notices of a transfer plan: every active customer notified, each
window to object closed before the package; customers not reached counted (and the facts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from dealvault.compliance.rules import FindingIn, PlanFacts, Rule
from dealvault.db.base import utcnow
from dealvault.transfer import plan_notices
from dealvault.transfer.models import TransferPlan


def gather(session: Session, plan: TransferPlan, *, now: datetime | None = None) -> dict[str, Any]:
    """The notice facts of ``plan`` at ``now`` (``PlanFacts`` fields ``notice_*``)."""
    st = plan_notices.state(session, plan, now=now or utcnow(), gate=True)
    return {
        "notice_batches": st.batches,
        "notice_uncovered": st.uncovered,
        "notice_pending": st.pending,
        "notice_windows_open": st.windows_open,
        "notice_window_end": st.open_until,
        "notice_unreachable": st.unreached,
    }


def _notice(f: PlanFacts, rule: Rule) -> FindingIn | None:
    if f.notice_batches is None:  # not gathered (facts built by hand)
        return None
    if f.notice_batches == 0:
        return rule.found(
            f"the customers of {f.dataset} were not told of the transfer: send each the notice "
            f"naming {f.recipient} and its contact, the purposes and how to object "
            "(dealvault plan notify)",
            batches=0,
        )
    parts, counts = [], {}
    if f.notice_uncovered:
        parts.append(f"{f.notice_uncovered} active customer(s) were never notified")
        counts["uncovered"] = f.notice_uncovered
    if f.notice_pending:
        parts.append(f"{f.notice_pending} notice(s) have no delivery status from the gateway")
        counts["pending"] = f.notice_pending
    if f.notice_windows_open:
        end = f"{f.notice_window_end:%Y-%m-%d %H:%M} UTC" if f.notice_window_end else "?"
        parts.append(
            f"{f.notice_windows_open} notified customer(s) may still object: the last window "
            f"ends {end}"
        )
        counts["windows_open"] = f.notice_windows_open
    if not parts:
        return None
    return rule.found("; ".join(parts), **counts)


def _unreachable(f: PlanFacts, rule: Rule) -> FindingIn | None:
    if not f.notice_unreachable:
        return None
    return rule.found(
        f"{f.notice_unreachable} active customer(s) could not be reached by any notice "
        "(failed, bounced or no contact point for the channel): try another channel "
        "(plan notify sends to them again) or record why they stay in",
        unreachable=f.notice_unreachable,
    )


#: the notice rules, appended to ``compliance.rules.RULES``
NOTICE_RULES: Final[tuple[Rule, ...]] = (
    Rule("pipl22-notice", "Notices to customers", "PIPL art. 22", True, _notice),
    Rule("notice-unreachable", "Customers not reached", "PIPL art. 22", False, _unreachable),
)
