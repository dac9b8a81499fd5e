"""One deal's offline audit bundle: that deal's events in full, every other event of the log
only as its leaf hash, and the signed checkpoints. It proves that each event it holds is in
the signed log, unaltered; it cannot prove that no event of the deal was left out (only the
whole log, `audit export` by the operator, can)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.audit.bundle import (
    DEAL_FORMAT,
    LEAVES,
    check_subjects,
    checkpoint_files,
    event_lines,
    read_file,
    read_keys,
    write_checkpoints,
)
from dealvault.audit.merkle import leaf_hash
from dealvault.audit.models import AuditCheckpoint, AuditEvent, AuditEventSubjects, AuditNode
from dealvault.audit.service import unpack_subjects
from dealvault.audit.verify import Anchors, VerifyReport, body_stamp, utc_stamp, verify_leaves
from dealvault.errors import Conflict, Invalid
from dealvault.files import ensure_private_dir, open_private, write_private

README = """dealvault audit bundle of deal {deal} ({fmt})

events.jsonl       the deal's events, one per line: each its RFC 8785 canonical JSON, byte
                   for byte the Merkle leaf data (leaf hash = SHA-256(0x00 || line))
subjects.jsonl     {{"seq": n, "subjects": [...]}} for those events that touched customers
leaves.bin         every leaf hash of the log up to the last checkpoint, 32 bytes each, in seq
                   order: the other deals' events appear only as these hashes
checkpoints/NNNNNN-sizeS.note
                   C2SP tlog-checkpoint signed notes; their roots are computed over leaves.bin
keys.txt           the log key and cosigner keys (C2SP vkeys): compare the log key with the
                   one you were given out of band
manifest.json      format, deal, event count, log size, checkpoint files

It proves each event here is in the signed log, unaltered; it cannot prove that no event of
the deal was left out (the whole log's bundle, made by the operator, can).

Verify: dealvault audit verify-bundle DIR --verifier-key VKEY   (see docs/audit-bundle.md)
"""


def export_deal_bundle(session: Session, *, deal: str, out_dir: Path) -> dict[str, object]:
    """Write ``deal``'s bundle up to the latest checkpoint (sign one first); the manifest."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise Invalid(f"{out_dir} is not empty")
    size = session.scalar(select(AuditCheckpoint.size).order_by(AuditCheckpoint.id.desc()))
    if size is None:
        raise Conflict("the audit log has no signed checkpoint yet")
    ensure_private_dir(out_dir, what=None)
    ensure_private_dir(out_dir / "checkpoints", what=None)
    count = 0
    seqs: list[int] = []
    with open_private(out_dir / "events.jsonl", "wb") as fh:
        for seq, body in session.execute(
            select(AuditEvent.seq, AuditEvent.body)
            .where(AuditEvent.deal == deal, AuditEvent.seq < size)
            .order_by(AuditEvent.seq)
            .execution_options(yield_per=20_000)
        ):
            fh.write(bytes(body) + b"\n")
            seqs.append(seq)
            count += 1
    with open_private(out_dir / LEAVES, "wb") as fh:
        for (h,) in session.execute(
            select(AuditNode.hash)
            .where(AuditNode.level == 0, AuditNode.idx < size)
            .order_by(AuditNode.idx)
            .execution_options(yield_per=50_000)
        ):
            fh.write(bytes(h))
    with open_private(out_dir / "subjects.jsonl", "w", encoding="ascii") as fh:
        for i in range(0, len(seqs), 5_000):
            for seq, packed in session.execute(
                select(AuditEventSubjects.seq, AuditEventSubjects.packed)
                .where(AuditEventSubjects.seq.in_(seqs[i : i + 5_000]))
                .order_by(AuditEventSubjects.seq)
            ):
                subjects = unpack_subjects(bytes(packed))
                fh.write(json.dumps({"seq": seq, "subjects": subjects}) + "\n")
    manifest: dict[str, object] = {
        "format": DEAL_FORMAT,
        "deal": deal,
        "events": count,
        "log_size": size,
        "checkpoints": write_checkpoints(session, out_dir=out_dir, upto=size),
        "leaves": LEAVES,
    }
    write_private(out_dir / "manifest.json", json.dumps(manifest, indent=2))
    write_private(out_dir / "README.txt", README.format(deal=deal, fmt=DEAL_FORMAT))
    return manifest


def _event_seq(body: bytes, deal: object) -> int | None:
    """The seq an event line names, if it is an event of ``deal`` (None: it is not)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("deal") != deal:
        return None
    seq = doc.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0 else None


def verify_deal_bundle(
    *, bundle: Path, manifest: dict[str, object], anchors: Anchors
) -> VerifyReport:
    """Verify a deal's bundle with nothing but its files: the checkpoints against the leaf
    hashes, and each of the deal's events against its leaf."""
    report = VerifyReport()
    log, cosigners = read_keys(bundle, anchors.pinned, report)
    listed = manifest.get("checkpoints")
    cps = checkpoint_files(bundle, list(listed) if isinstance(listed, list) else [], report)
    raw = read_file(bundle / LEAVES)
    if len(raw) % 32:
        report.fail(f"{LEAVES} is not a whole number of 32-byte hashes")
    leaves = [raw[i : i + 32] for i in range(0, len(raw) - len(raw) % 32, 32)]
    if manifest.get("log_size") != len(leaves):
        report.fail(f"manifest says {manifest.get('log_size')} leaves, {LEAVES} has {len(leaves)}")
    deal = manifest.get("deal")
    events: list[tuple[int, bytes]] = []
    last = -1
    for n, body, _ in event_lines(bundle / "events.jsonl"):
        seq = _event_seq(body, deal)
        if seq is None:
            report.fail(f"events.jsonl line {n + 1}: not an event of deal {deal}")
            continue
        if seq <= last:
            report.fail(f"event {seq}: duplicated or out of order", seq)
        elif seq >= len(leaves):
            report.fail(f"event {seq}: beyond the log's {len(leaves)} leaves", seq)
        elif leaf_hash(body) != leaves[seq]:
            report.fail(f"event {seq}: altered (its hash is not leaf {seq} of the log)", seq)
        last = max(last, seq)
        events.append((seq, body))
    witness_from: int | None = 0
    if anchors.witness_since is not None:
        stamp = utc_stamp(anchors.witness_since)
        witness_from = next((s for s, b in events if body_stamp(b) >= stamp), len(leaves))
    verify_leaves(
        leaves,
        checkpoints=cps,
        log_verifier=log,
        cosigners=cosigners,
        report=report,
        anchors=anchors,
        witness_from=witness_from,
    )
    covered = report.covered
    report.events = len(events)
    report.covered = sum(1 for s, _ in events if s < covered)
    report.scanned = True
    if manifest.get("events") != len(events):
        report.fail(f"manifest says {manifest.get('events')} events, the file has {len(events)}")
    check_subjects(bundle / "subjects.jsonl", events, report)
    return report
