"""The buyer's pages: the receiver of Bidder A sees the package addressed to it, the server's
check of it (every check listed, passed or failed), how to verify it offline, downloads it
(and it verifies with its age key), and sees the seller's post-transfer review, which counsel
records on the page from the buyer's reconciliation report. Bidder B's receiver sees none
of it."""

from __future__ import annotations

import re
from pathlib import Path

import pyrage
import pytest

from dealvault.crypto.keyring import KeyRing
from dealvault.flows import admin, closing
from dealvault.flows import packages as pkg_flows
from dealvault.flows.context import AppStores
from dealvault.transfer.manifest import RECORDS_FILE
from dealvault.transfer.reconcile import verify_package
from dealvault.transfer.reconcile_report import write_reports
from tests.api.conftest import ANALYST, Mailbox, personal_values, serve
from tests.api.test_packages_api import RECEIVER, RIVAL, Delivery
from tests.conftest import STEWARD, P, World
from tests.transfer.test_plans import approved_plan, prepare
from tests.web.audit_setup import COUNSEL, counsel, events, member
from tests.web.conftest import Browser

TRANSFER = "/deals/clean-2026/transfer"


@pytest.fixture
def shipped(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Delivery:
    """A deal at closing (Bidder A won) whose transfer package to Bidder A is built (as
    tests/api/test_packages_api.py sets it up)."""
    prepare(stores, keyring, world, tmp_path)
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()))
    built = pkg_flows.build_package(
        stores, keyring, actor=P(world.steward), plan_id=plan.id, out=tmp_path / "pkg"
    )
    verifier = stores.audit.verifier
    assert verifier is not None
    server = serve(stores, keyring, world, tmp_path, mailbox, monkeypatch)
    return Delivery(server, ident, built.id, verifier.key_string())


CHECKS = ("signature", "manifest", "records_file", "index_file", "merkle_root", "scope")


def receiver(d: Delivery, *, language: str = "en") -> Browser:
    return member(d.server, RECEIVER, role="buyer_receiver", org="Bidder A", language=language)


def checks_of(html: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-check="([a-z_]+)" data-ok="(yes|no)">', html))


def downloaded(d: Delivery, me: Browser, tmp_path: Path) -> Path:
    r = me.get(f"{TRANSFER}/packages/{d.package}/download")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-tar"
    tar = tmp_path / "got.tar"
    tar.write_bytes(r.content)
    return tar


def test_the_receiver_sees_checks_downloads_and_verifies(shipped: Delivery, tmp_path: Path) -> None:
    d = shipped
    me = receiver(d)
    page = me.get(TRANSFER)
    assert page.status_code == 200, page.text
    assert 'data-testid="inbox-table"' in page.text and "not reviewed yet" in page.text
    assert 'data-testid="plans"' not in page.text and 'data-testid="ledger"' not in page.text
    url = f"{TRANSFER}/packages/{d.package}"
    assert url in page.text
    package = me.get(url)
    assert package.status_code == 200, package.text
    assert checks_of(package.text) == dict.fromkeys(CHECKS, "yes")
    assert 'data-verified="yes"' in package.text
    assert d.vkey in package.text and "dealvault package verify" in package.text
    assert "Not reviewed yet." in package.text and "review-form" not in package.text
    assert not [v for v in personal_values() if v in package.text]
    report, _ = verify_package(downloaded(d, me, tmp_path), identities=[d.identity],
                               verifier_key=d.vkey)  # fmt: skip
    assert report.ok, report.problems
    checked = [e for e in events(d.server, "package.check") if e["actor"] == RECEIVER]
    assert checked[-1]["decision"] == "allow" and checked[-1]["objects"]["result"] == "verified"
    fetched = [e for e in events(d.server, "package.fetch") if e["actor"] == RECEIVER]
    assert fetched[-1]["decision"] == "allow" and fetched[-1]["authn"] == "password+totp"


def test_the_receivers_pages_in_chinese(shipped: Delivery) -> None:
    d = shipped
    me = receiver(d, language="zh")
    page = me.get(TRANSFER)
    assert "发给贵方机构的转让包" in page.text
    package = me.get(f"{TRANSFER}/packages/{d.package}")
    assert "在服务器上核验" in package.text and "通过" in package.text


def test_a_damaged_package_fails_its_checks(shipped: Delivery) -> None:
    d = shipped
    stored = next(d.server.settings.home.rglob(RECORDS_FILE))
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    me = receiver(d)
    package = me.get(f"{TRANSFER}/packages/{d.package}")
    assert package.status_code == 200
    got = checks_of(package.text)
    assert got["records_file"] == "no" and got["signature"] == "yes"
    assert 'data-verified="no"' in package.text
    failed = [e for e in events(d.server, "package.check") if e["actor"] == RECEIVER]
    assert failed[-1]["objects"]["result"] == "failed"


def test_another_bidders_receiver_gets_nothing(shipped: Delivery) -> None:
    d = shipped
    rival = member(d.server, RIVAL, role="buyer_receiver", org="Bidder B")
    page = rival.get(TRANSFER)
    assert page.status_code == 200 and 'data-testid="inbox-empty"' in page.text
    package = rival.get(f"{TRANSFER}/packages/{d.package}")
    assert package.status_code == 403 and "another organisation" in package.text
    assert rival.get(f"{TRANSFER}/packages/{d.package}/download").status_code == 403
    refused = [e for e in events(d.server, "package.check") if e["actor"] == RIVAL]
    assert refused and refused[-1]["decision"] == "deny"
    analyst = member(d.server, ANALYST, role="bidder_business", org="Bidder A")
    assert analyst.get(TRANSFER).status_code == 403
    assert analyst.get(f"{TRANSFER}/packages/{d.package}").status_code == 403


def test_counsel_records_the_review_and_the_buyer_sees_it(
    shipped: Delivery, tmp_path: Path
) -> None:
    d = shipped
    me = receiver(d)
    report, _ = verify_package(downloaded(d, me, tmp_path), identities=[d.identity],
                               verifier_key=d.vkey)  # fmt: skip
    json_report = tmp_path / "reconciliation.json"
    write_reports(report, json_path=json_report, html_path=None)
    lawyer = counsel(d.server)
    url = f"{TRANSFER}/packages/{d.package}"
    page = lawyer.get(url)
    assert page.status_code == 200, page.text
    assert 'data-testid="review-form"' in page.text and "package-download" not in page.text
    # without the form's CSRF field: refused
    bare = lawyer.http.post(f"{url}/review", files={"report": ("r.json", json_report.read_bytes())})
    assert bare.status_code == 403
    # a report about another manifest cannot be accepted: the reason is shown
    other = json_report.read_text().replace(report.manifest_sha256 or "", "0" * 64)
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert csrf
    wrong = lawyer.http.post(
        f"{url}/review",
        data={"csrf": csrf.group(1), "outcome": "accepted"},
        files={"report": ("r.json", other.encode())},
    )
    assert wrong.status_code == 409 and "cannot accept" in wrong.text
    done = lawyer.http.post(
        f"{url}/review",
        data={"csrf": csrf.group(1), "notes": "all 12 customers received"},
        files={"report": ("reconciliation.json", json_report.read_bytes())},
        follow_redirects=True,
    )
    assert done.status_code == 200, done.text
    assert 'data-testid="reviews-table"' in done.text and "all 12 customers received" in done.text
    reviewed = [e for e in events(d.server, "package.review") if e["actor"] == COUNSEL]
    assert reviewed[-1]["objects"]["outcome"] == "accepted"
    # the buyer sees it: on the package and in its inbox
    seen = me.get(url)
    assert 'data-testid="reviews-table"' in seen.text and "all 12 customers received" in seen.text
    assert "badge-accepted" in me.get(TRANSFER).text


def test_the_buyer_sees_the_sellers_destruction_certificate(shipped: Delivery) -> None:
    """After the hand-over the seller destroys its copy: the buyer sees the signed statement."""
    d = shipped
    me = receiver(d)
    assert "No certificate yet." in me.get(TRANSFER).text
    admin.advance_deal(d.server.stores, code="clean-2026", to="post_closing",
                       winner=None, actor=P(STEWARD), reason="handed over")  # fmt: skip
    cert = closing.issue_certificate(d.server.stores, d.server.app.state.dealvault.keyring,
                                     actor=P(STEWARD), deal="clean-2026", datasets=["crm"],
                                     reason="closing")  # fmt: skip
    page = me.get(TRANSFER)
    assert page.status_code == 200, page.text
    assert 'data-testid="certificates-table"' in page.text and cert.sha256 in page.text
    assert "cryptographic erase" in page.text
    assert 'data-testid="inbox-table"' in page.text  # the package is still listed after closing
    listed = [e for e in events(d.server, "certificate.list") if e["actor"] == RECEIVER]
    assert listed[-1]["decision"] == "allow"
