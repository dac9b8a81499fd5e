"""Access requests through the pages: a clean-team member files one (a refused form comes
back with the reason and what was entered), the steward and counsel approve it with a
comment in their inbox (the grant is made), a denial carries its reason to the requester;
nobody approves their own request; the intermediary sees no one else's; CSRF; both
languages."""

from __future__ import annotations

import httpx

from tests.api.conftest import Server
from tests.web.conftest import Browser
from tests.web.steward_setup import (
    CLEAN,
    COUNSEL,
    DEAL,
    ZH,
    broker,
    clean_team,
    counsel,
    events,
    in_chinese,
    no_personal_value,
    steward,
    without_csrf,
)

PAGE = f"/deals/{DEAL}/requests"
FORM = {
    "dataset": "crm",
    "categories": ["contact", "transaction"],
    "level": "pseudonymized",
    "purpose": "churn analysis of the retail customers",
    "duration_days": "14",
    "row_cap": "500",
}


def _file(b: Browser, **changes: object) -> httpx.Response:
    """The request form sent (the page first, for its CSRF field), as a browser sends it."""
    return b.submit(PAGE, PAGE, {**FORM, **changes})  # type: ignore[dict-item]


def test_filing_approving_and_the_grant(server: Server) -> None:
    member = clean_team(server)
    me = steward(server)
    lawyer = counsel(server)

    page = member.get(PAGE)
    assert 'data-testid="request-form"' in page.text and 'data-testid="no-requests"' in page.text
    assert 'data-testid="approvals-inbox"' not in page.text
    in_chinese(member, PAGE, ZH["requests"])
    assert without_csrf(member, PAGE, FORM).status_code == 403  # type: ignore[arg-type]

    filed = _file(member)
    assert filed.status_code == 200 and 'data-testid="request-filed"' in filed.text
    request_id = int(str(filed.url).split("/requests/")[1].split("?")[0])
    assert events(server, "access.request", decision="allow", actor=CLEAN)

    inbox = me.get(PAGE)
    assert 'data-testid="pending-request"' in inbox.text
    assert f'data-testid="decide-{request_id}"' in inbox.text
    assert "churn analysis" in inbox.text
    no_personal_value(inbox)

    approval = f"{PAGE}/{request_id}/approve"
    assert without_csrf(me, approval, {"comment": "ok"}).status_code == 403
    page = me.submit(PAGE, approval, {"comment": "fine for two weeks"})
    assert page.status_code == 200 and "fine for two weeks" in page.text
    assert "badge-pending" in page.text  # counsel still to approve

    # counsel's inbox: the same request, awaiting counsel
    page = lawyer.submit(f"{PAGE}/{request_id}", approval, {"comment": ""})
    assert page.status_code == 200 and 'data-testid="grant"' in page.text
    assert "badge-approved" in page.text
    assert events(server, "access.grant", decision="allow", actor=COUNSEL)
    in_chinese(lawyer, f"{PAGE}/{request_id}", "审批")

    mine = member.get(PAGE)
    assert 'data-testid="my-request"' in mine.text and "badge-approved" in mine.text
    assert "of 500 rows left" in mine.text


def test_a_denial_and_its_reason(server: Server) -> None:
    member = clean_team(server)
    lawyer = counsel(server)
    request_id = int(str(_file(member).url).split("/requests/")[1].split("?")[0])
    no_csrf = without_csrf(lawyer, f"{PAGE}/{request_id}/deny", {"reason": "no"})
    assert no_csrf.status_code == 403 and 'data-code="csrf"' in no_csrf.text
    blank = lawyer.submit(PAGE, f"{PAGE}/{request_id}/deny", {"reason": " "})
    assert blank.status_code == 400 and "give a reason" in blank.text
    page = lawyer.submit(
        PAGE, f"{PAGE}/{request_id}/deny", {"reason": "pseudonymized is more than needed"}
    )
    assert page.status_code == 200 and "badge-denied" in page.text
    assert events(server, "access.deny", decision="allow", actor=COUNSEL)
    seen = member.get(f"{PAGE}/{request_id}")
    assert "pseudonymized is more than needed" in seen.text
    decided = lawyer.get(PAGE)
    assert 'data-testid="decided-request"' in decided.text
    assert 'data-testid="inbox-empty"' in decided.text


def test_a_refused_form_comes_back_with_what_was_entered(server: Server) -> None:
    member = clean_team(server)
    page = _file(member, categories=[], purpose="a purpose kept as typed")
    assert page.status_code == 400 and "name at least one data category" in page.text
    assert "a purpose kept as typed" in page.text
    page = _file(member, row_cap="-3")
    assert page.status_code == 400 and "row cap must be a positive" in page.text
    page = _file(member, dataset="no-such-dataset")
    assert page.status_code == 404
    assert not events(server, "access.request", decision="allow")


def test_nobody_approves_their_own_request_and_others_are_refused(server: Server) -> None:
    member = clean_team(server)
    banker = broker(server)
    me = steward(server)
    request_id = int(str(_file(member).url).split("/requests/")[1].split("?")[0])

    own = member.get(f"{PAGE}/{request_id}")
    assert 'data-testid="approve-form"' not in own.text
    refused = member.submit(PAGE, f"{PAGE}/{request_id}/approve", {"comment": "me"})
    assert refused.status_code == 403
    assert events(server, "access.approve", decision="deny", actor=CLEAN)

    # the intermediary: no one else's requests, and no approval
    page = banker.get(PAGE)
    assert page.status_code == 200 and 'data-testid="pending-request"' not in page.text
    assert banker.get(f"{PAGE}/{request_id}").status_code == 403
    assert banker.submit(PAGE, f"{PAGE}/{request_id}/approve", {}).status_code == 403

    # the steward may not file a request (the policy names no steward as requester)
    assert 'data-testid="request-form"' not in me.get(PAGE).text
    assert _file(me).status_code == 403

    # a request of this deal is not found under another deal's address
    assert member.get(f"/deals/other-deal/requests/{request_id}").status_code == 404
