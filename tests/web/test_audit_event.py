"""One event with its inclusion proof and checkpoint: what the page shows is what the signed
checkpoint says, the proof downloaded verifies offline; the deal's offline bundle verifies;
the audit report is a PDF (or HTML). Only the log's readers get any of it."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from pathlib import Path

from sqlalchemy import select

from dealvault.audit.checkpoint import checkpoint_of
from dealvault.audit.merkle import leaf_hash
from dealvault.audit.models import AuditCheckpoint, AuditEvent
from dealvault.audit.note import open_note
from dealvault.audit.proof import parse_proof, verify_proof
from dealvault.audit.verify import Anchors
from dealvault.flows import auditing
from tests.api.conftest import ANALYST, Server, personal_values
from tests.web.audit_setup import AUDITOR, auditor, events, member

BASE = "/deals/clean-2026/audit"


def deal_seq(server: Server, *, deal: str | None = "clean-2026") -> int:
    with server.stores.records_session() as s:
        q = select(AuditEvent.seq).where(
            AuditEvent.deal.is_(None) if deal is None else AuditEvent.deal == deal
        )
        seq = s.scalar(q.order_by(AuditEvent.seq))
    assert seq is not None
    return int(seq)


def shown(page: str, name: str) -> str:
    m = re.search(rf'data-testid="{name}"[^>]*>(.*?)<', page, flags=re.S)
    assert m, name
    return html.unescape(m.group(1)).strip()


def test_the_event_page_shows_the_proof_as_the_checkpoint_signs_it(server: Server) -> None:
    me = auditor(server)
    seq = deal_seq(server)
    page = me.get(f"{BASE}/events/{seq}")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'data-verified="yes"' in text and "The proof holds" in text
    assert "What this proves" in text
    # the event itself, byte for byte, and its leaf hash
    with server.stores.records_session() as s:
        body = bytes(s.scalar(select(AuditEvent.body).where(AuditEvent.seq == seq)))
    assert shown(text, "event-json") == body.decode("utf-8")
    assert shown(text, "leaf-hash") == leaf_hash(body).hex()
    assert shown(text, "leaf-index") == str(seq)
    # tree size and root are those of a checkpoint the log signed, and of the note shown
    note = shown(text, "checkpoint-note") + "\n"
    cp = checkpoint_of(note)
    assert shown(text, "tree-size") == str(cp.size) and cp.size > seq
    assert shown(text, "root-hash") == cp.root.hex()
    assert base64.b64encode(cp.root).decode() in text
    with server.stores.records_session() as s:
        stored = s.execute(
            select(AuditCheckpoint.root, AuditCheckpoint.note).where(
                AuditCheckpoint.size == cp.size
            )
        ).first()
    assert stored is not None and bytes(stored[0]) == cp.root and stored[1] == note
    verifier = server.stores.audit.verifier
    assert verifier is not None
    _, checks = open_note(note, [verifier])
    assert checks[0].status.value == "verified"
    assert shown(text, "log-key") == verifier.key_string()
    signers = re.findall(r"<td><code>([^<]+)</code></td>\s*<td><code>([0-9a-f]{8})</code>", text)
    assert signers == [(verifier.name, f"{checks[0].key_id:08x}")]
    assert "the log's own key" in text
    # the downloaded proof verifies offline against the same checkpoint
    proof = me.get(f"{BASE}/events/{seq}/proof")
    assert proof.status_code == 200 and "attachment" in proof.headers["content-disposition"]
    event = me.get(f"{BASE}/events/{seq}/event.json").content
    assert event == body
    done = verify_proof(proof_text=proof.content, leaf_data=event, log_verifier=verifier)
    assert done.index == seq and done.checkpoint.root.hex() == shown(text, "root-hash")
    path = re.findall(r'<li><code class="hash">([0-9a-f]{64})</code></li>', text)
    assert path == [h.hex() for h in parse_proof(proof.content).path]
    assert not [v for v in personal_values() if v in text]
    proved = [e for e in events(server, "audit.prove") if e["actor"] == AUDITOR]
    assert proved and proved[-1]["decision"] == "allow" and proved[-1]["objects"]["event"] == seq


def test_the_event_page_in_chinese(server: Server) -> None:
    me = auditor(server, language="zh")
    page = me.get(f"{BASE}/events/{deal_seq(server)}")
    assert page.status_code == 200
    assert "纳入证明" in page.text and "检查点" in page.text and "证明成立" in page.text


def test_events_outside_the_deal_are_not_found(server: Server) -> None:
    me = auditor(server)
    other = me.get(f"{BASE}/events/{deal_seq(server, deal=None)}")
    assert other.status_code == 404 and "Not found" in other.text
    assert me.get(f"{BASE}/events/999999").status_code == 404
    assert me.get("/deals/nope/audit/events/1").status_code == 404


def test_the_offline_bundle_verifies(server: Server, tmp_path: Path) -> None:
    me = auditor(server)
    r = me.get(f"{BASE}/bundle")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert 'filename="clean-2026-audit-bundle.zip"' in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        zf.extractall(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["deal"] == "clean-2026" and manifest["events"] > 0
    out = auditing.verify_bundle(path=tmp_path / "b")
    assert out.ok, out.problems
    verifier = server.stores.audit.verifier
    assert verifier is not None
    pinned = auditing.verify_bundle(path=tmp_path / "b", anchors=Anchors(pinned=verifier))
    assert pinned.ok and pinned.trust == "pinned-key"
    exported = [e for e in events(server, "audit.export") if e["actor"] == AUDITOR]
    assert exported and exported[-1]["decision"] == "allow"


def test_the_audit_report_is_a_pdf_or_html(server: Server) -> None:
    me = auditor(server)
    pdf = me.get(f"{BASE}/report?format=pdf")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert 'filename="clean-2026-audit-report.pdf"' in pdf.headers["content-disposition"]
    page = me.get(f"{BASE}/report?format=html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "clean-2026" in page.text and "password+totp" in page.text
    assert me.get(f"{BASE}/report?format=docx").status_code == 422
    assert [e for e in events(server, "audit.report") if e["actor"] == AUDITOR]


def test_a_bidder_gets_no_event_bundle_or_report(server: Server) -> None:
    me = member(server, ANALYST, role="bidder_business", org="Bidder A")
    seq = deal_seq(server)
    event = f"{BASE}/events/{seq}"
    for path in (
        event,
        f"{event}/proof",
        f"{event}/event.json",
        f"{BASE}/bundle",
        f"{BASE}/report",
    ):
        r = me.get(path)
        assert r.status_code == 403, path
        assert "application/zip" not in r.headers["content-type"]
    refused = [e for e in events(server, "audit.export") if e["actor"] == ANALYST]
    assert refused and refused[-1]["decision"] == "deny"


def test_the_event_page_shows_the_device_hash(server: Server) -> None:
    me = auditor(server)
    assert me.get(BASE).status_code == 200  # recorded with the auditor's device
    with server.stores.records_session() as s:
        bodies = s.execute(
            select(AuditEvent.seq, AuditEvent.body).where(AuditEvent.deal == "clean-2026")
        ).all()
    seq, device = next(
        (q, d) for q, b in bodies if (d := json.loads(bytes(b)).get("device")) is not None
    )
    assert device.startswith("dev:") and len(device) == 20
    page = me.get(f"{BASE}/events/{seq}")
    assert f"<dt>Device</dt><dd><code>{device}</code></dd>" in page.text
    zh = me.http.get(f"{BASE}/events/{seq}", params={"lang": "zh"})
    assert "<dt>设备</dt>" in zh.text
