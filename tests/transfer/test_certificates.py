"""Destruction certificates: signed notes, the seller's crypto-erase after closing, recipients'
returns, verification of tampered notes, and the commands."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from dealvault.access import service as access
from dealvault.audit.models import AuditEvent
from dealvault.audit.note import Signer, generate_signer
from dealvault.cli import admin as admin_cli
from dealvault.cli import agreements as agreements_cli
from dealvault.cli import closing as closing_cli
from dealvault.cli import main as cli_main
from dealvault.crypto.keyring import DATA, INDEX, KeyRing
from dealvault.crypto.providers import EnvKeyProvider
from dealvault.deidentify.levels import Level
from dealvault.errors import (
    Conflict,
    DealvaultError,
    Forbidden,
    IntegrityError,
    Invalid,
    Shredded,
)
from dealvault.flows import admin
from dealvault.flows.closing import (
    CertificateOut,
    issue_certificate,
    list_certificates,
    verify_certificate,
)
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import DisclosureRequest, disclose
from dealvault.transfer.certificates import (
    CRYPTO_ERASE,
    HEADER,
    Certificate,
    parse_certificate,
    sign_certificate,
    subjects_digest,
)
from dealvault.transfer.certificates import verify_certificate as check_note
from dealvault.transfer.models import DestructionCertificate, TransferPackage, TransferPlan
from dealvault.vault import read
from dealvault.vault.models import CustomerRecord, Dataset
from tests.conftest import OP, P, World, acting_person
from tests.transfer.test_canaries import Loaded, load_dataset, recipient_copy
from tests.transfer.test_trace import doctor, trace, write

BIDDER_B = "analyst@bidder-b.example"


def _cert(**over: object) -> Certificate:
    base = Certificate(
        certificate=7,
        deal="clean-2026",
        organisation="洁净日化有限公司",
        party="seller",
        datasets=("crm", "orders archive"),
        customers=120,
        subjects=subjects_digest(["b", "a"]),
        method=CRYPTO_ERASE,
        time=datetime(2026, 3, 1, 8, 30, tzinfo=UTC),
        by="steward@seller.example",
        keys_destroyed=123,
        reason="closing",
        log="dealvault.invalid/log-1",
    )
    return replace(base, **over)  # type: ignore[arg-type]


def test_note_format_round_trip_and_tampering() -> None:
    skey, _ = generate_signer("dealvault.invalid/log-1")
    signer = Signer.from_key(skey)
    cert = _cert()
    text = cert.text()
    assert text.splitlines()[:5] == [
        HEADER, "certificate 7", "deal clean-2026", "organisation 洁净日化有限公司", "party seller",
    ]  # fmt: skip
    assert "method cryptographic erase (NIST SP 800-88 Rev. 1)" in text
    assert "time 2026-03-01T08:30:00Z" in text and "dataset orders archive" in text
    assert parse_certificate(text) == cert
    note = sign_certificate(cert, signer=signer)
    checked = check_note(note, verifiers=[signer.verifier()])
    assert checked.certificate == cert and checked.signed_by == "dealvault.invalid/log-1"
    # a changed word breaks the signature, and the message says so
    forged = note.replace(b"customers 120", b"customers 12")
    with pytest.raises(IntegrityError, match="does not verify: the certificate text"):
        check_note(forged, verifiers=[signer.verifier()])
    other = Signer.from_key(generate_signer("someone.invalid/key")[0])
    with pytest.raises(IntegrityError, match=r"signed by dealvault\.invalid/log-1\+[0-9a-f]{8}"):
        check_note(note, verifiers=[other.verifier()])
    with pytest.raises(Invalid, match="not a signed note"):
        check_note(b"hello\n", verifiers=[signer.verifier()])
    # the body is strict: order, known fields, canonical form
    swapped = text.replace("certificate 7\ndeal clean-2026", "deal clean-2026\ncertificate 7")
    with pytest.raises(Invalid, match="line 3: field 'certificate' is out of order"):
        parse_certificate(swapped)
    with pytest.raises(Invalid, match="unknown field 'colour'"):
        parse_certificate(text.replace("reason closing", "colour blue"))
    with pytest.raises(Invalid, match="lacks the field 'by'"):
        parse_certificate(text.replace("by steward@seller.example\n", ""))
    with pytest.raises(Invalid):
        _cert(organisation="two\nlines").text()
    with pytest.raises(Invalid):
        _cert(method="burnt").text()


def _advance_to_post_closing(stores: AppStores, world: World) -> None:
    for to, winner in (("due_diligence", None), ("signing", None), ("closing", "Bidder A"),
                       ("post_closing", None)):  # fmt: skip
        admin.advance_deal(
            stores, code=world.deal, to=to, winner=winner, actor=P(world.steward), reason="test"
        )


def _hand_over(stores: AppStores, world: World, loaded: Loaded) -> None:
    """Record that the dataset went to the buyer in a package (the transfer ledger)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        buyer = access.get_organization(s, name="Bidder A")
        steward = acting_person(s, world.steward)
        plan = TransferPlan(
            deal_id=loaded.deal_id, dataset_id=loaded.dataset_id, recipient_id=buyer.id,
            recipients="age1test", categories="identity,contact", purpose="closing",
            status="approved", required_roles="seller_steward", created_by=steward.id,
        )  # fmt: skip
        s.add(plan)
        s.flush()
        n = loaded.customers.height
        package = TransferPackage(
            plan_id=plan.id, deal_id=loaded.deal_id, recipient_id=buyer.id, path="p.age",
            customers=n, records=n, size_bytes=1, merkle_root="0" * 64,
            manifest_sha256="0" * 64, purpose="closing",
        )  # fmt: skip
        s.add(package)


def _issue(stores: AppStores, keyring: KeyRing, world: World, **kw: object) -> CertificateOut:
    kw.setdefault("actor", P(world.steward))
    return issue_certificate(stores, keyring, deal=world.deal, reason="closing", **kw)  # type: ignore[arg-type]


def test_seller_copy_is_crypto_shredded_and_certified(
    stores: AppStores,
    keyring: KeyRing,
    master_key: bytes,
    world: World,
    tmp_path: Path,
) -> None:
    loaded = load_dataset(stores, keyring, world, tmp_path)
    copy = recipient_copy(stores, keyring, loaded, recipient="Bidder B", level="masked")
    leak = write(doctor(copy, canaries=2, real=3, seed=1), tmp_path / "leak.csv")
    with pytest.raises(Conflict, match="after closing"):
        _issue(stores, keyring, world)
    _advance_to_post_closing(stores, world)
    with pytest.raises(Conflict, match="no dataset of deal 'clean-2026' was handed over"):
        _issue(stores, keyring, world)
    _hand_over(stores, world, loaded)
    with pytest.raises(Forbidden):
        _issue(stores, keyring, world, actor=P(world.bidder_person))
    with pytest.raises(Invalid, match="cryptographic erase"):
        _issue(stores, keyring, world, method="returned")
    out = issue_certificate(
        stores, keyring, actor=P(world.steward), deal=world.deal, datasets=["crm"], reason="closing"
    )
    subjects = loaded.customers.get_column("subject_id").to_list()
    assert (out.party, out.datasets, out.method) == ("seller", ["crm"], CRYPTO_ERASE)
    assert out.customers == len(subjects) and out.keys_destroyed and out.keys_destroyed > 0
    assert out.subjects == subjects_digest(subjects)
    assert out.note.startswith(HEADER + "\n") and out.verifier_key
    # the customers can no longer be read: keys gone, ciphertexts dropped
    fresh = KeyRing(EnvKeyProvider.from_text(kek_id="test", text=master_key.hex()))
    with stores.unit_of_work() as uow:
        for purpose in (DATA, INDEX):
            with pytest.raises(Shredded):
                fresh.dataset_key(
                    uow.keys, dataset_id=loaded.dataset_id, purpose=purpose, version=1
                )
        ids = list(uow.records.scalars(select(CustomerRecord.id)))
        assert not fresh.unwrap_customer_keys(
            uow.keys, dataset_id=loaded.dataset_id, version=1, record_ids=ids
        )
        statuses = set(uow.records.scalars(select(CustomerRecord.status)))
        assert statuses == {"shredded"}
        assert uow.records.scalar(select(CustomerRecord.enc_identity).limit(1)) is None
        deal = access.get_deal(uow.records, code=world.deal)
        with pytest.raises(DealvaultError):
            read.disclose(
                uow, fresh, actor=acting_person(uow.records, world.steward),
                deal=deal, dataset=uow.records.get(Dataset, loaded.dataset_id),
                subject_ids=subjects[:2],
                purpose="check",
            )  # fmt: skip
        row = uow.records.get(DestructionCertificate, out.id)
        assert row is not None and row.note == out.note and row.sha256 == out.sha256
        assert json.loads(row.scope)["customers"] == len(subjects)
        event = uow.records.scalars(
            select(AuditEvent.body).where(
                AuditEvent.action == "certificate.issue", AuditEvent.decision == "allow"
            )
        ).one()
    body = json.loads(bytes(event))
    assert body["objects"]["certificate"] == out.id and body["objects"]["sha256"] == out.sha256
    assert body["subjects"] == {"count": len(subjects), "digest": out.subjects}
    with pytest.raises(Conflict, match="already destroyed"):
        _issue(stores, keyring, world, datasets=["crm"])
    # checked by number and by file; a changed file fails precisely
    assert verify_certificate(stores, source=str(out.id), actor=P(world.steward)).ok
    note = tmp_path / "certificate.txt"
    note.write_text(out.note, encoding="utf-8")
    checked = verify_certificate(stores, source=str(note), actor=P(world.steward))
    assert checked.in_store and checked.audit_event == body["seq"]
    assert checked.certificate.customers == len(subjects)
    note.write_text(out.note.replace("dataset crm", "dataset crn"), encoding="utf-8")
    # a note that does not verify names no deal of this store: the operator checks it
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_certificate(stores, source=str(note), actor=OP)
    [listed] = list_certificates(stores, actor=P(world.steward), deal=world.deal)
    assert listed.id == out.id and listed.note == out.note
    # the leak is still traced by its canaries; its tokens no longer resolve
    got = trace(stores, keyring, world, leak)
    assert got.verdict == "Bidder B" and got.evidence[0].by_masked == 2
    assert got.evidence[0].tokens_resolved == 0 and any("destroyed" in n for n in got.notes)
    # the losing bidder certifies its deletion; the buyer keeps what it bought
    with pytest.raises(Conflict, match="buyer keeps"):
        _issue(stores, keyring, world, organisation="Bidder A", method="deleted")
    lost = _issue(stores, keyring, world, organisation="Bidder B", method="deleted")
    assert lost.party == "losing-bidder" and lost.method == "deleted"


def test_single_customers_are_destroyed_on_request(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    loaded = load_dataset(stores, keyring, world, tmp_path, rows=20)
    _advance_to_post_closing(stores, world)
    _hand_over(stores, world, loaded)
    some = loaded.customers.get_column("subject_id").head(3).to_list()
    out = issue_certificate(
        stores, keyring, actor=P(world.steward), deal=world.deal, datasets=["crm"],
        subject_ids=[*some, some[0]], reason="erasure request",
    )  # fmt: skip
    assert out.customers == 3 and out.subjects == subjects_digest(some)
    with stores.records_session() as s:
        statuses = dict(s.execute(select(CustomerRecord.subject_id, CustomerRecord.status)).all())
    assert sorted(k for k, v in statuses.items() if v == "shredded") == sorted(some)
    assert verify_certificate(stores, source=str(out.id), actor=P(world.steward)).ok


def test_recipients_certify_return_when_the_deal_ends(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    loaded = load_dataset(stores, keyring, world, tmp_path, rows=30)
    admin.create_person(stores, actor=OP, email=BIDDER_B, name="B", organization="Bidder B")
    admin.add_member(stores, actor=OP, deal=world.deal, email=BIDDER_B, role="bidder_business")
    req = DisclosureRequest(
        actor=P(world.steward), deal=world.deal, dataset="crm", purpose="valuation",
        level=Level.MASKED, recipient="Bidder B",
    )  # fmt: skip
    disclose(stores, keyring, request=req)
    with pytest.raises(Conflict, match="it may still need it"):
        _issue(
            stores, keyring, world, actor=P(BIDDER_B), organisation="Bidder B", method="returned"
        )
    admin.terminate_deal(stores, code=world.deal, actor=P(world.steward), reason="no agreement")
    with pytest.raises(Forbidden):
        _issue(stores, keyring, world, actor=P(world.bidder_person), organisation="Bidder B",
               method="returned")  # fmt: skip
    with pytest.raises(Invalid, match="--method"):
        _issue(stores, keyring, world, actor=P(BIDDER_B), organisation="Bidder B", method="burnt")
    out = _issue(stores, keyring, world, actor=P(BIDDER_B), organisation="Bidder B",
                 method="returned")  # fmt: skip
    assert out.party == "terminated-deal" and out.by == BIDDER_B
    n = loaded.customers.height  # canaries in the disclosure are not counted as customers
    assert (out.disclosures, out.customers, out.datasets) == (1, n, ["crm"])
    # the steward records Bidder A's deletion (it received nothing here)
    a = _issue(stores, keyring, world, organisation="Bidder A", method="crypto-erase")
    assert (a.disclosures, a.customers, a.method) == (0, 0, CRYPTO_ERASE)
    # a bidder may not list the deal's certificates (other parties' too): a recorded denial
    with pytest.raises(Forbidden, match=r"certificate\.read needs one of the roles"):
        list_certificates(stores, actor=P(BIDDER_B), deal=world.deal)
    with stores.records_session() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None
        assert (last.action, last.decision, last.actor) == ("certificate.list", "deny", BIDDER_B)
    listed = list_certificates(stores, actor=P(world.steward), deal=world.deal)
    assert [c.organisation for c in listed] == ["Bidder B", "Bidder A"]
    with stores.records_session() as s:
        assert s.scalar(select(DestructionCertificate.method).limit(1)) == "returned"


# -- the commands ---------------------------------------------------------------------------------

STEWARD = "steward@seller.example"


def _app() -> typer.Typer:
    app = typer.Typer(cls=cli_main._Group, pretty_exceptions_enable=False, add_completion=False)
    app.callback()(cli_main.main)
    for module in (admin_cli, agreements_cli, closing_cli):
        module.register(app)
    return app


def test_certificate_and_trace_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for k, v in {
        "DEALVAULT_HOME": str(tmp_path / "store"),
        "DEALVAULT_KEY_PROVIDER": "env",
        "DEALVAULT_MASTER_KEY": secrets.token_bytes(32).hex(),
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("DEALVAULT_ACTOR", raising=False)
    app = _app()

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == code, f"{args}: {result.output}\n{result.exception!r}"
        return result.output

    # the operator (the CLI's only operator, without --as) sets the store up ...
    run("init", "--operator", "operator@seller.example", "--org", "Seller Co")
    run("org", "add", "Bidder A", "--kind", "bidder")
    run("person", "add", STEWARD, "--name", "Steward", "--org", "Seller Co")
    run("deal", "create", "d1", "--name", "Deal", "--seller", "Seller Co", "--bidder", "Bidder A",
        "--steward", STEWARD)  # fmt: skip
    # ... the operator holds no deal role: ending the deal is the steward's
    refused = run("deal", "terminate", "d1", "--reason", "no deal", code=4)
    assert "deal.terminate needs one of the roles: seller_steward" in refused
    monkeypatch.setenv("DEALVAULT_ACTOR", STEWARD)
    run("deal", "terminate", "d1", "--reason", "no deal")
    note = tmp_path / "note.txt"
    issue = ["certificate", "issue", "--deal", "d1", "--org", "Bidder A", "--method", "deleted",
             "--reason", "deal ended", "--out", str(note), "--json"]  # fmt: skip
    out = json.loads(run(*issue))
    assert out["party"] == "terminated-deal" and note.read_text(encoding="utf-8") == out["note"]
    assert "deleted" in run("certificate", "verify", "1")
    checked = json.loads(run("certificate", "verify", str(note), "--json"))
    assert checked["ok"] and checked["audit_event"] is not None
    assert "Bidder A" in run("certificate", "list", "--deal", "d1")
    note.write_text(out["note"].replace("organisation Bidder A", "organisation Bidder Z"))
    bad = run("--as", "operator@seller.example", "certificate", "verify", str(note), code=6)
    assert "does not verify" in bad
    run("certificate", "verify", "99", code=3)
    leak = tmp_path / "leak.csv"
    leak.write_text("a,b\n1,2\n", encoding="utf-8")
    traced = json.loads(run("trace", str(leak), "--deal", "d1", "--json"))
    assert traced["verdict"] == "unknown" and "subject_ids" not in traced
    assert "verdict" in run("trace", str(leak))
