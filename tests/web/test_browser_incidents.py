"""The security officer's alert and incident pages in a real browser: from the menu to the
alert, on to its incident with an overdue task, the impact counted in place (htmx), and no
serious accessibility violation (axe-core) on any of them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from dealvault.db.base import utcnow
from dealvault.flows import incident_tasks, incidents
from dealvault.incidents.models import IncidentTask
from tests.api.conftest import Server
from tests.conftest import STEWARD, P, train
from tests.web.conftest import new_page
from tests.web.live import Live, axe_violations, screenshot
from tests.web.steward_setup import DEAL, OFFICER, officer
from tests.web.test_browser_roles import sign_in
from tests.web.test_incident_pages import raise_alert


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """On the embedded store only (the pages on PostgreSQL: tests/web/test_incident_pages)."""
    return str(request.param)


def test_the_officer_goes_from_the_alert_to_the_incident(
    server: Server, chromium: Any, live: Live
) -> None:
    me = officer(server)
    train(server.stores, OFFICER)
    alert = raise_alert(server)
    inc = incidents.open_incident(server.stores, actor=P(OFFICER), title="refused reads",
                                  alert_ids=[alert])  # fmt: skip
    incident_tasks.add_task(server.stores, actor=P(OFFICER), incident_id=inc.id,
                            title="call Bidder A", owner=STEWARD,
                            due=utcnow() + timedelta(hours=1))  # fmt: skip
    with server.stores.unit_of_work() as uow:
        uow.records.execute(update(IncidentTask).values(due=utcnow() - timedelta(hours=1)))
    page = new_page(chromium, live)
    sign_in(page, OFFICER, me)
    page.goto(f"/deals/{DEAL}")
    page.get_by_role("link", name="Alerts", exact=True).click()
    page.get_by_test_id("alert-link").first.click()
    assert page.get_by_test_id("alert-explanation").text_content()
    page.goto(f"/deals/{DEAL}")
    page.get_by_role("link", name="Incidents", exact=True).click()
    assert page.get_by_test_id("incident-row").first.get_attribute("data-overdue") == "1"
    page.get_by_test_id("incident-link").first.click()
    assert page.get_by_test_id("task-row").first.get_attribute("data-overdue") == "yes"
    page.get_by_test_id("impact-button").click()
    assert page.get_by_test_id("impact-customers").text_content().strip() == "0"
    screenshot(page, "officer-incident-en")
    assert page.csp == []
    incident_url = page.url
    page.context.close()
    page = new_page(chromium, live, bypass_csp=True)
    sign_in(page, OFFICER, me)
    for url in (f"/deals/{DEAL}/alerts", f"/deals/{DEAL}/alerts/{alert}",
                f"/deals/{DEAL}/incidents", incident_url):  # fmt: skip
        page.goto(url)
        if url == incident_url:
            page.get_by_test_id("impact-button").click()
            page.get_by_test_id("impact").wait_for()
        assert axe_violations(page) == [], url
    page.context.close()
