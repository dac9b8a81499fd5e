"""The people page: the steward and the security officer see every member's sign-in state;
the steward invites (a mail goes out, recorded), a refused invitation shows the form again;
disabling ends the person's sessions at once, enabling lets them sign in again; bidders are
refused; in both languages."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealvault.access.models import Person
from dealvault.accounts.models import AccountLink
from dealvault.db.base import utcnow
from dealvault.flows import members
from tests.api.conftest import PASSWORD, Server
from tests.conftest import STEWARD, P
from tests.web.steward_setup import (
    DEAL,
    OFFICER,
    ZH,
    business,
    clean_team,
    events,
    in_chinese,
    invite,
    no_personal_value,
    officer,
    steward,
    without_csrf,
)

PAGE = f"/deals/{DEAL}/people"
NEWCOMER = "newcomer@bidder-b.example"


def _state(html: str, email: str) -> str:
    for row in html.split('<tr data-testid="person-row"')[1:]:
        if f"<td>{email}</td>" in row:
            m = re.search(r'data-state="([a-z_]+)"', row)
            assert m
            return m.group(1)
    raise AssertionError(f"{email} is not listed")


def test_the_steward_sees_and_invites_people(server: Server) -> None:
    me = steward(server)
    page = me.get(PAGE)
    assert page.status_code == 200
    assert _state(page.text, server.world.steward) == "active"
    assert _state(page.text, server.world.bidder_person) == "not_invited"
    assert events(server, "account.list", decision="allow")
    no_personal_value(page)

    refused = without_csrf(me, f"{PAGE}/invite", {"email": NEWCOMER, "role": "bidder_business"})
    assert refused.status_code == 403

    # a new person needs a name and an organisation: the form comes back with the reason
    again = me.submit(PAGE, f"{PAGE}/invite", {"email": NEWCOMER, "role": "bidder_business"})
    assert again.status_code == 400
    assert "is not registered yet" in again.text and f'value="{NEWCOMER}"' in again.text

    done = me.submit(
        PAGE, f"{PAGE}/invite",
        {"email": NEWCOMER, "role": "bidder_business", "name": "Newcomer",
         "organization": "Bidder B"},
    )  # fmt: skip
    assert done.status_code == 200 and 'data-testid="invite-sent"' in done.text
    assert NEWCOMER not in str(done.url)  # no address in a URL
    assert _state(done.text, NEWCOMER) == "invited"
    assert server.mailbox.link_secret(NEWCOMER)
    assert events(server, "account.invite", decision="allow", actor=server.world.steward)

    # a new invitation for a member never invited
    resent = me.submit(
        PAGE, f"{PAGE}/invite", {"email": server.world.bidder_person, "role": "bidder_business"}
    )
    assert _state(resent.text, server.world.bidder_person) == "invited"
    in_chinese(me, PAGE, ZH["people"])


def test_disabling_ends_the_sessions_at_once_and_enabling_restores(server: Server) -> None:
    me = steward(server)
    member = clean_team(server)
    email = "clean@bidder-a.example"
    assert member.get(f"/deals/{DEAL}").status_code == 200

    refused = without_csrf(me, f"{PAGE}/disable", {"email": email})
    assert refused.status_code == 403
    page = me.submit(PAGE, f"{PAGE}/disable", {"email": email})
    assert _state(page.text, email) == "disabled"
    assert 'data-testid="enable-form"' in page.text
    assert events(server, "account.disable", decision="allow")

    gone = member.get(f"/deals/{DEAL}")  # the session ended: back to the sign-in page
    assert "/sign-in" in str(gone.url)

    page = me.submit(PAGE, f"{PAGE}/enable", {"email": email})
    assert _state(page.text, email) == "active"
    assert events(server, "account.enable", decision="allow")

    # the page offers nobody to disable themself
    own = page.text.split(f"<td>{server.world.steward}</td>")[1].split("</tr>")[0]
    assert 'data-testid="disable-form"' not in own


def test_the_security_officer_manages_sign_ins_but_does_not_invite(server: Server) -> None:
    guard = officer(server, language="zh")
    page = guard.get(PAGE)
    assert page.status_code == 200 and 'data-testid="people-table"' in page.text
    assert 'data-testid="invite-form"' not in page.text
    assert 'data-testid="disable-form"' in page.text
    assert "双重验证" in page.text or "已启用" in page.text
    refused = guard.submit(
        PAGE, f"{PAGE}/invite", {"email": NEWCOMER, "role": "counsel", "name": "X",
                                 "organization": "Bidder B"},
    )  # fmt: skip
    assert refused.status_code == 403
    assert events(server, "account.invite", decision="deny", actor=OFFICER)


def test_a_bidder_is_refused_with_the_reason(server: Server) -> None:
    analyst = business(server)
    page = analyst.get(PAGE)
    assert page.status_code == 403 and "data-code" in page.text
    assert "account.read" in page.text or "not allowed" in page.text.lower()
    assert events(server, "account.list", decision="deny", actor=server.world.bidder_person)
    assert analyst.submit(f"/deals/{DEAL}", f"{PAGE}/disable",
                          {"email": server.world.steward}).status_code == 403  # fmt: skip
    no_personal_value(page)


def test_every_sign_in_state(server: Server) -> None:
    """Invited, invitation run out, password without a second factor: as the flow and the
    page show them."""
    me = steward(server)
    invite(server, "late@bidder-b.example", role="bidder_business", org="Bidder B")
    invite(server, "half@bidder-b.example", role="bidder_business", org="Bidder B")
    with server.stores.records_session() as s:  # the first invitation runs out unused
        s.execute(
            update(AccountLink)
            .where(AccountLink.person_id.in_(_ids(s, "late@bidder-b.example")))
            .values(expires_at=utcnow())
        )
        s.commit()
    half = server.client().post(  # a password set, no second factor enrolled
        "/api/account/activate",
        json={"secret": server.mailbox.link_secret("half@bidder-b.example"), "password": PASSWORD},
    )
    assert half.status_code == 200
    states = {
        m.email: m.state for m in members.deal_members(server.stores, actor=P(STEWARD), deal=DEAL)
    }
    assert states["late@bidder-b.example"] == "invitation_expired"
    assert states["half@bidder-b.example"] == "no_second_factor"
    page = me.get(PAGE)
    assert _state(page.text, "late@bidder-b.example") == "invitation_expired"
    assert _state(page.text, "half@bidder-b.example") == "no_second_factor"


def _ids(s: Session, email: str) -> list[int]:
    return list(s.scalars(select(Person.id).where(Person.email == email)))
