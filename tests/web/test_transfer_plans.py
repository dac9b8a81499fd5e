"""Transfer plans and the package ledger on the web: counsel approves or denies a plan (with
the CSRF field, a reason for a denial, the refusal's reason shown), the seller's steward sees
plans, ledger and certificates, the auditor reads without forms, a bidder is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pyrage
import pytest

from dealvault.crypto.keyring import KeyRing
from dealvault.flows import admin, transfer
from dealvault.flows import packages as pkg_flows
from dealvault.flows.context import AppStores
from tests.api.conftest import ANALYST, Mailbox, Server, serve
from tests.conftest import OP, P, World
from tests.transfer.test_plans import STEWARD2, approved_plan, make_plan, prepare
from tests.web.audit_setup import COUNSEL, auditor, counsel, events, member

TRANSFER = "/deals/clean-2026/transfer"


@pytest.fixture
def closing(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Server:
    """The deal at closing (Bidder A won, its transfer agreement in force), with approvers
    and an audit firm among the parties."""
    admin.create_organization(stores, actor=OP, name="Audit LLP", kind="auditor")
    admin.add_party(stores, actor=OP, deal=world.deal, organization="Audit LLP", role="auditor")
    prepare(stores, keyring, world, tmp_path)
    return serve(stores, keyring, world, tmp_path, mailbox, monkeypatch)


def recipient() -> str:
    return str(pyrage.x25519.Identity.generate().to_public())


def status_of(server: Server, plan_id: int) -> str:
    return transfer.show_plan(server.stores, actor=P(STEWARD2), plan_id=plan_id).status


def test_counsel_approves_a_plan_through_the_page(closing: Server) -> None:
    plan = make_plan(closing.stores, closing.world, recipient())
    assert plan.required_roles == ["seller_steward", "counsel"]
    transfer.approve_plan(closing.stores, actor=P(STEWARD2), plan_id=plan.id)
    me = counsel(closing)
    page = me.get(TRANSFER)
    assert page.status_code == 200, page.text
    assert 'data-testid="plans-table"' in page.text and "Bidder A" in page.text
    assert "still needed:" in page.text
    url = f"{TRANSFER}/plans/{plan.id}"
    detail = me.get(url)
    assert detail.status_code == 200
    assert 'data-testid="approve-form"' in detail.text and "data-confirm=" in detail.text
    assert STEWARD2 in detail.text  # the approval already given
    done = me.submit(url, f"{url}/approve", {"comment": "checked against the SPA"})
    assert done.status_code == 200, done.text
    assert str(done.url).endswith(url)
    assert status_of(closing, plan.id) == "approved"
    assert "checked against the SPA" in done.text
    assert 'data-testid="approve-form"' not in done.text
    approved = [e for e in events(closing, "transfer.plan.approve") if e["actor"] == COUNSEL]
    assert approved[-1]["decision"] == "allow" and approved[-1]["authn"] == "password+totp"


def test_counsel_denies_a_plan_in_chinese(closing: Server) -> None:
    plan = make_plan(closing.stores, closing.world, recipient())
    me = counsel(closing, language="zh")
    url = f"{TRANSFER}/plans/{plan.id}"
    page = me.get(url)
    assert "转让计划" in page.text and "拒绝该计划" in page.text
    # a denial needs a reason: refused on the page, the plan still open
    empty = me.submit(url, f"{url}/deny", {"reason": "  "})
    assert empty.status_code == 400 and 'role="alert"' in empty.text
    assert status_of(closing, plan.id) == "pending"
    done = me.submit(url, f"{url}/deny", {"reason": "the recipient keys are not the buyer's"})
    assert done.status_code == 200, done.text
    assert status_of(closing, plan.id) == "denied"
    assert "已拒绝" in done.text
    denied = [e for e in events(closing, "transfer.plan.deny") if e["actor"] == COUNSEL]
    assert denied[-1]["decision"] == "allow"
    assert denied[-1]["reasons"] == ["the recipient keys are not the buyer's"]


def test_approve_and_deny_need_the_forms_csrf_field(closing: Server) -> None:
    plan = make_plan(closing.stores, closing.world, recipient())
    me = counsel(closing)
    url = f"{TRANSFER}/plans/{plan.id}"
    me.get(url)
    for action, data in (("approve", {"comment": "x"}), ("deny", {"reason": "x"})):
        r = me.http.post(f"{url}/{action}", data=data)
        assert r.status_code == 403, action
        r = me.http.post(f"{url}/{action}", data={**data, "csrf": "forged"})
        assert r.status_code == 403, action
    assert status_of(closing, plan.id) == "pending"


def test_a_refused_approval_shows_the_flows_reason(closing: Server) -> None:
    plan = make_plan(closing.stores, closing.world, recipient())
    me = counsel(closing)
    url = f"{TRANSFER}/plans/{plan.id}"
    assert me.submit(url, f"{url}/approve", {}).status_code == 200
    # counsel has approved: a second approval by the same person is refused with its reason
    again = me.http.post(f"{url}/approve", data={"csrf": _csrf(me.get(url).text)})
    assert again.status_code in (403, 409), again.text
    assert 'role="alert"' in again.text and "Not done:" in again.text


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]*)"', html)
    assert m
    return m.group(1)


def test_the_steward_sees_plans_ledger_and_certificates(
    closing: Server, keyring: KeyRing, tmp_path: Path
) -> None:
    plan = approved_plan(closing.stores, closing.world, recipient())
    built = pkg_flows.build_package(closing.stores, keyring, actor=P(closing.world.steward),
                                    plan_id=plan.id, out=tmp_path / "pkg")  # fmt: skip
    me = member(closing, STEWARD2, role="seller_steward", org="洁净日化有限公司")
    page = me.get(TRANSFER)
    assert page.status_code == 200, page.text
    for part in ("plans-table", "ledger-table", "certificates"):
        assert f'data-testid="{part}"' in page.text, part
    assert "No certificate yet." in page.text
    assert f"{TRANSFER}/packages/{built.id}" in page.text
    assert 'data-testid="inbox"' not in page.text
    package = me.get(f"{TRANSFER}/packages/{built.id}")
    assert package.status_code == 200, package.text
    assert 'data-testid="package-download"' in package.text
    assert 'data-testid="review-form"' in package.text
    assert built.manifest_sha256 in package.text
    assert [e for e in events(closing, "package.ledger") if e["actor"] == STEWARD2]


def test_the_auditor_reads_plans_and_the_ledger_without_forms(
    closing: Server, keyring: KeyRing, tmp_path: Path
) -> None:
    plan = approved_plan(closing.stores, closing.world, recipient())
    built = pkg_flows.build_package(closing.stores, keyring, actor=P(closing.world.steward),
                                    plan_id=plan.id, out=tmp_path / "pkg")  # fmt: skip
    me = auditor(closing, language="zh")
    page = me.get(TRANSFER)
    assert page.status_code == 200, page.text
    assert 'data-testid="plans-table"' in page.text and 'data-testid="ledger-table"' in page.text
    assert "转让台账" in page.text
    detail = me.get(f"{TRANSFER}/plans/{plan.id}")
    assert detail.status_code == 200
    assert "approve-form" not in detail.text and "deny-form" not in detail.text
    package = me.get(f"{TRANSFER}/packages/{built.id}")
    assert package.status_code == 200, package.text
    assert "package-download" not in package.text and "review-form" not in package.text
    assert me.get(f"{TRANSFER}/packages/{built.id}/download").status_code == 403


def test_a_bidder_is_refused_the_transfer_pages(closing: Server) -> None:
    plan = make_plan(closing.stores, closing.world, recipient())
    me = member(closing, ANALYST, role="bidder_business", org="Bidder A")
    page = me.get(TRANSFER)
    assert page.status_code == 403 and 'class="reason"' in page.text
    assert me.get(f"{TRANSFER}/plans/{plan.id}").status_code == 403
    refused = [e for e in events(closing, "transfer.plan.list") if e["actor"] == ANALYST]
    assert refused and refused[-1]["decision"] == "deny"
    assert me.get(f"{TRANSFER}/plans/99999").status_code == 404
