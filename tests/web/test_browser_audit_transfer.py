"""The auditor's and the buyer's paths in a real browser: the auditor filters the log, opens
an event with its inclusion proof and downloads the offline bundle; the buyer's receiver
sees the package addressed to it with the server's checks and downloads it; a bidder meets
the refusal of the audit log."""

from __future__ import annotations

from typing import Any

import pyrage
import pytest

from tests.api.conftest import Server
from tests.web.audit_setup import AUDITOR, auditor
from tests.web.conftest import new_page
from tests.web.live import Live, axe_violations, screenshot
from tests.web.test_browser_roles import sign_in
from tests.web.test_signin_pages import invite
from tests.web.test_transfer_buyer import RECEIVER, TRANSFER, Delivery, receiver, shipped

__all__ = ["shipped"]  # the fixture, used below


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The browser tests run on the embedded store only: what a page does on PostgreSQL is
    tested through the app on both stores (the other tests of tests/web)."""
    return str(request.param)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_auditor_filters_proves_and_downloads(
    server: Server, chromium: Any, live: Live, language: str
) -> None:
    me = auditor(server, language=language)
    page = new_page(chromium, live, language=language)
    sign_in(page, AUDITOR, me)
    page.goto(f"/deals/{server.world.deal}/audit")
    rows = page.get_by_test_id("audit-events").locator("tbody tr")
    everything = rows.count()
    assert everything > 0
    page.get_by_test_id("filter-action").fill("deal.*")
    page.get_by_test_id("filter-submit").click()
    page.wait_for_url("**action=deal.**")  # htmx swapped the events in, the address follows
    narrowed = page.get_by_test_id("audit-events").locator("tbody tr")
    assert 0 < narrowed.count() <= everything
    screenshot(page, f"auditor-log-{language}")
    narrowed.first.get_by_test_id("event-link").click()
    assert page.get_by_test_id("leaf-index").is_visible()
    assert page.get_by_test_id("checkpoint-note").text_content().strip()
    with page.expect_download() as got:
        page.get_by_test_id("proof-download").click()
    assert got.value.suggested_filename
    event_url = page.url
    assert page.csp == []
    page.context.close()
    page = new_page(chromium, live, language=language, bypass_csp=True)
    sign_in(page, AUDITOR, me)
    for url in (f"/deals/{server.world.deal}/audit", event_url):
        page.goto(url)
        assert axe_violations(page) == [], url
    page.context.close()


def test_a_bidder_is_refused_the_audit_log(server: Server, chromium: Any, live: Live) -> None:
    from tests.web.conftest import sign_up

    invite(server)
    me = sign_up(server, "analyst@bidder-a.example")
    page = new_page(chromium, live)
    sign_in(page, "analyst@bidder-a.example", me)
    response = page.goto(f"/deals/{server.world.deal}/audit")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    page.context.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_buyer_sees_checks_and_downloads_the_package(
    shipped: Delivery, chromium: Any, language: str
) -> None:
    d = shipped
    me = receiver(d, language=language)
    with Live(d.server.app) as live:
        page = new_page(chromium, live, language=language)
        sign_in(page, RECEIVER, me)
        page.goto(TRANSFER)
        page.get_by_test_id("package-link").first.click()
        checks = page.get_by_test_id("checks-table").locator("tr[data-check]")
        assert checks.count() == 6
        assert all(checks.nth(i).get_attribute("data-ok") == "yes" for i in range(6))
        screenshot(page, f"buyer-package-{language}")
        with page.expect_download() as got:
            page.get_by_test_id("package-download").click()
        assert got.value.suggested_filename.endswith(".tar")
        assert isinstance(d.identity, pyrage.x25519.Identity)
        assert page.csp == []
        page.context.close()
        page = new_page(chromium, live, bypass_csp=True)
        sign_in(page, RECEIVER, me)
        for url in (TRANSFER, f"{TRANSFER}/packages/{d.package}"):
            page.goto(url)
            assert axe_violations(page) == [], url
        page.context.close()
