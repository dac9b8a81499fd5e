"""Offline audit bundles: export the log to plain files, verify them with no database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.audit.checkpoint import checkpoint_of
from dealvault.audit.models import AuditEvent, AuditEventSubjects, AuditKey
from dealvault.audit.note import Verifier
from dealvault.audit.service import pack_subjects, unpack_subjects
from dealvault.audit.store import checkpoint_note, checkpoints
from dealvault.audit.verify import CheckpointIn, VerifyReport, verify_events
from dealvault.errors import Invalid, NotFound
from dealvault.files import ensure_private_dir, open_private, write_private

FORMAT = "dealvault-audit-bundle/1"
README = """dealvault audit bundle ({fmt})

events.jsonl       one event per line: its RFC 8785 canonical JSON, byte for byte the Merkle
                   leaf data (leaf hash = SHA-256(0x00 || line without the newline))
subjects.jsonl     {{"seq": n, "subjects": [...]}} for events that touched customers; SHA-256 of
                   the ids joined by "\\n" equals the event's subjects.digest
checkpoints/*.note C2SP tlog-checkpoint signed notes (log signature + cosignatures)
keys.txt           "<role> <verifier key>" lines: the log key and cosigner keys (C2SP vkeys)
manifest.json      format, event count, checkpoint files

Verify: dealvault audit verify-bundle DIR   (or any RFC 9162 / C2SP implementation)
"""


def export_bundle(session: Session, *, out_dir: Path) -> dict[str, object]:
    """Write the bundle; returns the manifest."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise Invalid(f"{out_dir} is not empty")
    ensure_private_dir(out_dir, what=None)
    ensure_private_dir(out_dir / "checkpoints", what=None)
    count = 0
    with open_private(out_dir / "events.jsonl", "wb") as fh:
        for (body,) in session.execute(
            select(AuditEvent.body).order_by(AuditEvent.seq).execution_options(yield_per=20_000)
        ):
            fh.write(bytes(body) + b"\n")
            count += 1
    with open_private(out_dir / "subjects.jsonl", "w", encoding="ascii") as fh:
        for seq, packed in session.execute(
            select(AuditEventSubjects.seq, AuditEventSubjects.packed).order_by(
                AuditEventSubjects.seq
            )
        ):
            fh.write(json.dumps({"seq": seq, "subjects": unpack_subjects(bytes(packed))}) + "\n")
    files = []
    for cp in checkpoints(session):
        name = f"{cp.id:06d}-size{cp.size}.note"
        write_private(out_dir / "checkpoints" / name, checkpoint_note(session, cp))
        files.append(name)
    keys = session.execute(select(AuditKey.role, AuditKey.verifier_key).order_by(AuditKey.role))
    write_private(out_dir / "keys.txt", "".join(f"{r} {k}\n" for r, k in keys))
    manifest: dict[str, object] = {"format": FORMAT, "events": count, "checkpoints": files}
    write_private(out_dir / "manifest.json", json.dumps(manifest, indent=2))
    write_private(out_dir / "README.txt", README.format(fmt=FORMAT))
    return manifest


def _events(path: Path) -> list[tuple[int, bytes, bytes | None]]:
    """(line number, event) pairs; subject lists are checked from subjects.jsonl instead."""
    out: list[tuple[int, bytes, bytes | None]] = []
    for i, line in enumerate(path.read_bytes().split(b"\n")):
        if line:
            out.append((i, line, None))
    return out


def verify_bundle(*, bundle: Path) -> VerifyReport:
    """Verify a bundle with nothing but its files."""
    if not (bundle / "manifest.json").exists():
        raise NotFound(f"{bundle} is not an audit bundle (no manifest.json)")
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    if manifest.get("format") != FORMAT:
        raise Invalid(f"unsupported bundle format {manifest.get('format')!r}")
    log: Verifier | None = None
    cosigners: list[Verifier] = []
    for line in (bundle / "keys.txt").read_text("ascii").splitlines():
        role, _, key = line.partition(" ")
        if role == "log":
            log = Verifier.from_key(key)
        elif role == "cosigner":
            cosigners.append(Verifier.from_key(key))
    if log is None:
        raise Invalid("the bundle names no log key")
    cps = []
    for name in manifest.get("checkpoints", []):
        note = (bundle / "checkpoints" / name).read_bytes()
        cps.append(CheckpointIn(checkpoint_of(note).size, note, name))
    events = _events(bundle / "events.jsonl")
    chunks = (events[i : i + 20_000] for i in range(0, len(events), 20_000))
    report, _ = verify_events(chunks, checkpoints=cps, log_verifier=log, cosigners=cosigners)
    if report.events != manifest.get("events"):
        report.fail(f"manifest says {manifest.get('events')} events, the file has {report.events}")
    bodies = {seq: body for seq, body, _ in events}
    subjects_file = bundle / "subjects.jsonl"
    if subjects_file.exists():
        for line in subjects_file.read_text("ascii").splitlines():
            entry = json.loads(line)
            seq = int(entry["seq"])
            doc = json.loads(bodies.get(seq, b"{}"))
            _, digest, _ = pack_subjects(entry["subjects"])
            if (doc.get("subjects") or {}).get("digest") != digest:
                report.fail(f"event {seq}: subject list does not match the event", seq)
    return report
