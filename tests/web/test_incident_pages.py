"""The alert and incident pages: the security officer filters the deal's alerts, reads one and
acknowledges it with a note, opens an incident from it, staffs it, adds tasks (a refused due
time shows the form again; an overdue task is flagged in the list and on the page), notes,
asks for the impact (counts only), marks a task done and closes it; every change needs the
form's CSRF field; a bidder is refused each page and has no menu entry; in both languages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from dealvault.audit.service import EventIn, record_many
from dealvault.db.base import utcnow
from dealvault.flows.monitoring import run_monitor
from dealvault.incidents.models import IncidentTask
from tests.api.conftest import Server
from tests.conftest import BIDDER_PERSON, OP, STEWARD
from tests.web.steward_setup import (
    DEAL,
    OFFICER,
    business,
    events,
    in_chinese,
    no_personal_value,
    officer,
    without_csrf,
)

ALERTS = f"/deals/{DEAL}/alerts"
INCIDENTS = f"/deals/{DEAL}/incidents"


def raise_alert(server: Server) -> int:
    """Five refused reads by the bidder's analyst: the monitor's denials rule fires."""
    with server.stores.unit_of_work() as uow:
        denied = EventIn(action="disclose", actor=BIDDER_PERSON, deal=DEAL, decision="deny",
                         reasons=("no policy permits it",))  # fmt: skip
        record_many(uow.records, server.stores.audit, [denied] * 5)
    (alert,) = run_monitor(server.stores, actor=OP).alerts_new
    return alert


def test_the_officer_handles_an_alert_and_its_incident(server: Server) -> None:
    me = officer(server)
    alert = raise_alert(server)
    listed = me.get(ALERTS)
    assert listed.status_code == 200, listed.text[-500:]
    assert listed.text.count('data-testid="alert-row"') == 1
    no_personal_value(listed)
    assert me.get(f"{ALERTS}?severity=critical").text.count('data-testid="alert-row"') == 0
    other = me.http.get(f"{ALERTS}?other=other-deal&status=open", follow_redirects=False)
    assert (
        other.status_code == 303
        and other.headers["location"] == "/deals/other-deal/alerts?status=open"
    )
    page = me.get(f"{ALERTS}/{alert}")
    assert 'data-testid="alert-explanation"' in page.text and BIDDER_PERSON in page.text
    assert without_csrf(me, f"{ALERTS}/{alert}/ack", {"note": "x"}).status_code == 403
    acked = me.submit(f"{ALERTS}/{alert}", f"{ALERTS}/{alert}/ack", {"note": "asked Bidder A"})
    assert acked.status_code == 200 and 'data-testid="alert-acked"' in acked.text
    assert events(server, "alert.ack", decision="allow", actor=OFFICER)

    opened = me.submit(f"{ALERTS}/{alert}", f"{ALERTS}/{alert}/incident",
                       {"title": "refused reads by the analyst"})  # fmt: skip
    assert opened.status_code == 200 and "/incidents/" in str(opened.url)
    page_url = str(opened.url.path)
    inc = int(page_url.rsplit("/", 1)[1])
    assert "refused reads by the analyst" in opened.text
    team = me.submit(page_url, f"{page_url}/assign", {"email": STEWARD, "role": "lead"})
    assert team.status_code == 200 and 'data-testid="team"' in team.text
    # a due time in the past: the form again, with the reason and what was entered
    past = (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    refused = me.submit(page_url, f"{page_url}/tasks",
                        {"title": "call Bidder A", "owner": STEWARD, "due": past})  # fmt: skip
    assert refused.status_code == 400 and "in the future" in refused.text
    assert 'value="call Bidder A"' in refused.text
    soon = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    added = me.submit(page_url, f"{page_url}/tasks",
                      {"title": "call Bidder A", "owner": STEWARD, "due": soon})  # fmt: skip
    assert added.text.count('data-testid="task-row"') == 1
    with server.stores.unit_of_work() as uow:  # its due time passes
        uow.records.execute(update(IncidentTask).values(due=utcnow() - timedelta(hours=1)))
    late = me.get(page_url)
    assert 'data-overdue="yes"' in late.text and 'data-testid="overdue-count"' in late.text
    assert 'data-overdue="1"' in me.get(INCIDENTS).text
    noted = me.submit(page_url, f"{page_url}/note", {"text": "Bidder A confirms"})
    assert "Bidder A confirms" in noted.text
    impact = me.http.get(f"{page_url}/impact", headers={"HX-Request": "true"})
    assert impact.status_code == 200 and 'data-testid="impact-customers"' in impact.text
    assert "<html" not in impact.text
    no_personal_value(impact)
    done = me.submit(page_url, f"{page_url}/tasks/1/done", {"note": "called"})
    assert 'data-status="done"' in done.text and 'data-overdue="yes"' not in done.text
    closed = me.submit(page_url, f"{page_url}/close", {"resolution": "contained"})
    assert (
        'data-testid="resolution"' in closed.text and 'data-testid="close-form"' not in closed.text
    )
    timeline = closed.text.split('data-testid="timeline"')[1]
    assert all(f'data-kind="{k}"' in timeline for k in ("alert", "note", "task", "event"))
    assert events(server, "incident.task.done", decision="allow", actor=OFFICER)
    assert me.get(f"/deals/{DEAL}/incidents/{inc + 99}").status_code == 404
    assert f'href="{page_url}/report?format=pdf"' in closed.text
    report = me.http.get(f"{page_url}/report", params={"format": "html"})
    assert report.status_code == 200 and "1. Summary" in report.text
    assert "attachment" in report.headers["content-disposition"]
    no_personal_value(report)
    no_personal_value(closed)
    in_chinese(me, page_url, "事件")
    in_chinese(me, ALERTS, "安全警报")


def test_a_bidder_is_refused_alerts_and_incidents(server: Server) -> None:
    me = business(server)
    overview = me.get(f"/deals/{DEAL}")
    assert f'href="{ALERTS}"' not in overview.text and f'href="{INCIDENTS}"' not in overview.text
    for url in (ALERTS, INCIDENTS, f"{INCIDENTS}/1", f"{ALERTS}/1", f"{INCIDENTS}/1/report"):
        page = me.get(url)
        assert page.status_code in (403, 404), url
    assert me.get(ALERTS).status_code == 403 and me.get(INCIDENTS).status_code == 403
    refused = me.submit(f"/deals/{DEAL}", INCIDENTS, {"title": "mine"})
    assert refused.status_code == 403
    assert events(server, "incident.open", decision="deny", actor=BIDDER_PERSON)
