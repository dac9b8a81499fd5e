"""The compliance gate in a real browser: counsel opens a plan's gate from the plan, checks
it, waives a blocking finding with a reason (confirming the dialog) and sees the waiver; the
page passes the accessibility check in English and Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dealvault.crypto.keyring import KeyRing
from dealvault.flows.context import AppStores
from tests.api.conftest import Mailbox, serve
from tests.conftest import World
from tests.transfer.test_plans import identity, make_plan, prepare
from tests.web.audit_setup import COUNSEL, counsel
from tests.web.conftest import new_page
from tests.web.live import Live, axe_violations
from tests.web.test_browser_roles import sign_in


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_counsel_waives_a_finding_in_the_browser(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
    chromium: Any,
    language: str,
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=3)
    plan = make_plan(stores, world, str(identity().to_public())).id
    server = serve(stores, keyring, world, tmp_path, mailbox, monkeypatch)
    me = counsel(server, language=language)
    with Live(server.app) as live:
        page = new_page(chromium, live, language=language)
        page.on("dialog", lambda dialog: dialog.accept())
        sign_in(page, COUNSEL, me)
        page.goto(f"/deals/{world.deal}/transfer/plans/{plan}")
        page.get_by_test_id("compliance-link").click()
        page.get_by_test_id("check").click()
        page.get_by_test_id("findings-table").wait_for()
        form = page.locator("form[data-testid^=waive-form-]").first
        form.locator("textarea").fill("the customers were told by letter, file 2026-88")
        form.locator("button").click()
        page.wait_for_load_state()
        assert "2026-88" in (page.get_by_test_id("findings-table").text_content() or "")
        assert page.csp == []
        page.context.close()
        page = new_page(chromium, live, language=language, bypass_csp=True)
        sign_in(page, COUNSEL, me)
        page.goto(f"/deals/{world.deal}/transfer/plans/{plan}/compliance")
        assert axe_violations(page) == []
        page.context.close()
