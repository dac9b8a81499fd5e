"""Offline audit bundles: export the log to plain files, verify them with no database."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.audit.checkpoint import checkpoint_of
from dealvault.audit.models import AuditEvent, AuditEventSubjects, AuditKey, AuditNode
from dealvault.audit.note import Verifier
from dealvault.audit.service import pack_subjects, unpack_subjects
from dealvault.audit.store import checkpoint_note, checkpoints
from dealvault.audit.verify import (
    Anchors,
    CheckpointIn,
    Frontier,
    VerifyReport,
    first_altered,
    verify_events,
)
from dealvault.errors import Invalid, NotFound
from dealvault.files import ensure_private_dir, open_private, write_private

FORMAT = "dealvault-audit-bundle/2"
FORMATS = ("dealvault-audit-bundle/1", FORMAT)
#: one deal's events, the others' as leaf hashes only (``audit.deal_bundle``)
DEAL_FORMAT = "dealvault-audit-deal-bundle/1"
README = """dealvault audit bundle ({fmt})

events.jsonl       one event per line: its RFC 8785 canonical JSON, byte for byte the Merkle
                   leaf data (leaf hash = SHA-256(0x00 || line without the newline))
subjects.jsonl     {{"seq": n, "subjects": [...]}} for every event that touched customers;
                   SHA-256 of the ids joined by "\\n" equals the event's subjects.digest
leaves.bin         the log's stored leaf hashes, 32 bytes each, in seq order (the signed
                   checkpoints authenticate them; they name an altered event exactly)
checkpoints/NNNNNN-sizeS.note
                   C2SP tlog-checkpoint signed notes (log signature + cosignatures); S is the
                   tree size the note signs
keys.txt           "<role> <verifier key>" lines: the log key and cosigner keys (C2SP vkeys);
                   compare the log key with the one you were given out of band
manifest.json      format, event count, checkpoint files

Verify: dealvault audit verify-bundle DIR --verifier-key VKEY   (see docs/audit-bundle.md)
"""
_NOTE_NAME = re.compile(r"(\d{6})-size(0|[1-9]\d*)\.note")
LEAVES = "leaves.bin"


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
    with open_private(out_dir / LEAVES, "wb") as fh:
        for (h,) in session.execute(
            select(AuditNode.hash)
            .where(AuditNode.level == 0)
            .order_by(AuditNode.idx)
            .execution_options(yield_per=50_000)
        ):
            fh.write(bytes(h))
    with open_private(out_dir / "subjects.jsonl", "w", encoding="ascii") as fh:
        for seq, packed in session.execute(
            select(AuditEventSubjects.seq, AuditEventSubjects.packed).order_by(
                AuditEventSubjects.seq
            )
        ):
            fh.write(json.dumps({"seq": seq, "subjects": unpack_subjects(bytes(packed))}) + "\n")
    manifest: dict[str, object] = {
        "format": FORMAT,
        "events": count,
        "checkpoints": write_checkpoints(session, out_dir=out_dir),
        "leaves": LEAVES,
    }
    write_private(out_dir / "manifest.json", json.dumps(manifest, indent=2))
    write_private(out_dir / "README.txt", README.format(fmt=FORMAT))
    return manifest


def write_checkpoints(session: Session, *, out_dir: Path, upto: int | None = None) -> list[str]:
    """``checkpoints/NNNNNN-sizeS.note`` for every checkpoint (of at most ``upto`` events) and
    ``keys.txt``; returns the note files' names."""
    files = []
    for cp in checkpoints(session):
        if upto is not None and cp.size > upto:
            continue
        name = f"{cp.id:06d}-size{cp.size}.note"
        write_private(out_dir / "checkpoints" / name, checkpoint_note(session, cp))
        files.append(name)
    keys = session.execute(select(AuditKey.role, AuditKey.verifier_key).order_by(AuditKey.role))
    write_private(out_dir / "keys.txt", "".join(f"{r} {k}\n" for r, k in keys))
    return files


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise Invalid(f"{path} is missing or unreadable") from None


def event_lines(path: Path) -> list[tuple[int, bytes, bytes | None]]:
    """(position, event) pairs: line n is event n (an empty line is a malformed event)."""
    lines = read_file(path).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [(i, line, None) for i, line in enumerate(lines)]


def read_keys(
    bundle: Path, pinned: Verifier | None, report: VerifyReport
) -> tuple[Verifier, list[Verifier]]:
    log: Verifier | None = None
    cosigners: list[Verifier] = []
    for line in read_file(bundle / "keys.txt").decode("ascii", "replace").splitlines():
        role, _, key = line.partition(" ")
        if role == "log":
            if log is not None:
                report.fail("keys.txt names more than one log key")
            log = Verifier.from_key(key)
        elif role == "cosigner":
            cosigners.append(Verifier.from_key(key))
    if pinned is not None:
        if log != pinned:
            report.fail("keys.txt does not name the pinned verifier key as the log key")
        return pinned, cosigners
    if log is None:
        raise Invalid("the bundle names no log key")
    return log, cosigners


def checkpoint_files(bundle: Path, listed: list[str], report: VerifyReport) -> list[CheckpointIn]:
    """Every checkpoint file, listed or not; each name must state its note's tree size."""
    folder = bundle / "checkpoints"
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    for name in sorted(set(listed) - set(present)):
        report.fail(f"checkpoint file {name} is listed in manifest.json but missing")
    for name in sorted(set(present) - set(listed)):
        report.fail(f"checkpoint file {name} is not listed in manifest.json")
    out = []
    for name in present:
        note = (folder / name).read_bytes()
        try:
            size = checkpoint_of(note).size
        except Invalid as exc:
            report.fail(f"checkpoint file {name}: malformed note ({exc})")
            continue
        m = _NOTE_NAME.fullmatch(name)
        if m is None:
            report.fail(f"checkpoint file {name}: not named NNNNNN-sizeS.note")
        elif int(m.group(2)) != size:
            report.fail(
                f"checkpoint file {name}: its name says size {m.group(2)}, its note signs size "
                f"{size} (renamed)"
            )
        out.append(CheckpointIn(size, note, name))
    return out


def verify_bundle(*, bundle: Path, anchors: Anchors = Anchors()) -> VerifyReport:
    """Verify a bundle with nothing but its files (and what ``anchors`` pins from outside)."""
    if not (bundle / "manifest.json").exists():
        raise NotFound(f"{bundle} is not an audit bundle (no manifest.json)")
    try:
        manifest = json.loads(read_file(bundle / "manifest.json"))
    except ValueError:
        raise Invalid(f"{bundle / 'manifest.json'} is not JSON") from None
    if isinstance(manifest, dict) and manifest.get("format") == DEAL_FORMAT:
        from dealvault.audit.deal_bundle import verify_deal_bundle

        return verify_deal_bundle(bundle=bundle, manifest=manifest, anchors=anchors)
    if not isinstance(manifest, dict) or manifest.get("format") not in FORMATS:
        raise Invalid(f"unsupported bundle format in {bundle / 'manifest.json'}")
    report = VerifyReport()
    log, cosigners = read_keys(bundle, anchors.pinned, report)
    cps = checkpoint_files(bundle, list(manifest.get("checkpoints", [])), report)
    events = event_lines(bundle / "events.jsonl")
    chunks = (events[i : i + 20_000] for i in range(0, len(events), 20_000))
    verify_events(
        chunks,
        checkpoints=cps,
        log_verifier=log,
        cosigners=cosigners,
        report=report,
        anchors=anchors,
        subjects_in_rows=False,
        reject_uncovered=True,
    )
    said = manifest.get("events")
    if said != report.events:
        first = min(said, report.events) if isinstance(said, int) else None
        report.fail(f"manifest says {said} events, the file has {report.events}", first)
    bodies = [body for _, body, _ in events]
    check_subjects(bundle / "subjects.jsonl", list(enumerate(bodies)), report)
    if manifest.get("leaves") and any(s > report.covered for s in report.signed_roots):
        locate(bundle / str(manifest["leaves"]), bodies, report)
    return report


def check_subjects(path: Path, bodies: Sequence[tuple[int, bytes]], report: VerifyReport) -> None:
    """Every event (seq, body) naming a subject list has exactly one entry, and it matches
    the digest."""
    given: dict[int, list[str]] = {}
    lines = read_file(path).decode("ascii", "replace").splitlines() if path.exists() else []
    for n, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            seq, ids = int(entry["seq"]), entry["subjects"]
            if not isinstance(ids, list) or not all(
                isinstance(i, str) and i.isascii() for i in ids
            ):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            report.fail(f"subjects.jsonl line {n}: malformed")
            continue
        if seq in given:
            report.fail(f"event {seq}: subjects.jsonl lists it twice", seq)
        given[seq] = ids
    for seq, body in bodies:
        named = body_subjects(body)
        ids = given.pop(seq, None)
        if named is None:
            if ids is not None:
                report.fail(f"event {seq}: subjects.jsonl lists customers it does not name", seq)
        elif ids is None:
            report.fail(f"event {seq}: its subject list is missing from subjects.jsonl", seq)
        elif pack_subjects(ids)[1] != named:
            report.fail(f"event {seq}: subject list does not match the event", seq)
    for seq in sorted(given):
        report.fail(f"event {seq}: subjects.jsonl lists an event the log does not have", seq)


def body_subjects(body: bytes) -> str | None:
    """The subject-list digest an event body names, or None."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    subjects = doc.get("subjects") if isinstance(doc, dict) else None
    return subjects.get("digest") if isinstance(subjects, dict) else None


def locate(path: Path, bodies: list[bytes], report: VerifyReport) -> None:
    """Name an altered event exactly: the stored leaf hashes, authenticated by the signed
    checkpoints' roots, are compared with the events' hashes."""
    raw = path.read_bytes() if path.exists() else b""
    leaves = [raw[i : i + 32] for i in range(0, len(raw) - len(raw) % 32, 32)]
    frontier, trusted = Frontier(), 0
    for size in sorted(report.signed_roots):
        if size > len(leaves):
            break
        frontier.extend(leaves[frontier.size : size])
        if frontier.root() != report.signed_roots[size]:
            break
        trusted = size
    if trusted <= report.covered:
        report.problems.append(
            f"{path.name} does not match the signed checkpoints either: the altered event can "
            "only be bounded"
        )
        return
    start = report.covered
    seq = first_altered([bodies[start:trusted]], [leaves[start:trusted]], start=start)
    if seq is not None:
        report.fail(f"event {seq}: altered (its hash is not leaf {seq} of the signed tree)", seq)
