"""Click-through acceptance of an agreement through the real ASGI app: a clean-team member
lists, downloads and accepts the clean-team agreement of their organisation, which then
covers their governed reads as an offline signature would; the wrong SHA-256, a second
acceptance, a revoked or offline-signed agreement and a missing CSRF header are refused;
another bidder's member does not learn the agreement exists (404, recorded); the remote CLI
does the same through the server."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dealvault.access.agreements import AgreementOut
from dealvault.access.decision import Decision, decide
from dealvault.access.models import Deal
from dealvault.cli.context import CliContext
from dealvault.cli.main import app
from dealvault.flows import access_requests, admin, agreements
from dealvault.vault.models import Dataset
from tests.api.conftest import OTHER, Server, member, remote_of
from tests.api.test_signin import events
from tests.conftest import OP, STEWARD, P, acting_person, train

CLEAN = "clean@bidder-a.example"
COUNSEL = "counsel@law.example"
DOCUMENT = b"%PDF-1.4 invented clean-team agreement, version 3\n"
SHA = hashlib.sha256(DOCUMENT).hexdigest()
WRONG = hashlib.sha256(b"another version").hexdigest()
TODAY = date.today()


def _add(
    server: Server, *, kind: str = "clean_team", acceptance: str = "click", org: str = "Bidder A"
) -> AgreementOut:
    doc = server.settings.home / f"agreement-{kind}-{acceptance}.pdf"
    doc.write_bytes(DOCUMENT)
    return agreements.add_agreement(
        server.stores, server.app.state.dealvault.keyring, actor=P(STEWARD),
        deal=server.world.deal, organization=org, kind=kind, title=f"{kind} ({acceptance})",
        effective=TODAY - timedelta(days=3), document=doc, acceptance=acceptance,
        signers=[],
    )  # fmt: skip


def _granted(server: Server) -> None:
    """Training and an approved anonymized grant for the clean-team member (counsel and the
    steward approve), so that only the agreement is missing for their governed reads."""
    stores = server.stores
    admin.create_organization(stores, actor=OP, name="Law LLP", kind="law_firm")
    admin.add_party(stores, actor=OP, deal=server.world.deal, organization="Law LLP",
                    role="counsel")  # fmt: skip
    admin.create_person(stores, actor=OP, email=COUNSEL, name="Counsel", organization="Law LLP")
    admin.add_member(stores, actor=OP, deal=server.world.deal, email=COUNSEL, role="counsel")
    train(stores, CLEAN)
    req = access_requests.request_access(
        stores, actor=P(CLEAN), deal=server.world.deal, dataset="crm", categories=["contact"],
        level="anonymized", purpose="spot checks", duration_days=7,
    )  # fmt: skip
    access_requests.approve_request(stores, actor=P(STEWARD), request_id=req.id)
    out = access_requests.approve_request(stores, actor=P(COUNSEL), request_id=req.id)
    assert out.status == "approved"


def _decision(server: Server) -> Decision:
    """The decision on the clean-team member's anonymized read of crm's contacts, now."""
    with server.stores.records_session() as s:
        deal = s.scalars(select(Deal).where(Deal.code == server.world.deal)).one()
        dataset = s.scalars(select(Dataset).where(Dataset.deal_id == deal.id)).one()
        return decide(
            s, actor=acting_person(s, CLEAN), deal=deal, action="read", level="anonymized",
            categories=["contact"], dataset="crm", dataset_id=dataset.id,
        )  # fmt: skip


def test_a_clean_team_member_accepts_and_is_then_covered(server: Server) -> None:
    agreement = _add(server)
    me = member(server, CLEAN, role="bidder_clean_team", org="Bidder A")
    _granted(server)
    before = _decision(server)
    assert not before.allowed and "clean-team agreement" in " ".join(before.reasons)

    mine = me.http.get("/api/deals/clean-2026/agreements/mine")
    assert mine.status_code == 200, mine.text
    assert [(a["id"], a["awaiting"], a["accepted"]) for a in mine.json()] == [
        (agreement.id, True, False)
    ]
    assert mine.json()[0]["document_sha256"] == SHA
    doc = me.http.get(f"/api/agreements/{agreement.id}/document")
    assert doc.status_code == 200, doc.text
    assert doc.content == DOCUMENT and doc.headers["x-document-sha256"] == SHA
    assert doc.headers["content-type"] == "application/octet-stream"

    url = f"/api/agreements/{agreement.id}/accept"
    wrong = me.post(url, json={"document_sha256": WRONG})
    assert wrong.status_code == 409 and "download the document again" in wrong.text
    no_csrf = me.http.post(url, json={"document_sha256": SHA})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"] == "csrf"
    assert _decision(server).allowed is False

    done = me.post(url, json={"document_sha256": SHA.upper()})
    assert done.status_code == 200, done.text
    got = done.json()
    assert got["document_sha256"] == SHA and got["client"] == "127.0.0.1"
    assert got["person"] == CLEAN and got["organization"] == "Bidder A"
    assert got["signed_on"] == got["accepted_at"][:10]
    again = me.post(url, json={"document_sha256": SHA})
    assert again.status_code == 409 and "already accepted" in again.text

    after = _decision(server)
    assert after.allowed and after.level == "anonymized", after.reasons
    listed = me.http.get("/api/deals/clean-2026/agreements/mine").json()
    assert [(a["awaiting"], a["accepted"]) for a in listed] == [(False, True)]

    accepted = [e for e in events(server, "agreement.accept") if e["decision"] == "allow"]
    assert len(accepted) == 1
    event = accepted[0]
    assert event["actor"] == CLEAN and event["client"] == "127.0.0.1"
    assert event["authn"] == "password+totp" and event["deal"] == "clean-2026"
    assert event["objects"] == {"agreement": agreement.id, "kind": "clean_team",
                                "document_sha256": SHA}  # fmt: skip
    assert "Member" not in json.dumps(event["objects"])
    reviewed = events(server, "agreement.review")
    assert reviewed and reviewed[-1]["objects"]["document_sha256"] == SHA

    # the registry shows the signature and how it was given
    shown = agreements.show_agreement(server.stores, actor=P(STEWARD), agreement_id=agreement.id)
    assert shown.acceptance == "click"
    [signer] = shown.signers
    assert (signer.person, signer.method, signer.client) == (CLEAN, "click", "127.0.0.1")
    assert signer.document_sha256 == SHA and signer.accepted_at is not None


def test_another_bidder_does_not_learn_the_agreement_exists(server: Server) -> None:
    agreement = _add(server)
    rival = member(server, OTHER, role="bidder_clean_team", org="Bidder B")
    assert rival.http.get("/api/deals/clean-2026/agreements/mine").json() == []
    nowhere = rival.http.get("/api/agreements/99999/document")
    assert nowhere.status_code == 404
    doc = rival.http.get(f"/api/agreements/{agreement.id}/document")
    accept = rival.post(f"/api/agreements/{agreement.id}/accept", json={"document_sha256": SHA})
    for r in (doc, accept):
        assert r.status_code == 404, r.text
        assert r.json()["message"] == nowhere.json()["message"].replace("99999", str(agreement.id))
    for action in ("agreement.review", "agreement.accept"):
        denied = [e for e in events(server, action) if e["actor"] == OTHER]
        assert denied and denied[-1]["decision"] == "deny", action
        assert denied[-1]["reasons"] == ["the agreement binds another organisation"]
    shown = agreements.show_agreement(server.stores, actor=P(STEWARD), agreement_id=agreement.id)
    assert shown.signers == []


def test_revoked_and_offline_agreements_are_refused(server: Server) -> None:
    click = _add(server)
    offline = _add(server, kind="nda", acceptance="signed")
    me = member(server, CLEAN, role="bidder_clean_team", org="Bidder A")
    refused = me.post(f"/api/agreements/{offline.id}/accept", json={"document_sha256": SHA})
    assert refused.status_code == 409 and "signed offline" in refused.text
    hidden = me.http.get(f"/api/agreements/{offline.id}/document")
    assert hidden.status_code == 403 and "stays with the steward" in hidden.text
    agreements.revoke_agreement(server.stores, actor=P(STEWARD), agreement_id=click.id,
                                reason="superseded")  # fmt: skip
    revoked = me.post(f"/api/agreements/{click.id}/accept", json={"document_sha256": SHA})
    assert revoked.status_code == 409 and "revoked" in revoked.text
    assert me.http.get("/api/deals/clean-2026/agreements/mine").json() == []
    # a malformed digest never reaches the use case
    bad = me.post(f"/api/agreements/{click.id}/accept", json={"document_sha256": "abc"})
    assert bad.status_code == 422


def test_a_token_reads_but_never_signs(server: Server) -> None:
    agreement = _add(server)
    me = member(server, CLEAN, role="bidder_clean_team", org="Bidder A")
    made = me.post("/api/account/tokens", json={"name": "t", "scopes": ["read", "manage"]})
    assert made.status_code == 201, made.text
    bearer = {"Authorization": f"Bearer {made.json()['secret']}"}
    http = server.client()
    assert http.get("/api/deals/clean-2026/agreements/mine", headers=bearer).status_code == 200
    r = http.post(f"/api/agreements/{agreement.id}/accept", headers=bearer,
                  json={"document_sha256": SHA})  # fmt: skip
    assert r.status_code == 403 and "cannot sign" in r.text


def test_a_click_agreement_needs_its_document(server: Server) -> None:
    from dealvault.errors import Invalid

    with pytest.raises(Invalid, match="needs its document"):
        agreements.add_agreement(
            server.stores, actor=P(STEWARD), deal=server.world.deal, organization="Bidder A",
            kind="nda", title="NDA", effective=TODAY, acceptance="click",
        )  # fmt: skip


def test_the_remote_cli_lists_downloads_and_accepts(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agreement = _add(server, kind="nda")
    me = member(server, CLEAN, role="bidder_clean_team", org="Bidder A")
    monkeypatch.setattr(CliContext, "remote", lambda self: remote_of(server, me))
    r = CliRunner().invoke(app, ["agreement", "pending", "--deal", "clean-2026", "--json"])
    assert r.exit_code == 0, r.output
    assert [a["id"] for a in json.loads(r.stdout)] == [agreement.id]
    out = tmp_path / "nda.pdf"
    r = CliRunner().invoke(app, ["agreement", "document", str(agreement.id), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == DOCUMENT and (out.stat().st_mode & 0o777) == 0o600
    r = CliRunner().invoke(app, ["agreement", "accept", str(agreement.id), "--sha256", WRONG])
    assert r.exit_code != 0 and "download the document again" in r.output
    r = CliRunner().invoke(app, ["agreement", "accept", str(agreement.id), "--sha256", SHA,
                                 "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["client"] == "127.0.0.1"
    # an NDA accepted online covers its organisation from then on
    shown = agreements.show_agreement(server.stores, actor=P(STEWARD), agreement_id=agreement.id)
    assert [s.method for s in shown.signers] == ["click"]
