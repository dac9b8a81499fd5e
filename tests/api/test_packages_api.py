"""The buyer's side at the server: the recipient organisation's receiver lists and downloads
its transfer package (which then verifies offline with its age key), through the API and the
remote CLI; another bidder, a bidder's analyst and a stranger get nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest
from typer.testing import CliRunner

from dealvault.cli.context import CliContext
from dealvault.cli.main import app
from dealvault.crypto.keyring import KeyRing
from dealvault.flows import packages as pkg_flows
from dealvault.flows.context import AppStores
from dealvault.transfer.reconcile import verify_package
from tests.api.conftest import ANALYST, Mailbox, Server, member, remote_of, serve
from tests.api.test_signin import events
from tests.conftest import STEWARD, P, World
from tests.transfer.test_plans import approved_plan, prepare

RECEIVER = "receiver@bidder-a.example"
RIVAL = "receiver@bidder-b.example"


@dataclass
class Delivery:
    server: Server
    identity: pyrage.x25519.Identity
    package: int
    vkey: str


@pytest.fixture
def delivery(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Delivery:
    """A deal at closing (Bidder A won) whose transfer package to Bidder A is built."""
    prepare(stores, keyring, world, tmp_path)
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()))
    built = pkg_flows.build_package(
        stores, keyring, actor=P(world.steward), plan_id=plan.id, out=tmp_path / "pkg"
    )
    assert stores.audit.signer is not None
    vkey = stores.audit.signer.verifier().key_string()
    return Delivery(serve(stores, keyring, world, tmp_path, mailbox, monkeypatch), ident,
                    built.id, vkey)  # fmt: skip


def test_the_receiver_lists_downloads_and_verifies_its_package(
    delivery: Delivery, tmp_path: Path
) -> None:
    server, pid = delivery.server, delivery.package
    me = member(server, RECEIVER, role="buyer_receiver", org="Bidder A")
    listed = me.http.get("/api/deals/clean-2026/packages/inbox")
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()] == [pid]
    assert listed.json()[0]["path"] == "pkg"  # not where the server keeps it
    r = me.http.get(f"/api/packages/{pid}/download")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-tar"
    tar = tmp_path / "got.tar"
    tar.write_bytes(r.content)
    report, _ = verify_package(tar, identities=[delivery.identity], verifier_key=delivery.vkey)
    assert report.ok, report.problems
    fetched = [e for e in events(server, "package.fetch") if e["actor"] == RECEIVER]
    assert fetched and fetched[-1]["decision"] == "allow"
    assert fetched[-1]["authn"] == "password+totp" and fetched[-1]["counts"]["customers"] > 0


def test_other_bidders_and_strangers_get_no_package(delivery: Delivery) -> None:
    server, pid = delivery.server, delivery.package
    rival = member(server, RIVAL, role="buyer_receiver", org="Bidder B")
    assert rival.http.get("/api/deals/clean-2026/packages/inbox").json() == []
    denied = rival.http.get(f"/api/packages/{pid}/download")
    assert denied.status_code == 403 and "another organisation" in denied.json()["message"]
    refusals = [e for e in events(server, "package.fetch") if e["actor"] == RIVAL]
    assert refusals and refusals[-1]["decision"] == "deny"
    analyst = member(server, ANALYST, role="bidder_business", org="Bidder A")
    assert analyst.http.get(f"/api/packages/{pid}/download").status_code == 403
    assert analyst.http.get("/api/deals/clean-2026/packages/inbox").status_code == 403
    stranger = server.client()
    assert stranger.get(f"/api/packages/{pid}/download").status_code == 401
    assert rival.http.get("/api/packages/99999/download").status_code == 404
    # the seller's steward may fetch it too (operator mode at the CLI)
    from dealvault.flows import deliveries

    entry = deliveries.fetch(server.stores, actor=P(STEWARD), package_id=pid,
                             out=server.settings.home / "copy.tar")  # fmt: skip
    assert entry.id == pid and (server.settings.home / "copy.tar").stat().st_mode & 0o077 == 0


def test_the_remote_cli_fetches_the_package_and_a_proof(
    delivery: Delivery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, pid = delivery.server, delivery.package
    me = member(server, RECEIVER, role="buyer_receiver", org="Bidder A")
    remote = remote_of(server, me)
    monkeypatch.setattr(CliContext, "remote", lambda self: remote)
    r = CliRunner().invoke(app, ["package", "inbox", "--deal", "clean-2026", "--json"])
    assert r.exit_code == 0, r.output
    assert [p["id"] for p in json.loads(r.stdout)] == [pid]
    out = tmp_path / "fetched.tar"
    r = CliRunner().invoke(app, ["package", "fetch", str(pid), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out.stat().st_mode & 0o777) == 0o600
    report, _ = verify_package(out, identities=[delivery.identity], verifier_key=delivery.vkey)
    assert report.ok, report.problems
    # the receiver does not read the audit log: the server refuses the proof
    r = CliRunner().invoke(app, ["audit", "prove", "1", "--deal", "clean-2026",
                                 "--out", str(tmp_path / "p.tlog-proof")])  # fmt: skip
    assert r.exit_code == 4, r.output
    r = CliRunner().invoke(app, ["audit", "prove", "1", "--out", str(tmp_path / "p.tlog-proof")])
    assert r.exit_code != 0 and "give --deal" in r.output
