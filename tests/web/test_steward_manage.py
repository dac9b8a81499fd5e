"""Managing the deal from its overview: freeze and unfreeze with a reason (a freeze stops a
bidder's reads at once, with the frozen reason), advance the stage with a reason; each
recorded; refused without the CSRF field and for a role that may not."""

from __future__ import annotations

from tests.api.conftest import Server
from tests.web.steward_setup import (
    DEAL,
    business,
    events,
    in_chinese,
    officer,
    steward,
    without_csrf,
)

OVERVIEW = f"/deals/{DEAL}"
INVENTORY = f"/deals/{DEAL}/inventory?dataset=crm"


def test_a_freeze_takes_effect_at_once_and_is_lifted(server: Server) -> None:
    me = steward(server)
    bidder = business(server)
    assert bidder.get(INVENTORY).status_code == 200

    refused = without_csrf(me, f"{OVERVIEW}/freeze", {"reason": "suspected leak"})
    assert refused.status_code == 403 and 'data-code="csrf"' in refused.text
    assert not events(server, "deal.freeze")

    page = me.submit(OVERVIEW, f"{OVERVIEW}/freeze", {"reason": "suspected leak of a file"})
    assert page.status_code == 200 and "data-frozen" in page.text
    assert 'data-testid="unfreeze-form"' in page.text
    assert 'data-testid="freeze-form"' not in page.text
    (frozen,) = events(server, "deal.freeze", decision="allow")
    assert frozen["purpose"] == "suspected leak of a file"
    in_chinese(me, OVERVIEW, "解除冻结")

    # the bidder's page that reads data is refused with the frozen reason
    stopped = bidder.get(INVENTORY)
    assert stopped.status_code == 403
    assert f"deal {DEAL} is frozen (temporary isolation)" in stopped.text
    assert events(server, "inventory", decision="deny", actor=server.world.bidder_person)
    overview = bidder.get(OVERVIEW)  # the overview stays, with the freeze said
    assert overview.status_code == 200 and "data-frozen" in overview.text
    assert "access requests cannot be read until it is unfrozen" in overview.text
    # ... and the steward's own reads stop too, the audit log excepted
    assert me.get(f"/deals/{DEAL}/requests").status_code == 403
    assert me.get(f"/deals/{DEAL}/timeline").status_code == 200

    assert without_csrf(me, f"{OVERVIEW}/unfreeze", {"reason": "x"}).status_code == 403
    page = me.submit(OVERVIEW, f"{OVERVIEW}/unfreeze", {"reason": "the file was ours"})
    assert "data-frozen" not in page.text
    assert events(server, "deal.unfreeze", decision="allow", purpose="the file was ours")
    assert bidder.get(INVENTORY).status_code == 200


def test_a_freeze_needs_a_reason_and_the_right_role(server: Server) -> None:
    me = steward(server)
    bidder = business(server)
    blank = me.submit(OVERVIEW, f"{OVERVIEW}/freeze", {"reason": "   "})
    assert blank.status_code == 400 and "a reason is required" in blank.text
    missing = me.submit(OVERVIEW, f"{OVERVIEW}/freeze", {})
    assert missing.status_code == 422 and "reason" in missing.text

    refused = bidder.submit(OVERVIEW, f"{OVERVIEW}/freeze", {"reason": "I would like to"})
    assert refused.status_code == 403
    assert "deal.freeze" in refused.text or "may not" in refused.text
    assert events(server, "deal.freeze", decision="deny")
    assert 'data-testid="manage-deal"' not in bidder.get(OVERVIEW).text


def test_a_security_officer_freezes_in_chinese(server: Server) -> None:
    guard = officer(server, language="zh")
    page = guard.submit(OVERVIEW, f"{OVERVIEW}/freeze", {"reason": "可疑的下载"})
    assert page.status_code == 200 and "data-frozen" in page.text
    assert "解除冻结" in page.text
    assert events(server, "deal.freeze", decision="allow", actor="security@seller.example")


def test_advancing_the_stage(server: Server) -> None:
    me = steward(server)
    refused = without_csrf(me, f"{OVERVIEW}/advance", {"to": "clean_team", "reason": "x"})
    assert refused.status_code == 403

    page = me.submit(
        OVERVIEW, f"{OVERVIEW}/advance", {"to": "clean_team", "reason": "bids shortlisted"}
    )
    assert page.status_code == 200
    assert "badge-clean-team" in page.text and "bids shortlisted" in page.text
    moved = events(server, "deal.stage", decision="allow")[-1]
    assert moved["objects"] == {"from": "due_diligence", "to": "clean_team"}
    assert moved["purpose"] == "bids shortlisted"

    # closing needs the winner: the flow says so
    me.submit(OVERVIEW, f"{OVERVIEW}/advance", {"to": "signing", "reason": "SPA drafted"})
    page = me.get(OVERVIEW)
    assert 'name="winner"' in page.text  # the next stage is closing
    refused = me.submit(OVERVIEW, f"{OVERVIEW}/advance", {"to": "closing", "reason": "signed"})
    assert refused.status_code == 409 and "winning bidder" in refused.text
    page = me.submit(
        OVERVIEW, f"{OVERVIEW}/advance",
        {"to": "closing", "winner": "Bidder A", "reason": "SPA signed"},
    )  # fmt: skip
    assert page.status_code == 200 and "badge-closing" in page.text

    bidder = business(server)
    denied = bidder.submit(OVERVIEW, f"{OVERVIEW}/advance", {"to": "post_closing", "reason": "x"})
    assert denied.status_code == 403
