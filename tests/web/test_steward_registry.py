"""The agreements page (the registry for the roles that read it, one's organisation's
click-through agreements for everyone) and the timeline (stages, and the deal's audit
events newest first, a page at a time, for the roles that read the log), in both
languages; the refusals."""

from __future__ import annotations

import re
from datetime import timedelta

from dealvault.flows import admin
from tests.api.conftest import Server
from tests.conftest import P
from tests.web.steward_setup import (
    COUNSEL,
    DEAL,
    TODAY,
    ZH,
    add_agreement,
    broker,
    business,
    clean_team,
    counsel,
    events,
    in_chinese,
    no_personal_value,
    officer,
    steward,
)

AGREEMENTS = f"/deals/{DEAL}/agreements"
TIMELINE = f"/deals/{DEAL}/timeline"


def test_the_registry_and_its_expiry(server: Server) -> None:
    me = steward(server)
    lawyer = counsel(server)
    add_agreement(server, org="Bidder A", kind="nda", expires=TODAY + timedelta(days=7),
                  signers=("analyst@bidder-a.example",))  # fmt: skip
    add_agreement(server, org="Bidder B", kind="nda")
    for who in (me, lawyer):
        page = who.get(AGREEMENTS)
        assert page.status_code == 200
        assert len(re.findall(r'data-testid="registry-row"', page.text)) == 2
        assert page.text.count('data-testid="expiring-soon"') == 1
        assert "analyst@bidder-a.example" in page.text
        no_personal_value(page)
    assert 'data-testid="own-agreements"' not in me.get(AGREEMENTS).text  # no click-through
    assert 'data-testid="own-agreements"' in lawyer.get(AGREEMENTS).text
    assert events(server, "agreement.list", decision="allow", actor=COUNSEL)
    in_chinese(me, AGREEMENTS, ZH["agreements"])


def test_a_bidder_sees_its_click_through_agreement_only(server: Server) -> None:
    add_agreement(server, org="Bidder A", kind="clean_team", click=True)
    add_agreement(server, org="Bidder B", kind="nda")
    analyst = business(server)
    member = clean_team(server)
    # the clean-team member is sent to accept first, from any page but this one
    assert "/accept" in str(member.get(f"/deals/{DEAL}").url)
    page = member.get(AGREEMENTS)
    assert page.status_code == 200 and 'data-testid="accept-link"' in page.text
    assert 'data-testid="agreements-registry"' not in page.text
    assert "Bidder B" not in page.text.split('data-testid="own-agreements"')[1]
    in_chinese(member, AGREEMENTS, "贵方机构需在线接受的协议")

    page = analyst.get(AGREEMENTS)  # every person of the organisation is asked to accept
    assert page.status_code == 200 and 'data-testid="accept-link"' in page.text
    assert "Bidder B" not in page.text.split('data-testid="own-agreements"')[1]
    assert not events(server, "agreement.list", decision="deny")  # nothing asked in vain


def test_the_timeline_pages_newest_first(server: Server) -> None:
    me = steward(server)
    for _ in range(60):  # many recorded reads
        admin.show_deal(server.stores, actor=P(server.world.steward), code=DEAL)
    page = me.get(TIMELINE)
    assert page.status_code == 200
    assert 'data-testid="stage-history"' in page.text and "teaser round done" in page.text
    seqs = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', page.text)]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    older = re.search(r'href="(/deals/[^"]+before=\d+)"', page.text)
    assert older
    page2 = me.get(older.group(1).replace("&amp;", "&"))
    seqs2 = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', page2.text)]
    assert seqs2 and max(seqs2) < min(seqs)
    no_personal_value(page)
    in_chinese(me, TIMELINE, ZH["timeline"])


def test_denied_attempts_only(server: Server) -> None:
    me = steward(server)
    analyst = business(server)
    assert analyst.get(f"/deals/{DEAL}/people").status_code == 403
    page = me.get(f"{TIMELINE}?decision=deny")
    decisions = re.findall(r'data-testid="event" data-decision="(\w*)"', page.text)
    assert decisions and set(decisions) == {"deny"}
    assert "account.list" in page.text and server.world.bidder_person in page.text


def test_who_sees_what_of_the_timeline(server: Server) -> None:
    lawyer = counsel(server)
    banker = broker(server)
    guard = officer(server)
    analyst = business(server)
    assert 'data-testid="events-table"' in lawyer.get(TIMELINE).text
    for who in (banker, guard):  # a timeline role without the audit log: the stages
        page = who.get(TIMELINE)
        assert page.status_code == 200 and 'data-testid="no-audit-log"' in page.text
    in_chinese(banker, TIMELINE, "审计日志")
    refused = analyst.get(TIMELINE)  # not a timeline role: the flow refuses, recorded
    assert refused.status_code == 403
    assert events(server, "audit.log", decision="deny", actor=server.world.bidder_person)
    assert analyst.get(f"{TIMELINE}?decision=maybe").status_code == 422
