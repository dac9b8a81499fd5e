"""Transfer packages: build, verify with precise failures, the age CLI, receive into a buyer."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pyrage
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dealvault.access.models import Deal
from dealvault.audit import merkle
from dealvault.audit.models import AuditCheckpoint, AuditEvent, AuditEventSubjects
from dealvault.audit.note import Signer, Verifier, generate_signer, sign
from dealvault.audit.service import AuditConfig
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import EnvKeyProvider
from dealvault.errors import Conflict, Forbidden, IntegrityError, Invalid
from dealvault.flows import admin, agreements, receiving
from dealvault.flows import packages as pkg_flows
from dealvault.flows import transfer as flows
from dealvault.flows.context import AppStores
from dealvault.flows.store import OperatorIn, bootstrap, grant_role
from dealvault.transfer.manifest import (
    INDEX_FILE,
    MANIFEST_FILE,
    RECORDS_FILE,
    SIGNATURE_FILE,
    ColumnSpec,
    MerkleAccumulator,
    PackageSchema,
    decode_manifest,
    encode_manifest,
    key_fingerprint,
    leaf_hashes,
    sign_manifest,
    subtree_root,
)
from dealvault.transfer.package import make_archive, parse_identities, write_records
from dealvault.transfer.package_canaries import note_path, read_note
from dealvault.transfer.reconcile import verify_package
from dealvault.transfer.reconcile_report import write_reports
from dealvault.vault.models import CustomerRecord, Dataset
from tests.conftest import OP, P, World
from tests.transfer.test_plans import (
    BUYER,
    approved_plan,
    make_plan,
    prepare,
    set_status,
    shred_one,
)

ALL_CATS = ["identity", "contact", "preference", "sensitive"]


@dataclass
class Built:
    out: pkg_flows.PackageOut
    path: Path
    identity: pyrage.x25519.Identity
    vkey: str
    excluded: list[str]


@pytest.fixture
def built(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> Built:
    subjects = prepare(stores, keyring, world, tmp_path)
    set_status(stores, subjects[0], "opted_out")
    shred_one(stores, keyring, world, subjects[1])
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()), categories=ALL_CATS)
    path = tmp_path / "pkg"
    out = pkg_flows.build_package(
        stores, keyring, actor=P(world.steward), plan_id=plan.id, out=path
    )
    assert stores.audit.signer is not None
    vkey = stores.audit.signer.verifier().key_string()
    return Built(out, path, ident, vkey, subjects[:2])


def records(path: Path, ident: pyrage.x25519.Identity, name: str = RECORDS_FILE) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(pyrage.decrypt((path / name).read_bytes(), [ident])))


def check(b: Built, *, pinned: bool = True) -> tuple[bool, list[str]]:
    report, _ = verify_package(
        b.path, identities=[b.identity], verifier_key=b.vkey if pinned else None
    )
    return report.ok, report.problems


def test_build_writes_a_signed_verifiable_package(
    stores: AppStores, world: World, built: Built, tmp_path: Path
) -> None:
    b = built
    assert b.out.customers == 10 and b.out.excluded == {
        "opted_out": 1,
        "objecting": 0,
        "shredded": 1,
    }
    assert sorted(os.listdir(b.path)) == sorted(
        [MANIFEST_FILE, SIGNATURE_FILE, RECORDS_FILE, INDEX_FILE]
    )
    assert all((b.path / n).stat().st_mode & 0o077 == 0 for n in os.listdir(b.path))
    raw = (b.path / MANIFEST_FILE).read_bytes()
    doc = decode_manifest(raw)  # canonical (RFC 8785), known format
    assert hashlib.sha256(raw).hexdigest() == b.out.manifest_sha256
    assert doc["counts"]["customers"] == 10 and doc["counts"]["excluded"]["opted_out"] == 1
    assert doc["counts"]["records"] == 13 and doc["canaries"]["count"] == 3
    assert doc["merkle"]["tree_size"] == 13
    assert doc["counts"]["per_category"]["sensitive"] == 13
    assert doc["consent"]["opted_out_excluded"] == 1 and doc["consent"]["objecting_excluded"] == 0
    assert doc["classification"]["sensitive_columns"] == ["id_number", "bank_card"]
    assert doc["recipients"]["organization"] == BUYER
    assert doc["signer"]["verifier_key"] == b.vkey
    assert doc["source"]["hash"].startswith("sha256:") and doc["source"]["imports"]
    frame = records(b.path, b.identity)
    assert frame.columns == [c["name"] for c in doc["schema"]]
    assert frame.get_column("subject_id").is_sorted() and frame.height == 13
    assert not set(b.excluded) & set(frame.get_column("subject_id").to_list())
    # three canaries, shaped like real customers, named only by the separate signed list
    note = Path(f"{b.path}.canaries").read_bytes()
    planted = read_note(
        note,
        verifier=Verifier.from_key(b.vkey),
        manifest=doc,
        manifest_sha256=b.out.manifest_sha256,
    )
    rows = frame.filter(pl.col("subject_id").is_in(planted))
    assert rows.height == 3 and all(e.endswith("@canary.invalid") for e in rows["email"])
    real = frame.filter(~pl.col("subject_id").is_in(planted))
    assert {len(x) for x in frame["subject_id"]} == {24}  # same shape as the real ones
    assert not {x[:8] for x in planted} & {x[:8] for x in real["subject_id"]}
    assert not any(x.encode() in raw for x in planted)  # the manifest has only a commitment
    # the Merkle root over SHA-256(0x00 || RFC 8785 record), independently recomputed
    leaves = [hashlib.sha256(b"\x00" + rfc8785.dumps(row)).digest() for row in frame.to_dicts()]
    assert merkle.root_from_leaves(leaves).hex() == doc["merkle"]["root"] == b.out.merkle_root
    index = records(b.path, b.identity, INDEX_FILE)
    assert index.get_column("record_hash").to_list() == leaves
    ok, problems = check(b)
    assert ok and problems == []
    report, _ = verify_package(b.path, identities=[b.identity], verifier_key=None)
    assert report.ok and not report.signature.pinned
    assert report.signature.fingerprint == b.out.signer_fingerprint
    assert b.out.signer_fingerprint in report.warnings[0]
    ledger = flows.ledger(stores, actor=P(world.steward), deal=world.deal)
    assert [(e.id, e.customers, e.recipient) for e in ledger] == [(b.out.id, 10, BUYER)]
    with stores.records_session() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "package.build")).one()
        body = json.loads(ev.body)
        assert ev.decision == "allow" and body["subjects"]["count"] == 10
        assert body["objects"]["manifest_sha256"] == b.out.manifest_sha256
        assert s.get(AuditEventSubjects, ev.seq) is not None
        assert (
            s.scalars(select(AuditCheckpoint.reason))
            .all()[-1]
            .startswith(("transfer package", "package.build"))
        )


def test_reports_and_identity_files(built: Built, tmp_path: Path) -> None:
    text = f"# created: today\n# public key: {built.identity.to_public()}\n{built.identity}\n"
    idents = parse_identities(text, source="key.txt")
    with pytest.raises(Invalid, match=r"key\.txt, line 1: not an age X25519 identity"):
        parse_identities("AGE-SECRET-KEY-1NOPE\n", source="key.txt")
    with pytest.raises(Invalid, match="holds no age identity"):
        parse_identities("# nothing\n", source="key.txt")
    report, _ = verify_package(built.path, identities=idents, verifier_key=built.vkey)
    write_reports(report, json_path=tmp_path / "r.json", html_path=tmp_path / "r.html")
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is True
    html = (tmp_path / "r.html").read_text()
    assert "verified — the package is complete" in html and built.out.merkle_root in html
    assert "测试" not in html  # names never appear in a report


@pytest.mark.skipif(shutil.which("age") is None, reason="the age command-line tool is missing")
def test_the_age_tool_decrypts_the_records(built: Built, tmp_path: Path) -> None:
    key = tmp_path / "buyer.key"
    key.write_text(f"{built.identity}\n")
    out = tmp_path / "records.parquet"
    subprocess.run(
        ["age", "--decrypt", "-i", str(key), "-o", str(out), str(built.path / RECORDS_FILE)],
        check=True,
    )
    assert pl.read_parquet(out).equals(records(built.path, built.identity))


def test_build_is_refused_without_approval_closing_or_steward(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    key = str(pyrage.x25519.Identity.generate().to_public())
    plan = make_plan(stores, world, key)
    out = tmp_path / "p"
    with pytest.raises(Forbidden, match=f"transfer plan {plan.id} is pending, not approved"):
        pkg_flows.build_package(stores, keyring, actor=P(world.steward), plan_id=plan.id, out=out)
    flows.approve_plan(stores, actor=P("steward2@seller.example"), plan_id=plan.id)
    flows.approve_plan(stores, actor=P("counsel@law.example"), plan_id=plan.id)
    with pytest.raises(Forbidden, match=r"package\.build needs one of the roles: seller_steward"):
        pkg_flows.build_package(
            stores, keyring, actor=P(world.bidder_person), plan_id=plan.id, out=out
        )
    admin.set_frozen(stores, code=world.deal, actor=P(world.steward), frozen=True, reason="leak")
    with pytest.raises(Forbidden, match="frozen"):
        pkg_flows.build_package(stores, keyring, actor=P(world.steward), plan_id=plan.id, out=out)
    assert not out.exists() and not list(tmp_path.glob(".p.partial-*"))
    with stores.records_session() as s:
        denials = s.scalars(
            select(AuditEvent.decision).where(AuditEvent.action == "package.build")
        ).all()
    assert denials == ["deny", "deny", "deny"]
    out.mkdir()
    with pytest.raises(Invalid, match="never overwritten"):
        pkg_flows.build_package(stores, keyring, actor=P(world.steward), plan_id=plan.id, out=out)
    with pytest.raises(Forbidden, match=r"the deal is frozen: package\.read is stopped"):
        flows.ledger(stores, actor=P(world.steward), deal=world.deal)  # frozen: no reads either
    admin.set_frozen(stores, code=world.deal, actor=P(world.steward), frozen=False, reason="over")
    assert flows.ledger(stores, actor=P(world.steward), deal=world.deal) == []


def test_a_failed_build_leaves_nothing(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=5)
    plan = approved_plan(stores, world, str(pyrage.x25519.Identity.generate().to_public()))

    def crash(*args: object, **kwargs: object) -> str:
        raise RuntimeError("killed while signing")

    monkeypatch.setattr(pkg_flows, "write_manifest", crash)
    with pytest.raises(RuntimeError):
        pkg_flows.build_package(
            stores,
            keyring,
            actor=P(world.steward),
            plan_id=plan.id,
            out=tmp_path / "p",
            batch_rows=2,
        )
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".p.partial-*"))
    assert flows.ledger(stores, actor=P(world.steward), deal=world.deal) == []
    with stores.records_session() as s:
        assert not s.scalars(select(AuditEvent).where(AuditEvent.action == "package.build")).all()


def test_an_error_mid_stream_ends_the_encryption_cleanly(tmp_path: Path) -> None:
    schema = PackageSchema((ColumnSpec("name", "identity"),))
    ident = pyrage.x25519.Identity.generate()

    def frames() -> Iterator[pl.DataFrame]:
        yield pl.DataFrame({"subject_id": ["a", "b"], "name": ["x", None]})
        yield pl.DataFrame({"subject_id": ["a"], "name": ["y"]})  # out of order

    with pytest.raises(IntegrityError, match="strictly ascending subject id"):
        write_records(tmp_path, frames=frames(), schema=schema, recipients=[ident.to_public()])
    gc.collect()  # the Parquet writers' footers go nowhere, nothing hangs


# -- tampering -----------------------------------------------------------------------------
def rewrite(b: Built, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    """What an intermediary could do without the seller's key: decrypt? no — but anyone can
    encrypt to the buyer's public key, so a substituted file decrypts fine."""
    frame = change(records(b.path, b.identity))
    sink = io.BytesIO()
    pq.write_table(
        frame.to_arrow().cast(pa.schema([(c, pa.string()) for c in frame.columns])), sink
    )
    (b.path / RECORDS_FILE).write_bytes(pyrage.encrypt(sink.getvalue(), [b.identity.to_public()]))


def test_truncated_package_fails(built: Built) -> None:
    path = built.path / RECORDS_FILE
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size - 100])
    ok, problems = check(built)
    assert not ok
    assert f"{RECORDS_FILE} is truncated: {size - 100:,} of {size:,} bytes" in problems
    assert f"{RECORDS_FILE} cannot be decrypted: truncated or corrupted ciphertext" in problems


def test_reordered_package_fails(built: Built) -> None:
    rewrite(built, lambda f: f.reverse())
    ok, problems = check(built)
    assert not ok
    assert "records out of order at row 2" in problems
    assert any(p.startswith("Merkle root mismatch") for p in problems)
    assert any(p.startswith(f"{RECORDS_FILE} differs from the manifest (SHA-256") for p in problems)
    assert not any(w in p for p in problems for w in ("missing", "extra", "records altered"))


def test_altered_missing_and_extra_records_are_named(built: Built) -> None:
    frame = records(built.path, built.identity)
    third = frame.get_column("subject_id")[2]
    last = frame.get_column("subject_id")[-1]

    def change(f: pl.DataFrame) -> pl.DataFrame:
        f = f.with_columns(
            pl.when(pl.col("subject_id") == third)
            .then(pl.lit("篡改"))
            .otherwise(pl.col("name"))
            .alias("name")
        )
        extra = f.head(1).with_columns(pl.lit("ffffffffffffffff").alias("subject_id"))
        return pl.concat([f.filter(pl.col("subject_id") != last), extra])

    rewrite(built, change)
    report, _ = verify_package(built.path, identities=[built.identity], verifier_key=built.vkey)
    assert not report.ok and report.records.index_trusted
    r = report.records
    assert (r.missing, r.extra, r.altered) == (1, 1, 1)
    assert r.missing_subjects == [last] and r.extra_subjects == ["ffffffffffffffff"]
    assert f"1 records altered (first: subject {third} at row 3)" in report.problems
    assert f"1 records missing (first: subject {last})" in report.problems
    assert "篡改" not in json.dumps(report.model_dump(mode="json"), ensure_ascii=False)


def test_resigned_or_edited_manifest_fails(built: Built) -> None:
    raw = (built.path / MANIFEST_FILE).read_bytes()
    doc = json.loads(raw)
    doc["counts"]["records"] = 14
    (built.path / MANIFEST_FILE).write_bytes(encode_manifest(doc))
    ok, problems = check(built)
    assert (
        not ok
        and f"{MANIFEST_FILE} does not match the signed SHA-256: altered after signing" in problems
    )
    skey, vkey = generate_signer("dealvault.invalid/mallory")
    doc["signer"]["verifier_key"] = vkey
    forged = encode_manifest(doc)
    (built.path / MANIFEST_FILE).write_bytes(forged)
    (built.path / SIGNATURE_FILE).write_bytes(sign_manifest(forged, Signer.from_key(skey)))
    ok, problems = check(built)  # the seller's key, pinned: the forgery shows
    assert not ok and any(
        p.startswith(f"{SIGNATURE_FILE}: no valid signature by ") and "re-signed" in p
        for p in problems
    )
    report, _ = verify_package(built.path, identities=[built.identity], verifier_key=None)
    assert report.signature.ok and not report.signature.pinned  # only the fingerprint tells
    assert report.signature.fingerprint != built.out.signer_fingerprint
    assert "the manifest lists 14 records; 13 were received" in report.problems
    (built.path / MANIFEST_FILE).write_bytes(raw.replace(b'{"counts"', b'{ "counts"', 1) + b" ")
    ok, problems = check(built)
    assert f"{MANIFEST_FILE} is not in canonical form (RFC 8785)" in problems


def test_wrong_identity_and_missing_files(built: Built, tmp_path: Path) -> None:
    other = pyrage.x25519.Identity.generate()
    report, _ = verify_package(built.path, identities=[other], verifier_key=built.vkey)
    assert "none of the given identities is a recipient named in the manifest" in report.problems
    assert f"{RECORDS_FILE} cannot be decrypted: none of the given identities opens it" in (
        report.problems
    )
    (built.path / INDEX_FILE).unlink()
    _, problems = check(built)
    assert f"{INDEX_FILE} is missing" in problems
    (built.path / SIGNATURE_FILE).unlink()
    with pytest.raises(IntegrityError, match=r"manifest\.sig is missing"):
        check(built)


def test_tar_archive_round_trip(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=5)
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()))
    out = tmp_path / "handover.tar"
    got = pkg_flows.build_package(
        stores,
        keyring,
        actor=P(world.steward),
        plan_id=plan.id,
        out=out,
        archive=True,
        batch_rows=2,
    )
    assert out.is_file() and got.customers == 5 and got.size_bytes > 0
    assert stores.audit.signer is not None
    report, _ = verify_package(
        out, identities=[ident], verifier_key=stores.audit.signer.verifier().key_string()
    )
    assert report.ok, report.problems
    with pytest.raises(Invalid, match="neither a package directory nor a tar"):
        verify_package(tmp_path / "crm.csv", identities=[ident])


# -- the buyer's store ----------------------------------------------------------------------
@pytest.fixture
def buyer(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[AppStores]:
    if backend == "sqlite":
        urls = (f"sqlite:///{tmp_path / 'buyer.sqlite'}", f"sqlite:///{tmp_path / 'bkeys.sqlite'}")
    else:
        make = request.getfixturevalue("pg_database")
        urls = (make(), make())
    skey, _ = generate_signer("dealvault.invalid/buyer-log")
    signer = Signer.from_key(skey)
    s = AppStores.connect(
        records_url=urls[0],
        keystore_url=urls[1],
        audit=AuditConfig(origin=signer.name, signer=signer),
    )
    yield s
    s.dispose()


BUYER_IT = "it@buyer.example"
BUYER_DEAL = "acq-2026"


BUYER_OP = "operator@buyer.example"
BUYER_TRAINER = "trainer@buyer.example"


def buyer_steward(buyer: AppStores) -> KeyRing:
    """The buyer's own store: its organisation and operator, a training administrator, a
    trained steward named by the operator for the intake deal; its keys."""
    op = bootstrap(
        buyer,
        operator=OperatorIn(
            email=BUYER_OP, name="Operator", organization=BUYER, organization_kind="buyer"
        ),
        trial=True,
    )
    admin.create_person(buyer, actor=op, email=BUYER_IT, name="IT", organization=BUYER)
    admin.create_person(buyer, actor=op, email=BUYER_TRAINER, name="Trainer", organization=BUYER)
    grant_role(buyer, actor=op, email=BUYER_TRAINER, role="training_admin")
    admin.create_deal(
        buyer,
        code=BUYER_DEAL,
        name="Acquired customers",
        kind="asset",
        seller=BUYER,
        bidders=[],
        actor=op,
        stewards=[BUYER_IT],
    )
    agreements.add_training(
        buyer,
        actor=P(BUYER_TRAINER),
        email=BUYER_IT,
        course="confidentiality",
        completed=date.today() - timedelta(days=1),
    )
    return KeyRing(EnvKeyProvider.from_text(kek_id="buyer", text=os.urandom(32).hex()))


def test_receive_imports_into_the_buyers_store(
    built: Built, buyer: AppStores, tmp_path: Path
) -> None:
    bkeys = buyer_steward(buyer)
    got = receiving.receive(
        buyer,
        bkeys,
        actor=P(BUYER_IT),
        deal=BUYER_DEAL,
        dataset="acquired",
        package=built.path,
        identities=[built.identity],
        verifier_key=built.vkey,
        rejects_dir=tmp_path / "rejects",
        canaries=Path(f"{built.path}.canaries"),
        work_dir=tmp_path,
        json_report=tmp_path / "recv.json",
    )
    assert got.report.ok and got.imported.rows_read == 10 and got.imported.rows_imported == 10
    assert got.canaries_removed == 3
    assert got.imported.mapping["seller_subject_id"] is None
    assert not list(tmp_path.glob("dealvault-receive-*"))  # the clear file is gone
    with buyer.records_session() as s:
        deal = s.scalars(select(Deal).where(Deal.code == BUYER_DEAL)).one()
        ds = s.scalars(select(Dataset).where(Dataset.deal_id == deal.id)).one()
        n = s.scalars(select(CustomerRecord.id).where(CustomerRecord.dataset_id == ds.id)).all()
        acts = s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert len(n) == 10 and acts[-2:] == ["import", "package.receive"]
    rewrite(built, lambda f: f.head(9))
    with pytest.raises(IntegrityError, match="failed verification; nothing was imported"):
        receiving.receive(
            buyer,
            bkeys,
            actor=P(BUYER_IT),
            deal=BUYER_DEAL,
            dataset="other",
            package=built.path,
            identities=[built.identity],
            verifier_key=built.vkey,
            rejects_dir=tmp_path / "rejects",
        )
    with buyer.records_session() as s:
        assert s.scalars(select(Dataset.name)).all() == ["acquired"]
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None and (last.action, last.decision) == ("package.receive", "deny")


def test_receive_needs_the_sellers_own_canary_list(
    stores: AppStores, built: Built, buyer: AppStores, tmp_path: Path
) -> None:
    bkeys = buyer_steward(buyer)

    def receive(canaries: Path | None) -> receiving.ReceiveOut:
        return receiving.receive(
            buyer,
            bkeys,
            actor=P(BUYER_IT),
            deal=BUYER_DEAL,
            dataset="acquired",
            package=built.path,
            identities=[built.identity],
            verifier_key=built.vkey,
            rejects_dir=tmp_path / "rejects",
            canaries=canaries,
            work_dir=tmp_path,
        )

    with pytest.raises(Invalid, match="holds 3 canary records: give the seller's canary list"):
        receive(None)
    note = Path(f"{built.path}.canaries").read_text()
    lines = note.split("\n")
    fake = tmp_path / "dropped.canaries"  # one subject left off: the commitment fails
    skey, _ = generate_signer("dealvault.invalid/mallory")
    fake.write_bytes(note.replace(lines[3] + "\n", "", 1).encode())
    with pytest.raises(IntegrityError, match="not signed by the package's signer"):
        receive(fake)
    forged = tmp_path / "forged.canaries"  # re-signed by another key
    forged.write_bytes(sign(note[: note.index("\n\n") + 1], [Signer.from_key(skey)]))
    with pytest.raises(IntegrityError, match="not signed by the package's signer"):
        receive(forged)
    seller = stores.audit.signer
    assert seller is not None
    short = tmp_path / "short.canaries"  # the seller's key, but a subject left off
    short.write_bytes(sign(note[: note.index("\n\n") + 1].replace(lines[3] + "\n", ""), [seller]))
    with pytest.raises(IntegrityError, match="does not match the manifest's commitment"):
        receive(short)
    other = tmp_path / "other.canaries"  # the seller's key, another package
    other.write_bytes(
        sign(
            note[: note.index("\n\n") + 1].replace(lines[1], "manifest sha256:" + "0" * 64),
            [seller],
        )
    )
    with pytest.raises(IntegrityError, match="belongs to another package"):
        receive(other)
    with buyer.records_session() as s:
        assert s.scalars(select(Dataset.name)).all() == []


def test_canary_list_is_reissued_to_stewards_only(
    stores: AppStores, built: Built, world: World, tmp_path: Path
) -> None:
    again = tmp_path / "again.canaries"
    with pytest.raises(Forbidden):
        pkg_flows.reissue_canary_note(
            stores, actor=P(world.bidder_person), package_id=built.out.id, out=again
        )
    assert not again.exists()
    n = pkg_flows.reissue_canary_note(
        stores, actor=P(world.steward), package_id=built.out.id, out=again
    )
    assert n == 3 and again.read_bytes() == Path(f"{built.path}.canaries").read_bytes()
    with pytest.raises(Invalid, match="already exists"):
        pkg_flows.reissue_canary_note(
            stores, actor=P(world.steward), package_id=built.out.id, out=again
        )


# -- format details -------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["name", "b", "é", "地址", "z_1", "\U0001f600", "\ufb01"]),
            st.none() | st.text(),
            min_size=1,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_record_hash_is_sha256_of_rfc8785(rows: list[dict[str, str | None]]) -> None:
    cols = sorted({k for r in rows for k in r})
    frame = pl.DataFrame(
        [{c: r.get(c) for c in cols} for r in rows], schema={c: pl.String for c in cols}
    )
    want = [
        hashlib.sha256(b"\x00" + rfc8785.dumps({c: r.get(c) for c in cols})).digest() for r in rows
    ]
    assert leaf_hashes(frame) == want


@pytest.mark.parametrize("sizes", [[], [1], [3, 4], [1, 1, 1, 1, 1], [7, 9, 16, 1], [64, 33]])
def test_merkle_accumulator_matches_rfc9162(sizes: list[int]) -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(sum(sizes))]
    acc = MerkleAccumulator()
    at = 0
    for n in sizes:
        acc.add(leaves[at : at + n])
        at += n
    assert acc.size == len(leaves) and acc.root() == merkle.root_from_leaves(leaves)


def test_fingerprint_is_of_the_raw_public_key() -> None:
    skey, _ = generate_signer("dealvault.invalid/x")
    v = Signer.from_key(skey).verifier()
    assert key_fingerprint(v).replace(":", "") == hashlib.sha256(v.public_key).hexdigest()


@pytest.mark.parametrize("sizes", [[1], [2, 2], [4, 1, 1, 2], [8, 8, 3], [3, 1, 4], [16, 4]])
def test_merkle_subtrees_merge_where_aligned(sizes: list[int]) -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(sum(sizes))]
    acc, at, merged = MerkleAccumulator(), 0, 0
    for n in sizes:
        part = leaves[at : at + n]
        root = subtree_root(part)
        assert (root is None) == bool(n & (n - 1))
        if root is not None and acc.add_subtree(root, n):
            merged += 1
        else:
            acc.add(part)
        at += n
    assert acc.size == len(leaves) and acc.root() == merkle.root_from_leaves(leaves)
    assert merged >= 1
    assert not MerkleAccumulator().add_subtree(b"\x00" * 32, 3)


def test_build_with_worker_processes_matches_the_records(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()), categories=ALL_CATS)
    path = tmp_path / "pkg"
    seen: list[int] = []
    out = pkg_flows.build_package(
        stores,
        keyring,
        actor=P(world.steward),
        plan_id=plan.id,
        out=path,
        batch_rows=4,  # 12 customers: three batches, two worker processes
        workers=2,
        progress=lambda done, _total: seen.append(done),
    )
    assert out.customers == 12 and out.records == 15 and seen[-1] == 15
    frame = records(path, ident)
    assert frame.get_column("subject_id").is_sorted() and frame.height == 15
    leaves = [hashlib.sha256(b"\x00" + rfc8785.dumps(row)).digest() for row in frame.to_dicts()]
    assert merkle.root_from_leaves(leaves).hex() == out.merkle_root
    assert stores.audit.signer is not None
    report, _ = verify_package(
        path, identities=[ident], verifier_key=stores.audit.signer.verifier().key_string()
    )
    assert report.ok, report.problems


def test_a_leaked_package_names_its_recipient(
    stores: AppStores, keyring: KeyRing, world: World, built: Built, tmp_path: Path
) -> None:
    from dealvault.flows.leaks import trace_file

    leaked = records(built.path, built.identity)
    # columns renamed and reordered, most rows dropped: the canaries still tell
    leaked = leaked.rename({"email": "mail", "phone": "tel"}).select(
        ["tel", "mail", *[c for c in leaked.columns if c not in ("email", "phone")]]
    )
    leaked = leaked.filter(pl.col("mail").str.ends_with("canary.invalid")).head(2)
    path = tmp_path / "leak.csv"
    leaked.write_csv(path)
    got = trace_file(stores, keyring, actor=P(world.steward), path=path, deal=world.deal)
    assert got.verdict == BUYER, got


def test_receive_commits_the_import_and_its_receipt_together(
    built: Built, buyer: AppStores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bkeys = buyer_steward(buyer)
    receipts: list[dict[str, object]] = []

    def broken(*_a: object, **k: object) -> None:
        receipts.append(k)
        raise RuntimeError("receipt could not be written")

    monkeypatch.setattr(receiving, "replace", broken)  # the receipt event fails to build
    with pytest.raises(RuntimeError, match="receipt"):
        receiving.receive(
            buyer,
            bkeys,
            actor=P(BUYER_IT),
            deal=BUYER_DEAL,
            dataset="acquired",
            package=built.path,
            identities=[built.identity],
            verifier_key=built.vkey,
            rejects_dir=tmp_path / "rejects",
            canaries=Path(f"{built.path}.canaries"),
            work_dir=tmp_path,
        )
    # the import had run: the receipt names it; then both rolled back
    assert len(receipts) == 1 and "import" in receipts[0]["objects"]  # type: ignore[operator]
    with buyer.records_session() as s:  # no import without its receipt
        assert s.scalars(select(CustomerRecord.id)).all() == []
        assert "import" not in s.scalars(select(AuditEvent.action)).all()
    assert not list(tmp_path.glob("dealvault-receive-*"))


def test_post_transfer_review_checks_the_buyers_report(
    stores: AppStores, world: World, built: Built, tmp_path: Path
) -> None:
    from dealvault.flows import reviews
    from tests.transfer.test_plans import COUNSEL

    good = tmp_path / "buyer-report.json"
    # checking a received package is a store-wide action of the operator, not of a steward
    with pytest.raises(Forbidden, match=r"package\.verify needs one of the roles: operator"):
        receiving.verify(
            stores,
            actor=P(world.steward),
            package=built.path,
            identities=[built.identity],
            verifier_key=built.vkey,
            json_report=good,
        )
    assert not good.exists()
    with stores.records_session() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None
        assert (last.action, last.decision) == ("package.verify", "deny")
    receiving.verify(
        stores,
        actor=OP,
        package=built.path,
        identities=[built.identity],
        verifier_key=built.vkey,
        json_report=good,
    )
    # the builder may not review his own transfer; a bidder may not review at all
    for who in (world.steward, world.bidder_person):
        with pytest.raises(Forbidden):
            reviews.review_package(stores, actor=P(who), package_id=built.out.id, report=good)
    got = reviews.review_package(
        stores, actor=P(COUNSEL), package_id=built.out.id, report=good, notes="as agreed"
    )
    assert (got.outcome, got.findings, got.role) == ("accepted", [], "counsel")
    assert flows.ledger(stores, actor=P(world.steward), deal=world.deal)[0].review == "accepted"
    # a report of a damaged copy: findings, and it cannot be accepted
    rewrite(built, lambda f: f.head(12))
    bad = tmp_path / "bad-report.json"
    receiving.verify(
        stores,
        actor=OP,
        package=built.path,
        identities=[built.identity],
        verifier_key=built.vkey,
        json_report=bad,
    )
    with pytest.raises(Conflict, match="cannot accept"):
        reviews.review_package(
            stores, actor=P(COUNSEL), package_id=built.out.id, report=bad, outcome="accepted"
        )
    got = reviews.review_package(stores, actor=P(COUNSEL), package_id=built.out.id, report=bad)
    assert got.outcome == "issues"
    assert "the buyer received 12 records; 13 were sent" in got.findings
    assert "1 records missing" in got.findings
    assert [
        r.outcome for r in reviews.list_reviews(stores, actor=P(COUNSEL), package_id=built.out.id)
    ] == [
        "accepted",
        "issues",
    ]
    assert flows.ledger(stores, actor=P(world.steward), deal=world.deal)[0].review == "issues"
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    with pytest.raises(Invalid, match="not a dealvault reconciliation report"):
        reviews.review_package(stores, actor=P(COUNSEL), package_id=built.out.id, report=junk)
    with stores.records_session() as s:
        acts = s.execute(
            select(AuditEvent.decision, AuditEvent.actor)
            .where(AuditEvent.action == "package.review")
            .order_by(AuditEvent.seq)
        ).all()
    assert [tuple(a) for a in acts] == [
        ("deny", world.steward),
        ("deny", world.bidder_person),
        ("allow", COUNSEL),
        ("allow", COUNSEL),
    ]


def test_package_outputs_are_private_whatever_the_umask(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=5)
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()))
    assert stores.audit.signer is not None
    old = os.umask(0)  # what is left to the umask would be open to everyone
    try:
        out = tmp_path / "pkg"
        pkg_flows.build_package(stores, keyring, actor=P(world.steward), plan_id=plan.id, out=out)
        make_archive(out, tmp_path / "pkg.tar")
        report, _ = verify_package(
            out, identities=[ident], verifier_key=stores.audit.signer.verifier().key_string()
        )
        write_reports(report, json_path=tmp_path / "r.json", html_path=tmp_path / "r.html")
    finally:
        os.umask(old)
    assert report.ok
    written = [out, *out.iterdir(), note_path(out), tmp_path / "pkg.tar"]
    written += [tmp_path / "r.json", tmp_path / "r.html"]
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in written}
    assert modes == {p.name: oct(0o700 if p.is_dir() else 0o600) for p in written}
