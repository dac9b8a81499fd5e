"""The overview's role panels: the steward's dashboard (stage, members, agreements and
their expiry, pending requests, the deal's recent refusals), the panel of counsel, the
intermediary and the security officer, and a bidder's own requests; in both languages."""

from __future__ import annotations

from datetime import timedelta

from dealvault.flows import access_requests
from tests.api.conftest import Server
from tests.conftest import P
from tests.web.steward_setup import (
    CLEAN,
    DEAL,
    TODAY,
    ZH,
    add_agreement,
    broker,
    business,
    clean_team,
    counsel,
    in_chinese,
    no_personal_value,
    officer,
    steward,
)

OVERVIEW = f"/deals/{DEAL}"


def _pending_request(server: Server) -> int:
    return access_requests.request_access(
        server.stores, actor=P(CLEAN), deal=DEAL, dataset="crm", categories=["contact"],
        level="anonymized", purpose="spot checks of the contact data", duration_days=7,
    ).id  # fmt: skip


def test_the_stewards_dashboard(server: Server) -> None:
    me = steward(server)
    bidder = clean_team(server)
    add_agreement(server, org="Bidder A", kind="nda", expires=TODAY + timedelta(days=10))
    add_agreement(server, org="Bidder B", kind="nda", expires=TODAY + timedelta(days=200))
    _pending_request(server)
    # a refusal: the clean-team member tries the people page
    assert bidder.get(f"/deals/{DEAL}/people").status_code == 403

    page = me.get(OVERVIEW)
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="steward-dashboard"' in html
    assert 'data-testid="pending-count">1<' in html
    assert 'data-testid="agreements-count">2<' in html
    assert 'data-testid="members-count">3<' in html  # steward, analyst, clean-team member
    assert html.count('data-testid="expiring-soon"') == 1  # Bidder A's, in 10 days
    assert 'data-testid="alert"' in html and CLEAN in html and "account.list" in html
    assert 'data-testid="alerts-page-link"' in html
    for form in ("freeze-form", "advance-form"):
        assert f'data-testid="{form}"' in html
    assert 'data-testid="unfreeze-form"' not in html
    no_personal_value(page)
    zh = in_chinese(me, OVERVIEW, ZH["dashboard"])
    assert "最近被拒绝的尝试" in zh.text and "冻结交易" in zh.text


def test_counsel_security_officer_and_intermediary_panels(server: Server) -> None:
    lawyer = counsel(server)
    guard = officer(server)
    banker = broker(server)
    clean_team(server)
    _pending_request(server)

    page = lawyer.get(OVERVIEW)
    assert 'data-testid="oversight-panel"' in page.text
    assert 'data-testid="awaiting-me">1<' in page.text
    assert 'data-testid="recent-alerts"' in page.text  # counsel reads the audit log
    assert 'data-testid="manage-deal"' not in page.text  # counsel does not freeze
    in_chinese(lawyer, OVERVIEW, "等待您决定的申请")

    page = guard.get(OVERVIEW)
    assert 'data-testid="awaiting-me">0<' in page.text  # contact data: steward and counsel
    assert 'data-testid="freeze-form"' in page.text  # a security officer may freeze
    assert 'data-testid="advance-form"' not in page.text
    assert 'data-testid="recent-alerts"' not in page.text  # no audit log for this role

    page = banker.get(OVERVIEW)
    assert 'data-testid="oversight-panel"' in page.text
    assert 'data-testid="not-approver"' in page.text  # the policy names no intermediary
    assert 'data-testid="manage-deal"' not in page.text
    in_chinese(banker, OVERVIEW, "您在本交易中的职责")


def test_a_bidder_sees_their_own_requests_only(server: Server) -> None:
    member = clean_team(server)
    analyst = business(server)
    request_id = _pending_request(server)

    page = member.get(OVERVIEW)
    assert 'data-testid="my-requests-panel"' in page.text
    assert f"/requests/{request_id}" in page.text
    for part in ("steward-dashboard", "manage-deal", "recent-alerts", "oversight-panel"):
        assert f'data-testid="{part}"' not in page.text
    in_chinese(member, OVERVIEW, "您的访问申请")

    page = analyst.get(OVERVIEW)  # another person of the same bidder: not their request
    assert 'data-testid="no-requests"' in page.text
    no_personal_value(page)
