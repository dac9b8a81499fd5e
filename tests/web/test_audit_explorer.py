"""The audit log explorer: the auditor and counsel read the deal's log in both languages,
newest first, 50 to a page; each filter (person, action, sign-in method, time) narrows the
result; a bidder is refused with the policy's reason; the read itself is recorded."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dealvault.flows import admin
from tests.api.conftest import ANALYST, Server, personal_values
from tests.conftest import STEWARD, P
from tests.web.audit_setup import AUDITOR, auditor, counsel, events, member

URL = "/deals/clean-2026/audit"
_SEQ = re.compile(r'<tr data-seq="(\d+)">')


def seqs(html: str) -> list[int]:
    return [int(s) for s in _SEQ.findall(html)]


def test_the_auditor_reads_the_log_newest_first_in_english(server: Server) -> None:
    me = auditor(server)
    page = me.get(URL)
    assert page.status_code == 200, page.text
    assert "Audit log of this deal" in page.text and 'data-testid="audit-events"' in page.text
    shown = seqs(page.text)
    assert shown and shown == sorted(shown, reverse=True)
    assert STEWARD in page.text and "deal.enter" in page.text
    assert "Password and authenticator code" in page.text  # the auditor's own sign-in
    assert "/deals/clean-2026/audit/bundle" in page.text
    assert "/deals/clean-2026/audit/report?format=pdf" in page.text
    assert not [v for v in personal_values() if v in page.text]
    read = [e for e in events(server, "audit.log") if e["actor"] == AUDITOR]
    assert read and read[-1]["decision"] == "allow" and read[-1]["deal"] == "clean-2026"
    assert read[-1]["authn"] == "password+totp" and read[-1]["counts"]["events"] == len(shown)


def test_the_explorer_in_chinese(server: Server) -> None:
    me = auditor(server, language="zh")
    page = me.get(URL)
    assert page.status_code == 200, page.text
    assert "本交易的审计日志" in page.text and "密码加身份验证器动态码" in page.text
    assert 'lang="zh-CN"' in page.text


def test_counsel_reads_the_log_too(server: Server) -> None:
    me = counsel(server)
    page = me.get(URL)
    assert page.status_code == 200, page.text
    assert seqs(page.text)


def test_a_steward_reads_the_log_in_chinese(server: Server) -> None:
    me = member(server, "steward2@seller.example", role="seller_steward", org="洁净日化有限公司",
                language="zh")  # fmt: skip
    page = me.get(URL)
    assert page.status_code == 200, page.text
    assert "本交易的审计日志" in page.text and seqs(page.text)
    assert "离线验证包（ZIP）" in page.text


def test_a_bidder_is_refused_with_the_reason(server: Server) -> None:
    me = member(server, ANALYST, role="bidder_business", org="Bidder A")
    page = me.get(URL)
    assert page.status_code == 403
    assert "Not allowed" in page.text and 'class="reason"' in page.text
    assert 'data-testid="audit-events"' not in page.text
    refused = [e for e in events(server, "audit.log") if e["actor"] == ANALYST]
    assert refused and refused[-1]["decision"] == "deny"
    for path in (f"{URL}/bundle", f"{URL}/report", f"{URL}/events/1"):
        assert me.get(path).status_code == 403, path
    zh = member(server, "clean@bidder-b.example", role="bidder_clean_team", org="Bidder B",
                language="zh")  # fmt: skip
    page = zh.get(URL)
    assert page.status_code == 403 and 'lang="zh-CN"' in page.text
    assert 'data-testid="audit-events"' not in page.text


def test_signed_out_goes_to_sign_in(server: Server) -> None:
    r = server.client().get(URL, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_each_filter_narrows_the_result(server: Server) -> None:
    me = auditor(server)
    counsel(server).get(URL)  # counsel's sign-in and reads: password+totp events
    everything = set(seqs(me.get(URL).text))
    # person: the steward's events only (the choice is a key, not the e-mail, in the URL)
    page = me.get(URL)
    key = re.search(rf'<option value="([0-9a-f]{{16}})"[^>]*>{re.escape(STEWARD)}<', page.text)
    assert key, "the steward is a choice of the person filter"
    by_steward = me.get(f"{URL}?person={key.group(1)}")
    assert by_steward.status_code == 200
    assert STEWARD not in by_steward.url.query.decode()
    steward_rows = seqs(by_steward.text)
    assert steward_rows
    assert {_actor(r) for r in _rows(by_steward.text)} == {STEWARD}
    assert len(steward_rows) < len(everything)
    # action: exact, and a prefix with *
    entered = seqs(me.get(f"{URL}?action=deal.enter").text)
    assert entered and all(
        "deal.enter" in r for r in _rows(me.get(f"{URL}?action=deal.enter").text)
    )
    accounts_ = _rows(me.get(f"{URL}?action=account.*").text)
    assert accounts_ and all("account." in r for r in accounts_)
    assert not seqs(me.get(f"{URL}?action=no.such.action").text)
    # sign-in method: the operator's local events and the members' password+totp ones
    local = _rows(me.get(f"{URL}?authn=local").text)
    assert local and all("Operator at the server" in r for r in local)
    totp = _rows(me.get(f"{URL}?authn=password%2Btotp").text)
    assert totp and all("Password and authenticator code" in r for r in totp)
    assert not {STEWARD} & {_actor(r) for r in totp}
    # time: nothing before the deal existed; everything in a window around now
    tz_now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))  # the viewer's zone
    past = (tz_now - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M")
    assert not seqs(me.get(f"{URL}?until={past}").text)
    soon = (tz_now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    recent = (tz_now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    windowed = seqs(me.get(f"{URL}?since={recent}&until={soon}").text)
    assert windowed
    assert not seqs(me.get(f"{URL}?since={soon}").text)
    unreadable = me.get(f"{URL}?since=yesterday")
    assert unreadable.status_code == 200 and "could not be read" in unreadable.text
    # filters combine
    both = _rows(me.get(f"{URL}?person={key.group(1)}&action=deal.*").text)
    assert both and all("deal." in r and _actor(r) == STEWARD for r in both)


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-seq="\d+">(.*?)</tr>', html, flags=re.S)


def _actor(row: str) -> str:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
    return cells[2].strip()


def test_pages_of_fifty_newest_first_without_gaps(server: Server) -> None:
    for _ in range(70):  # the steward at work: 70 more events of the deal
        admin.show_deal(server.stores, actor=P(STEWARD), code="clean-2026")
    me = auditor(server)
    first = me.get(URL)
    top = seqs(first.text)
    assert len(top) == 50 and top == sorted(top, reverse=True)
    assert 'data-testid="page-newer"' not in first.text
    older = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert older
    second = me.get(older.group(1).replace("&amp;", "&"))
    nxt = seqs(second.text)
    assert nxt and max(nxt) < min(top) and nxt == sorted(nxt, reverse=True)
    newer = re.search(r'href="([^"]+)" rel="prev"', second.text)
    assert newer, "the second page leads back to newer events"
    back = seqs(me.get(newer.group(1).replace("&amp;", "&")).text)
    assert back == top  # the 50 right after the second page: the first page again
    # with a filter, the pages keep it
    filtered = me.get(f"{URL}?action=deal.*")
    link = re.search(r'href="([^"]+)" rel="next"', filtered.text)
    assert link and "action=deal.%2A" in link.group(1)
    rows = _rows(me.get(link.group(1).replace("&amp;", "&")).text)
    assert rows and all("deal." in r for r in rows)


def test_the_filters_agree_with_the_signed_events(server: Server) -> None:
    """Each filter, run in the database, finds exactly the events whose signed body says so
    (a sign-in method is matched whole: ``password`` is not ``password+totp``)."""
    from dealvault.audit.store import LogFilter, query
    from dealvault.flows import auditing

    auditor(server)
    counsel(server).get(URL)
    with server.stores.records_session() as s:
        every = query(s, flt=LogFilter(deal="clean-2026", limit=10**6))
    assert {e.get("authn") for e in every} >= {"local", "password+totp"}
    who = P(AUDITOR)
    end = every[-1]["seq"] + 1  # each search below is recorded: leave those events out

    def found(flt: LogFilter, person: str | None = None) -> list[int]:
        page = auditing.explore(server.stores, actor=who, deal="clean-2026", flt=flt,
                                person=person, page=1000)  # fmt: skip
        return [e["seq"] for e in page.events]

    def expected(keep: Callable[[dict[str, Any]], bool]) -> list[int]:
        return [e["seq"] for e in reversed(every) if keep(e)]

    for method in ("local", "password", "password+totp", "token"):
        got = found(LogFilter(authn=method, before=end))
        assert got == expected(lambda e, m=method: e.get("authn") == m)
    assert found(LogFilter(action="account.*", before=end)) == expected(
        lambda e: e["action"].startswith("account.")
    )
    by_steward = found(LogFilter(before=end), person=STEWARD)
    assert by_steward == expected(lambda e: e["actor"] == STEWARD)
    middle = every[len(every) // 2]["seq"]
    assert found(LogFilter(before=middle)) == expected(lambda e: e["seq"] < middle)
    assert found(LogFilter(after=middle, before=end)) == expected(lambda e: e["seq"] > middle)


def test_people_who_act_later_become_choices(server: Server) -> None:
    me = auditor(server)
    assert "counsel@law.example" not in me.get(URL).text
    counsel(server).get("/deals/clean-2026")
    assert "counsel@law.example" in me.get(URL).text
