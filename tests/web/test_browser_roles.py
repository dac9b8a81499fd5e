"""Each role's path through the data room in a real browser (Debian's Chromium through
Playwright), in Chinese or English: the steward's dashboard, approvals and freeze; the
business team's aggregates; the clean team's records (watermarked, paged), download and a
freeze taking effect on the open page; counsel's inbox and timeline; the denials a role
meets; and the accessibility check of the main pages."""

from __future__ import annotations

from typing import Any

import pytest

from dealvault.flows import access_requests, admin
from tests.api.conftest import PASSWORD, Server
from tests.conftest import STEWARD, P
from tests.web import data_helpers as data
from tests.web import steward_setup as st
from tests.web.conftest import Browser, new_page
from tests.web.live import Live, axe_violations, screenshot


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The browser tests run on the embedded store only: what a page does on PostgreSQL is
    tested through the app on both stores (the other tests of tests/web)."""
    return str(request.param)


def sign_in(page: Any, email: str, me: Browser) -> None:
    """Sign in through the pages with the password and one of the recovery codes (the TOTP
    code of this 30-second step may have been used at sign-up)."""
    page.goto("/sign-in")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(PASSWORD)
    page.locator("form button.primary").click()
    page.locator("#f-code").fill(me.recovery.pop())
    page.locator("form button.primary").click()
    page.wait_for_url("**/deals")


#: words of the pages the tests look for, per language
WORDS = {
    "en": {"inventory": "Inventory", "frozen": "is frozen"},
    "zh": {"inventory": "数据清单", "frozen": "已冻结"},
}
LANGUAGES = pytest.mark.parametrize("language", ["en", "zh"])


def accept_dialogs(page: Any) -> None:
    """Answer every confirmation the page asks (a freeze, a stage change, a download)."""
    page.on("dialog", lambda d: d.accept())


@LANGUAGES
def test_the_steward_works_the_deal(
    server: Server, chromium: Any, live: Live, language: str
) -> None:
    me = st.steward(server)
    clean = st.clean_team(server)
    del clean
    admin.advance_deal(server.stores, code=st.DEAL, to=None, winner=None, actor=P(STEWARD),
                       reason="clean team phase")  # fmt: skip
    req = access_requests.request_access(
        server.stores, actor=P(st.CLEAN), deal=st.DEAL, dataset="crm", categories=["contact"],
        level="masked", purpose="check contact quality", duration_days=7,
    )  # fmt: skip
    page = new_page(chromium, live, language=language)
    accept_dialogs(page)
    sign_in(page, STEWARD, me)
    page.goto(f"/deals/{st.DEAL}")
    assert page.get_by_test_id("steward-dashboard").is_visible()
    assert page.get_by_test_id("pending-count").text_content().strip() == "1"
    screenshot(page, f"steward-dashboard-{language}")
    page.locator(f'nav.tabs a[href="/deals/{st.DEAL}/requests"]').click()
    decide = page.get_by_test_id(f"decide-{req.id}")
    decide.get_by_test_id("approve").click()
    # the steward has approved (no approve button for them now); counsel's approval is next
    decide.get_by_test_id("approve").wait_for(state="detached")
    assert st.events(server, "access.approve", actor=STEWARD)
    page.goto(f"/deals/{st.DEAL}/inventory?dataset=crm")
    assert page.get_by_role("heading", name=WORDS[language]["inventory"]).first.is_visible()
    page.goto(f"/deals/{st.DEAL}")
    page.locator("#f-freeze-reason").fill("suspected leak: checking")
    page.get_by_test_id("freeze").click()
    page.locator("[data-frozen]").wait_for()
    page.locator("#f-unfreeze-reason").fill("checked: no leak")
    page.get_by_test_id("unfreeze").click()
    page.get_by_test_id("freeze").wait_for()
    assert page.csp == []
    page.context.close()


@LANGUAGES
def test_the_business_team_reads_aggregates_with_suppressed_cells(
    server: Server, chromium: Any, live: Live, language: str
) -> None:
    data.add_shops(server)
    me = data.business(server, language=language)
    page = new_page(chromium, live, language=language)
    sign_in(page, data.ANALYST, me)
    page.goto(f"/deals/{server.world.deal}/aggregates?dataset={data.DATASET}&group_by=province")
    chart = page.get_by_test_id("aggregate-chart")
    assert chart.locator("rect").count() > 0
    table = page.get_by_test_id("aggregate-table").text_content()
    assert "已抑制" in table or "suppressed" in table
    screenshot(page, f"business-aggregates-{language}")
    # records are beyond the business team: the refusal, with the flow's reason
    page.goto(f"/deals/{server.world.deal}/records?dataset={data.DATASET}")
    assert page.get_by_test_id("records-denied").is_visible()
    for value in data.shop_values():
        assert value not in page.content()
    assert page.csp == []
    page.context.close()


@LANGUAGES
def test_the_clean_team_pages_records_downloads_and_meets_a_freeze(
    server: Server, chromium: Any, live: Live, language: str
) -> None:
    data.add_shops(server)
    me = data.clean_team(server, cap=500, language=language)
    page = new_page(chromium, live, language=language)
    accept_dialogs(page)
    sign_in(page, data.CLEAN, me)
    page.goto(f"/deals/{server.world.deal}/records?dataset={data.DATASET}")
    marks = page.locator(".watermark span")
    assert marks.count() >= 10
    assert marks.first.text_content().startswith(f"{data.CLEAN_NAME} · Bidder A · ")
    assert page.locator("[data-rows-left]").get_attribute("data-rows-left") == "450"
    screenshot(page, f"clean-records-{language}")
    page.evaluate("window.__same_page = true")
    page.get_by_test_id("page-next").click()
    page.wait_for_url("**page=2**")  # htmx swapped the page's records and kept the address
    assert page.get_by_test_id("records-table").locator("tbody tr").count() == 50
    assert page.evaluate("window.__same_page === true")  # no reload: only the records came
    assert page.locator("[data-rows-left]").get_attribute("data-rows-left") == "400"
    with page.expect_download() as got:
        page.get_by_test_id("download-submit").click()
    assert got.value.suggested_filename.endswith(".csv")
    # the steward freezes the deal while the page is open: the next page is refused, and
    # the browser shows the refusal as a page
    admin.set_frozen(server.stores, actor=P(STEWARD), code=server.world.deal, frozen=True,
                     reason="suspected leak")  # fmt: skip
    page.get_by_test_id("page-next").click()
    page.get_by_text(WORDS[language]["frozen"], exact=False).first.wait_for()
    assert page.evaluate("window.__same_page") is None  # a page of its own
    assert page.locator(".watermark span").count() == 0 or "frozen" in page.content()
    assert page.csp == []
    page.context.close()


@LANGUAGES
def test_counsel_approves_and_reads_the_timeline(
    server: Server, chromium: Any, live: Live, language: str
) -> None:
    me = st.counsel(server)
    st.clean_team(server)
    admin.advance_deal(server.stores, code=st.DEAL, to=None, winner=None, actor=P(STEWARD),
                       reason="clean team phase")  # fmt: skip
    req = access_requests.request_access(
        server.stores, actor=P(st.CLEAN), deal=st.DEAL, dataset="crm", categories=["contact"],
        level="masked", purpose="check contact quality", duration_days=7,
    )  # fmt: skip
    page = new_page(chromium, live, language=language)
    sign_in(page, st.COUNSEL, me)
    page.goto(f"/deals/{st.DEAL}/requests")
    inbox = page.get_by_test_id(f"decide-{req.id}")
    inbox.locator("textarea, input[type=text]").first.fill("scope is proportionate")
    inbox.get_by_test_id("approve").click()
    inbox.get_by_test_id("approve").wait_for(state="detached")
    [approved] = st.events(server, "access.approve", actor=st.COUNSEL)
    page.goto(f"/deals/{st.DEAL}/timeline")
    assert f'data-seq="{approved["seq"]}"' in page.content() or str(approved["seq"]) in (
        page.locator("table").first.text_content() or ""
    )
    page.goto(f"/deals/{st.DEAL}/agreements")
    assert page.get_by_test_id("agreements-registry").is_visible()
    assert page.csp == []
    page.context.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_main_pages_pass_the_accessibility_check(
    server: Server, chromium: Any, live: Live, language: str
) -> None:
    data.add_shops(server)
    me = data.clean_team(server, cap=500, language=language)
    boss = st.steward(server, language=language)
    page = new_page(chromium, live, language=language, bypass_csp=True)
    sign_in(page, data.CLEAN, me)
    deal = server.world.deal
    for url in (
        "/deals", f"/deals/{deal}", f"/deals/{deal}/records?dataset={data.DATASET}",
        f"/deals/{deal}/aggregates?dataset={data.DATASET}&group_by=province",
        f"/deals/{deal}/requests", f"/deals/{deal}/agreements", "/account",
    ):  # fmt: skip
        page.goto(url)
        assert axe_violations(page) == [], url
    page.context.close()
    page = new_page(chromium, live, language=language, bypass_csp=True)
    sign_in(page, STEWARD, boss)
    for url in (
        f"/deals/{deal}", f"/deals/{deal}/inventory?dataset={data.DATASET}",
        f"/deals/{deal}/people", f"/deals/{deal}/requests", f"/deals/{deal}/timeline",
    ):  # fmt: skip
        page.goto(url)
        assert axe_violations(page) == [], url
    page.context.close()
