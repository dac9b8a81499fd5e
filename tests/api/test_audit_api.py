"""The auditor's surface of the server: a deal event's inclusion proof, the deal's offline
bundle and the audit report, each verified offline; who may have them and who may not; and
what a bidder sees of the deal's members."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dealvault.audit.note import Verifier
from dealvault.audit.proof import verify_proof
from dealvault.audit.store import log_verifier, register_log_key
from dealvault.audit.verify import Anchors
from dealvault.cli.context import CliContext
from dealvault.cli.main import app
from dealvault.errors import IntegrityError, Invalid
from dealvault.flows import admin, auditing
from dealvault.remote import unpack_bundle
from tests.api.conftest import ANALYST, OTHER, Server, Signed, activate, remote_of
from tests.api.test_signin import events, invite
from tests.conftest import OP, STEWARD, P

AUDITOR = "auditor@audit-llp.example"


def _auditor(server: Server) -> Signed:
    admin.create_organization(server.stores, actor=OP, name="Audit LLP", kind="auditor")
    admin.add_party(server.stores, actor=OP, deal=server.world.deal, organization="Audit LLP",
                    role="auditor")  # fmt: skip
    ctx = server.app.state.dealvault
    from dealvault.flows import accounts

    accounts.invite(server.stores, actor=P(STEWARD), rules=ctx.rules, mailer=ctx.mailer,
                    deal=server.world.deal, email=AUDITOR, role="auditor", name="Auditor",
                    organization="Audit LLP")  # fmt: skip
    return activate(server, AUDITOR)


def _key(server: Server) -> Verifier:
    """The log's verifier key, registered in the store as ``dealvault init`` does."""
    with server.stores.unit_of_work() as uow:
        register_log_key(uow.records, server.stores.audit)
    with server.stores.records_session() as s:
        return log_verifier(s)


def _deal_seq(server: Server, *, other: bool = False) -> int:
    """An event of the deal (or, with ``other``, one of no deal)."""
    with server.stores.records_session() as s:
        from sqlalchemy import select

        from dealvault.audit.models import AuditEvent

        q = select(AuditEvent.seq).where(
            AuditEvent.deal.is_(None) if other else AuditEvent.deal == server.world.deal
        )
        seq = s.scalar(q.order_by(AuditEvent.seq.desc()))
    assert seq is not None
    return int(seq)


def test_auditor_gets_a_proof_that_verifies_offline(server: Server) -> None:
    me = _auditor(server)
    seq = _deal_seq(server)
    r = me.http.get(f"/api/deals/clean-2026/audit/events/{seq}/proof")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["index"] == seq
    verified = verify_proof(
        proof_text=got["proof"], leaf_data=got["event"].encode(), log_verifier=_key(server)
    )
    assert verified.index == seq and verified.checkpoint.size > seq
    assert json.loads(got["event"])["deal"] == "clean-2026"
    # an altered event does not verify
    altered = got["event"].replace("clean", "dirty").encode()
    with pytest.raises(IntegrityError):
        verify_proof(proof_text=got["proof"], leaf_data=altered, log_verifier=_key(server))
    # an event outside the deal is not found for it
    outside = me.http.get(
        f"/api/deals/clean-2026/audit/events/{_deal_seq(server, other=True)}/proof"
    )
    assert outside.status_code == 404
    assert me.http.get("/api/deals/clean-2026/audit/events/99999/proof").status_code == 404
    proved = [e for e in events(server, "audit.prove") if e["actor"] == AUDITOR]
    assert proved and proved[-1]["authn"] == "password+totp" and proved[-1]["deal"] == "clean-2026"


def test_auditor_exports_the_deal_bundle_and_it_verifies(server: Server, tmp_path: Path) -> None:
    me = _auditor(server)
    key = _key(server)
    r = me.http.get("/api/deals/clean-2026/audit/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    unpack_bundle(r.content, out_dir=tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["format"] == "dealvault-audit-deal-bundle/1" and manifest["events"] > 0
    lines = (tmp_path / "b" / "events.jsonl").read_bytes().splitlines()
    assert all(json.loads(line)["deal"] == "clean-2026" for line in lines)
    out = auditing.verify_bundle(path=tmp_path / "b")
    assert out.ok, out.problems
    assert out.events == manifest["events"] == out.covered
    pinned = auditing.verify_bundle(path=tmp_path / "b", anchors=Anchors(pinned=key))
    assert pinned.ok and pinned.trust == "pinned-key"
    # an edited event is named
    edited = lines[1].replace(b'"deal":"clean-2026"', b'"deal":"clean-2026","x":1')
    (tmp_path / "b" / "events.jsonl").write_bytes(
        b"\n".join([lines[0], edited, *lines[2:]]) + b"\n"
    )
    bad = auditing.verify_bundle(path=tmp_path / "b")
    assert not bad.ok and bad.first_bad == json.loads(lines[1])["seq"]


def test_auditor_report_over_the_api_shows_the_sign_in_method(server: Server) -> None:
    me = _auditor(server)
    _key(server)
    me.http.get("/api/deals/clean-2026")  # an event signed in by password+totp
    r = me.http.get("/api/deals/clean-2026/audit/report")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "password+totp" in r.text and "clean-2026" in r.text


def test_who_may_not_have_proofs_bundles_or_reports(server: Server) -> None:
    invite(server, ANALYST)
    bidder = activate(server, ANALYST)
    seq = _deal_seq(server)
    base = "/api/deals/clean-2026/audit"
    for path in (f"{base}/events/{seq}/proof", f"{base}/export", f"{base}/report"):
        assert bidder.http.get(path).status_code == 403, path
        assert server.client().get(path).status_code == 401, path
        assert bidder.http.get(path.replace("clean-2026", "nope")).status_code == 404
    denied = [e for e in events(server, "audit.export") if e["actor"] == ANALYST]
    assert denied and denied[-1]["decision"] == "deny"


def test_a_bidder_sees_the_seller_side_and_its_own_members_only(server: Server) -> None:
    invite(server, ANALYST)
    invite(server, OTHER)
    me = activate(server, ANALYST)
    r = me.http.get("/api/deals/clean-2026")
    assert r.status_code == 200, r.text
    seen = {m["person"] for m in r.json()["members"]}
    assert ANALYST in seen and STEWARD in seen
    assert OTHER not in seen and OTHER not in r.text
    listed = me.http.get("/api/deals").json()
    assert OTHER not in json.dumps(listed)
    # Bidder B's analyst does not see Bidder A's either
    other = activate(server, OTHER)
    theirs = other.http.get("/api/deals/clean-2026").json()
    assert {m["person"] for m in theirs["members"]} >= {OTHER, STEWARD}
    assert ANALYST not in json.dumps(theirs)
    # the steward (the seller side) sees everyone
    everyone = admin.show_deal(server.stores, actor=P(STEWARD), code="clean-2026")
    assert {ANALYST, OTHER} <= {m.person for m in everyone.members}


def test_the_remote_cli_proves_exports_and_reports(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = _auditor(server)
    key = _key(server)
    monkeypatch.setattr(CliContext, "remote", lambda self: remote_of(server, me))
    seq = _deal_seq(server)
    proof = tmp_path / "e.tlog-proof"
    r = CliRunner().invoke(app, ["audit", "prove", str(seq), "--deal", "clean-2026",
                                 "--out", str(proof)])  # fmt: skip
    assert r.exit_code == 0, r.output
    event = proof.with_suffix(".event.json").read_bytes()
    assert verify_proof(proof_text=proof.read_bytes(), leaf_data=event, log_verifier=key)
    bundle = tmp_path / "bundle"
    r = CliRunner().invoke(app, ["audit", "export", str(bundle), "--deal", "clean-2026"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["audit", "verify-bundle", str(bundle), "--verifier-key",
                                 key.key_string()])  # fmt: skip
    assert r.exit_code == 0 and "OK" in r.output, r.output
    r = CliRunner().invoke(app, ["audit", "report", str(tmp_path / "r.html"), "--deal",
                                 "clean-2026"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "Signed in by" in (tmp_path / "r.html").read_text("utf-8")


def test_zip_with_odd_names_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(Invalid):
        unpack_bundle(buf.getvalue(), out_dir=tmp_path / "z")
    assert not (tmp_path / "evil.txt").exists()
