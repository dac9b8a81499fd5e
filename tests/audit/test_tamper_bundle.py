"""Attacks on an exported audit bundle, and verify-bundle naming the first bad event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dealvault.audit import merkle, pinning
from dealvault.audit.checkpoint import Checkpoint, checkpoint_of, sign_checkpoint
from dealvault.audit.note import SIG_COSIGNATURE_V1, Signer, generate_signer
from dealvault.audit.verify import Anchors
from dealvault.flows import auditing
from dealvault.flows.context import AppStores
from tests.audit.conftest import routine
from tests.conftest import OP, World


@pytest.fixture
def bundle(stores: AppStores, busy: World, tmp_path: Path) -> Path:
    routine(stores, 4)  # routine events between checkpoints: ranges are not single events
    out = tmp_path / "bundle"
    auditing.export(stores, out_dir=out, actor=OP)
    return out


def _pinned(stores: AppStores) -> Anchors:
    assert stores.audit.verifier is not None
    return Anchors(pinned=stores.audit.verifier)


def _lines(b: Path) -> list[bytes]:
    return (b / "events.jsonl").read_bytes().split(b"\n")[:-1]


def _write(b: Path, lines: list[bytes]) -> None:
    (b / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def _routine_seq(b: Path) -> int:
    """A routine event that is not the last one before a checkpoint."""
    seqs = [i for i, line in enumerate(_lines(b)) if b'"action":"inventory"' in line]
    return seqs[1]


def test_an_exported_bundle_verifies(stores: AppStores, bundle: Path) -> None:
    out = auditing.verify_bundle(path=bundle, anchors=_pinned(stores))
    assert out.ok, out.problems
    assert out.covered == out.events == len(_lines(bundle))
    assert (bundle / "leaves.bin").stat().st_size == 32 * out.events
    assert json.loads((bundle / "manifest.json").read_text())["format"].endswith("/2")


def test_an_edited_event_is_named_exactly(stores: AppStores, bundle: Path) -> None:
    seq = _routine_seq(bundle)
    lines = _lines(bundle)
    lines[seq] = lines[seq].replace(b'"action":"inventory"', b'"action":"inventorz"')
    _write(bundle, lines)
    out = auditing.verify_bundle(path=bundle)
    assert not out.ok and out.first_bad == seq, out.problems
    assert f"event {seq}: altered (its hash is not leaf {seq} of the signed tree)" in out.problems


def test_an_event_edited_with_its_leaf_is_bounded_by_the_checkpoints(
    stores: AppStores, bundle: Path
) -> None:
    seq = _routine_seq(bundle)
    lines = _lines(bundle)
    lines[seq] = lines[seq].replace(b'"action":"inventory"', b'"action":"inventorz"')
    _write(bundle, lines)
    raw = bytearray((bundle / "leaves.bin").read_bytes())
    raw[32 * seq : 32 * seq + 32] = merkle.leaf_hash(lines[seq])
    (bundle / "leaves.bin").write_bytes(bytes(raw))
    out = auditing.verify_bundle(path=bundle)
    sizes = [checkpoint_of(p.read_bytes()).size for p in (bundle / "checkpoints").iterdir()]
    bound = max(n for n in sizes if n <= seq)
    assert not out.ok and out.first_bad == bound < seq, out.problems
    assert any("can only be bounded" in p for p in out.problems)


def test_a_deleted_event_is_named(bundle: Path) -> None:
    lines = _lines(bundle)
    del lines[5]
    _write(bundle, lines)
    out = auditing.verify_bundle(path=bundle)
    assert not out.ok and out.first_bad == 5
    assert out.problems[0].startswith("event 5: its body says seq 6")


def test_a_dropped_tail_is_named(bundle: Path) -> None:
    lines = _lines(bundle)
    _write(bundle, lines[:-2])
    out = auditing.verify_bundle(path=bundle)
    assert not out.ok and out.first_bad == len(lines) - 2, out.problems
    assert out.problems[0].startswith(f"event {len(lines) - 2}: missing")


def test_events_no_checkpoint_covers_are_rejected(bundle: Path) -> None:
    lines = _lines(bundle)
    extra = json.loads(lines[-1])
    extra["seq"] = len(lines)
    lines.append(json.dumps(extra, sort_keys=True, separators=(",", ":")).encode())
    _write(bundle, lines)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["events"] = len(lines)  # the attacker fixes the count too
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    out = auditing.verify_bundle(path=bundle)
    assert not out.ok and out.first_bad == len(lines) - 1
    assert f"event {len(lines) - 1}: not covered by any signed checkpoint" in out.problems[0]


def test_a_dropped_tail_with_its_checkpoints_needs_a_checkpoint_kept_outside(
    stores: AppStores, bundle: Path, tmp_path: Path
) -> None:
    folder = bundle / "checkpoints"
    names = sorted(p.name for p in folder.iterdir())
    kept = tmp_path / "witness-copy.note"
    kept.write_bytes((folder / names[-1]).read_bytes())
    cut = checkpoint_of((folder / names[-3]).read_bytes()).size
    for name in names[-2:]:
        (folder / name).unlink()
    _write(bundle, _lines(bundle)[:cut])
    (bundle / "leaves.bin").write_bytes((bundle / "leaves.bin").read_bytes()[: 32 * cut])
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest.update(events=cut, checkpoints=names[:-2])
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    subjects = (bundle / "subjects.jsonl").read_text().splitlines()
    kept_subjects = [s for s in subjects if json.loads(s)["seq"] < cut]
    (bundle / "subjects.jsonl").write_text("".join(s + "\n" for s in kept_subjects))
    assert auditing.verify_bundle(path=bundle, anchors=_pinned(stores)).ok
    known = Anchors(
        pinned=stores.audit.verifier, known=pinning.anchors(known_checkpoints=[kept]).known
    )
    out = auditing.verify_bundle(path=bundle, anchors=known)
    assert not out.ok and out.first_bad == cut, out.problems


def test_a_deleted_or_edited_subject_list_is_named(bundle: Path) -> None:
    lines = (bundle / "subjects.jsonl").read_text().splitlines()
    first = json.loads(lines[0])["seq"]
    (bundle / "subjects.jsonl").write_text("".join(s + "\n" for s in lines[1:]))
    out = auditing.verify_bundle(path=bundle)
    assert not out.ok and out.first_bad == first
    assert f"event {first}: its subject list is missing from subjects.jsonl" in out.problems
    entry = json.loads(lines[0])
    entry["subjects"] = entry["subjects"][1:]
    (bundle / "subjects.jsonl").write_text(json.dumps(entry) + "\n" + "\n".join(lines[1:]) + "\n")
    out = auditing.verify_bundle(path=bundle)
    assert not out.ok and out.first_bad == first
    assert f"event {first}: subject list does not match the event" in out.problems


def test_checkpoint_file_names_are_checked_against_their_notes(bundle: Path) -> None:
    folder = bundle / "checkpoints"
    name = sorted(p.name for p in folder.iterdir())[2]
    size = checkpoint_of((folder / name).read_bytes()).size
    renamed = f"{name[:6]}-size{size + 1}.note"
    (folder / name).rename(folder / renamed)
    out = auditing.verify_bundle(path=bundle)
    assert not out.ok
    assert f"checkpoint file {name} is listed in manifest.json but missing" in out.problems
    assert f"checkpoint file {renamed} is not listed in manifest.json" in out.problems
    assert (
        f"checkpoint file {renamed}: its name says size {size + 1}, its note signs size {size} "
        "(renamed)" in out.problems
    )


def test_a_bundle_re_signed_under_another_key_fails_against_the_pinned_key(
    stores: AppStores, bundle: Path
) -> None:
    forger = Signer.from_key(generate_signer(stores.audit.origin)[0])
    lines = _lines(bundle)
    lines[3] = lines[3].replace(b'"v":2', b'"v":3')
    _write(bundle, lines)
    leaves = [merkle.leaf_hash(line) for line in lines]
    (bundle / "leaves.bin").write_bytes(b"".join(leaves))
    for path in (bundle / "checkpoints").iterdir():
        n = checkpoint_of(path.read_bytes()).size
        root = merkle.root_from_leaves(leaves[:n])
        path.write_bytes(sign_checkpoint(Checkpoint(forger.name, n, root), signer=forger))
    keys = (bundle / "keys.txt").read_text().splitlines()
    keys = [k for k in keys if not k.startswith("log ")] + [f"log {forger.verifier().key_string()}"]
    (bundle / "keys.txt").write_text("\n".join(keys) + "\n")
    plain = auditing.verify_bundle(path=bundle)
    assert plain.ok and plain.trust == "internal-consistency-only"  # why pinning matters
    out = auditing.verify_bundle(path=bundle, anchors=_pinned(stores))
    assert not out.ok and out.first_bad == 0
    assert "keys.txt does not name the pinned verifier key as the log key" in out.problems


def test_witness_cosignatures_can_be_required_of_a_bundle(
    stores: AppStores, busy: World, tmp_path: Path
) -> None:
    skey, vkey = generate_signer("bidder-a.example/witness", sig_type=SIG_COSIGNATURE_V1)
    auditing.export(stores, out_dir=tmp_path / "b1", actor=OP)
    witnessed = Anchors(pinned=stores.audit.verifier, witnesses=(Signer.from_key(skey).verifier(),))
    out = auditing.verify_bundle(path=tmp_path / "b1", anchors=witnessed)
    assert not out.ok and out.first_bad == 0 and out.witnessed == 0
    auditing.cosign(stores, cosigner_key=skey, checkpoint_id=None, actor=OP)
    auditing.export(stores, out_dir=tmp_path / "b2", actor=OP)
    out = auditing.verify_bundle(path=tmp_path / "b2", anchors=witnessed)
    # the cosigned checkpoint covers all but the cosign and export events recorded after it
    assert not out.ok and out.first_bad == out.witnessed == out.events - 2, out.problems
    assert vkey in out.witnesses


def test_an_old_format_bundle_still_verifies(stores: AppStores, bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["format"] = "dealvault-audit-bundle/1"
    del manifest["leaves"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    (bundle / "leaves.bin").unlink()
    assert auditing.verify_bundle(path=bundle, anchors=_pinned(stores)).ok
