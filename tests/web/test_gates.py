"""Confidentiality before content: a member's first visit to a deal shows their
organisation's click-through agreement, and only its acceptance (the box ticked, the
document's SHA-256 confirmed) opens the deal, recorded as a signature with the session's
client address; a member without valid training is told what is missing and sees metadata
only. In a real browser as well."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

import pytest

from dealvault.flows import agreements
from tests.api.conftest import ANALYST, Server
from tests.api.test_signin import events
from tests.conftest import STEWARD, P
from tests.web.conftest import csrf_of, sign_up
from tests.web.live import Live, screenshot
from tests.web.test_browser_signin import follow_invitation
from tests.web.test_signin_pages import invite


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The browser tests run on the embedded store only: what a page does on PostgreSQL is
    tested through the app on both stores (the other tests of tests/web)."""
    return str(request.param)


NDA = "Invented NDA for the tests.\n\nThe recipient keeps the data room confidential.\n"
SHA = hashlib.sha256(NDA.encode()).hexdigest()


def click_nda(server: Server, org: str = "Bidder A") -> int:
    doc = server.settings.home / "nda.txt"
    doc.write_text(NDA, encoding="utf-8")
    out = agreements.add_agreement(
        server.stores, server.app.state.dealvault.keyring, actor=P(STEWARD),
        deal=server.world.deal, organization=org, kind="nda", title="NDA (click)",
        effective=date.today() - timedelta(days=1), document=doc, acceptance="click",
        signers=[],
    )  # fmt: skip
    return out.id


def test_the_first_visit_asks_for_the_agreement_and_records_the_signature(
    server: Server,
) -> None:
    nda = click_nda(server)
    invite(server)
    b = sign_up(server, ANALYST)
    deal = server.world.deal
    page = b.get(f"/deals/{deal}")
    assert page.url.path == f"/deals/{deal}/agreements/{nda}/accept"
    assert SHA in page.text and "The recipient keeps the data room confidential." in page.text
    # every content page of the deal leads to it too
    assert b.get(f"/deals/{deal}").url.path.endswith("/accept")
    unticked = b.http.post(page.url.path, data={"csrf": csrf_of(page), "sha256": SHA})
    assert unticked.status_code == 400 and "tick the box" in unticked.text
    wrong = b.http.post(page.url.path, data={"csrf": csrf_of(page), "agree": "yes",
                                             "sha256": "0" * 64})  # fmt: skip
    assert wrong.status_code == 400
    ok = b.http.post(page.url.path, data={"csrf": csrf_of(page), "agree": "yes", "sha256": SHA},
                     follow_redirects=True)  # fmt: skip
    assert ok.url.path == f"/deals/{deal}" and "Parties" in ok.text
    signed = [e for e in events(server, "agreement.accept") if e["decision"] == "allow"]
    assert signed and signed[-1]["objects"]["document_sha256"] == SHA
    assert signed[-1]["client"] == "127.0.0.1"
    shown = agreements.show_agreement(server.stores, actor=P(STEWARD), agreement_id=nda)
    [signer] = shown.signers
    assert (signer.person, signer.method, signer.client) == (ANALYST, "click", "127.0.0.1")
    assert signer.document_sha256 == SHA


def test_the_document_downloads_with_its_fingerprint(server: Server) -> None:
    nda = click_nda(server)
    invite(server)
    b = sign_up(server, ANALYST)
    r = b.http.get(f"/deals/{server.world.deal}/agreements/{nda}/document")
    assert r.status_code == 200 and r.content == NDA.encode()
    assert r.headers["x-document-sha256"] == SHA
    assert r.headers["content-disposition"] == f'attachment; filename="agreement-{nda}.txt"'


def test_another_organisations_agreement_is_not_found(server: Server) -> None:
    other = click_nda(server, org="Bidder B")
    invite(server)
    b = sign_up(server, ANALYST)
    r = b.http.get(f"/deals/{server.world.deal}/agreements/{other}/accept")
    assert r.status_code == 404 and NDA.splitlines()[0] not in r.text
    assert b.get(f"/deals/{server.world.deal}").url.path == f"/deals/{server.world.deal}"


def test_without_training_a_member_is_told_what_is_missing(server: Server) -> None:
    invite(server, email="fresh@bidder-a.example")
    b = sign_up(server, "fresh@bidder-a.example", language="zh")
    page = b.get(f"/deals/{server.world.deal}")
    assert "您的保密培训缺失或已过期" in page.text
    training = b.get(f"/deals/{server.world.deal}/training")
    assert "保密培训" in training.text and "confidentiality" in training.text


def test_accepting_in_the_browser(server: Server, page: Any, live: Live) -> None:
    click_nda(server)
    invite(server)
    follow_invitation(page, server)
    page.goto(f"/deals/{server.world.deal}")
    assert page.url.endswith("/accept")
    screenshot(page, "agreement-accept")
    page.get_by_role("button", name="Accept and sign").click()
    assert page.url.endswith("/accept")  # the browser itself asks for the box first
    page.get_by_label("I have read this agreement").check()
    page.get_by_role("button", name="Accept and sign").click()
    page.get_by_role("heading", name="Parties").wait_for()
    assert page.url.endswith(f"/deals/{server.world.deal}")
