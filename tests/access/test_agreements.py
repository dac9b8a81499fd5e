"""The agreements registry: round trip, encrypted document, scope, signers, dates, revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from dealvault.access import agreements as reg
from dealvault.access import service as access
from dealvault.access.governance_models import Agreement
from dealvault.audit.models import AuditEvent
from dealvault.crypto import envelope as env
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.models import DatasetKey
from dealvault.crypto.providers import EnvKeyProvider
from dealvault.errors import Conflict, Forbidden, IntegrityError, Invalid, NotFound
from dealvault.flows import admin, keys
from dealvault.flows import agreements as flows
from dealvault.flows.context import AppStores
from tests.conftest import OP, SELLER, STEWARD, P, World, acting_person

CLEAN = "clean@bidder-a.example"
OTHER = "other@bidder-a.example"
B_PERSON = "someone@bidder-b.example"
S = P(STEWARD)
SECRET = "机密 signed NDA body: party Bidder A, signatory 王小明 ".encode() * 200


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def people(stores: AppStores, world: World) -> World:
    admin.create_person(stores, actor=OP, email=CLEAN, name="王小明", organization="Bidder A")
    admin.create_person(stores, actor=OP, email=OTHER, name="Other", organization="Bidder A")
    admin.create_person(stores, actor=OP, email=B_PERSON, name="B", organization="Bidder B")
    admin.add_member(stores, actor=OP, deal=world.deal, email=CLEAN, role="bidder_clean_team")
    return world


def _nda(stores: AppStores, world: World, **kw: object) -> reg.AgreementOut:
    args: dict[str, object] = {
        "actor": P(world.steward),
        "deal": world.deal,
        "organization": "Bidder A",
        "kind": "nda",
        "title": "Confidentiality agreement",
        "effective": date(2026, 11, 1),
        "expires": date(2026, 12, 31),
    }
    args.update(kw)
    return flows.add_agreement(stores, **args)  # type: ignore[arg-type]


def _doc(tmp_path: Path, data: bytes = SECRET) -> Path:
    path = tmp_path / "nda-signed.pdf"
    path.write_bytes(data)
    return path


@dataclass(frozen=True)
class Ev:
    action: str
    decision: str | None
    actor: str | None
    deal: str | None
    body: str


def _events(stores: AppStores, prefix: str) -> list[Ev]:
    with stores.records_session() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.seq)
        )
        return [Ev(e.action, e.decision, e.actor, e.deal, e.body.decode()) for e in rows]


def test_registry_round_trip(
    stores: AppStores, keyring: KeyRing, people: World, tmp_path: Path
) -> None:
    a = _nda(
        stores,
        people,
        keyring=keyring,
        datasets=["crm", "orders,crm"],
        categories=["contact", "transaction"],
        signers=[reg.SignerIn(people.bidder_person)],
        document=_doc(tmp_path),
    )
    assert a.deal == people.deal and a.organization == "Bidder A" and a.kind == "nda"
    assert a.datasets == ["crm", "orders"] and a.categories == ["contact", "transaction"]
    assert a.signers[0].person == people.bidder_person
    assert a.signers[0].signed_on == date(2026, 11, 1)  # defaults to the effective day
    assert a.document_name == "nda-signed.pdf"
    assert a.document_sha256 == hashlib.sha256(SECRET).hexdigest()
    assert a.created_by == people.steward and a.status == "in_force"  # today is 2026-11-25+
    clean = flows.add_agreement(
        stores,
        actor=P(people.steward),
        deal=people.deal,
        organization="Bidder A",
        kind="clean_team",
        title="Clean team",
        effective=date(2026, 11, 1),
        signers=[reg.SignerIn(CLEAN, date(2026, 11, 3))],
    )
    assert clean.datasets == ["*"] and clean.categories == ["*"] and clean.expires is None
    shown = flows.show_agreement(stores, actor=S, agreement_id=a.id, at=utc(2027, 1, 1))
    assert shown.status == "expired" and shown.document_sha256 == a.document_sha256
    assert flows.show_agreement(stores, actor=S, agreement_id=a.id, at=utc(2026, 10, 1)).status == (
        "not_yet_effective"
    )
    assert [x.id for x in flows.list_agreements(stores, actor=S, deal=people.deal)] == [
        a.id,
        clean.id,
    ]
    assert flows.list_agreements(stores, actor=S, deal=people.deal, organization="Bidder B") == []
    at = utc(2027, 2, 1)
    assert [
        x.id for x in flows.list_agreements(stores, actor=S, deal=people.deal, in_force=True, at=at)
    ] == [clean.id]
    with pytest.raises(NotFound, match="agreement #999 not found"):
        flows.show_agreement(stores, actor=S, agreement_id=999)


def test_document_is_encrypted_at_rest_and_bound_to_its_agreement(
    stores: AppStores, keyring: KeyRing, people: World, tmp_path: Path
) -> None:
    a = _nda(stores, people, keyring=keyring, document=_doc(tmp_path))
    b = _nda(stores, people, keyring=keyring, document=_doc(tmp_path, b"another document"))
    with stores.records_session() as s:
        raw = bytes(
            s.execute(
                text("SELECT document FROM agreements WHERE id = :i"), {"i": a.id}
            ).scalar_one()
        )
    assert SECRET[:40] not in raw and b"signed NDA" not in raw
    header, *_ = env.parse(raw)
    assert (header.key_id, header.key_version) == ("document", 1)
    with stores.keystore_sessions() as ks:  # one global document key, reserved dataset id 0
        keys = ks.scalars(select(DatasetKey).where(DatasetKey.purpose == "document")).all()
        assert [(k.dataset_id, k.version) for k in keys] == [(0, 1)]

    out = tmp_path / "out.pdf"
    got = flows.export_document(
        stores, keyring, actor=P(people.steward), agreement_id=a.id, out=out
    )
    assert out.read_bytes() == SECRET and got.bytes == len(SECRET)
    assert got.sha256 == hashlib.sha256(SECRET).hexdigest()
    with pytest.raises(Conflict, match="file exists"):
        flows.export_document(stores, keyring, actor=P(people.steward), agreement_id=a.id, out=out)

    # moved to another agreement (with its hash): the associated data no longer matches
    with stores.unit_of_work() as uow:
        first, second = uow.records.get(Agreement, a.id), uow.records.get(Agreement, b.id)
        assert first is not None and second is not None
        second.document, second.document_sha256 = first.document, first.document_sha256
    with pytest.raises(IntegrityError, match="failed authentication"):
        flows.export_document(
            stores, keyring, actor=P(people.steward), agreement_id=b.id, out=out, overwrite=True
        )
    key = keyring.dataset_key(
        stores.keystore_sessions(), dataset_id=0, purpose="document", version=1
    )
    assert env.open_envelope(key, raw, reg.document_context(a.id)) == SECRET
    with pytest.raises(IntegrityError):
        env.open_envelope(key, raw, reg.document_context(b.id))

    # one flipped bit in the ciphertext
    with stores.unit_of_work() as uow:
        row = uow.records.get(Agreement, a.id)
        assert row is not None and row.document is not None
        blob = bytearray(row.document)
        blob[-20] ^= 0x01
        row.document = bytes(blob)
    with pytest.raises(IntegrityError, match="failed authentication"):
        flows.export_document(
            stores, keyring, actor=P(people.steward), agreement_id=a.id, out=out, overwrite=True
        )
    assert out.read_bytes() == SECRET  # the earlier export was not overwritten


def test_document_hash_is_checked(
    stores: AppStores, keyring: KeyRing, people: World, tmp_path: Path
) -> None:
    a = _nda(stores, people, keyring=keyring, document=_doc(tmp_path))
    with stores.unit_of_work() as uow:
        row = uow.records.get(Agreement, a.id)
        assert row is not None
        row.document_sha256 = "0" * 64
    out = tmp_path / "out.pdf"
    with pytest.raises(IntegrityError, match="does not match its recorded SHA-256"):
        flows.export_document(stores, keyring, actor=P(people.steward), agreement_id=a.id, out=out)
    assert not out.exists()
    plain = _nda(stores, people)
    with pytest.raises(NotFound, match="has no signed document"):
        flows.export_document(
            stores, keyring, actor=P(people.steward), agreement_id=plain.id, out=out
        )


def test_document_readers_and_size_limit(
    stores: AppStores,
    keyring: KeyRing,
    people: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = _nda(stores, people, keyring=keyring, document=_doc(tmp_path))
    out = tmp_path / "x.pdf"
    # the roles of agreement.read may fetch it (the steward); a bidder may not, whether of the
    # agreement's own organisation or another one
    flows.export_document(stores, keyring, actor=S, agreement_id=a.id, out=out)
    admin.add_member(stores, actor=OP, deal=people.deal, email=B_PERSON, role="bidder_business")
    for who in (people.bidder_person, B_PERSON):
        with pytest.raises(
            Forbidden,
            match=r"agreement\.read needs one of the roles: seller_steward, counsel, "
            r"intermediary, security_officer, auditor \(held: bidder_business\)",
        ):
            flows.export_document(
                stores, keyring, actor=P(who), agreement_id=a.id, out=out, overwrite=True
            )
    events = _events(stores, "agreement.document")
    assert [(e.decision, e.actor) for e in events] == [
        ("allow", people.steward),
        ("deny", people.bidder_person),
        ("deny", B_PERSON),
    ]
    assert "agreement.read needs one of the roles" in events[1].body

    monkeypatch.setattr(reg, "MAX_DOCUMENT_BYTES", 1024)
    before = len(flows.list_agreements(stores, actor=S, deal=people.deal))
    with pytest.raises(Invalid, match=r"nda-signed.pdf: document is larger than"):
        _nda(stores, people, keyring=keyring, document=_doc(tmp_path))
    with pytest.raises(Invalid, match="needs the master key"):
        _nda(stores, people, document=_doc(tmp_path, b"small"))
    with pytest.raises(Invalid, match="document file not found"):
        _nda(stores, people, keyring=keyring, document=tmp_path / "missing.pdf")
    assert len(flows.list_agreements(stores, actor=S, deal=people.deal)) == before


def test_validation(stores: AppStores, people: World) -> None:
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"kind": "lease"}, Invalid, "unknown agreement kind 'lease'"),
        ({"expires": date(2026, 10, 31)}, Invalid, r"expires \(2026-10-31\) is before effective"),
        ({"categories": ["contact", "hobbies"]}, Invalid, "unknown category 'hobbies'"),
        ({"datasets": ["*", "crm"]}, Invalid, "cannot be combined"),
        ({"title": "  "}, Invalid, "title must be"),
        ({"kind": "clean_team"}, Invalid, "needs its individual signers"),
        ({"signers": [reg.SignerIn(B_PERSON)]}, Invalid, "signer 1 does not belong to"),
        ({"signers": [reg.SignerIn("nobody@x.example")]}, NotFound, "signer 1: no account"),
        ({"signers": [reg.SignerIn(CLEAN), reg.SignerIn(CLEAN)]}, Invalid, "given twice"),
        (
            {"signers": [reg.SignerIn(CLEAN, date(2027, 1, 5))]},
            Invalid,
            "signed after the agreement expired",
        ),
        ({"organization": "Nobody Ltd"}, NotFound, "organisation 'Nobody Ltd' not found"),
        ({"deal": "nope"}, NotFound, "deal 'nope' not found"),
    ]
    for kw, error, message in cases:
        with pytest.raises(error, match=message):
            _nda(stores, people, **kw)
    admin.create_organization(stores, actor=OP, name="Outsider", kind="bidder")
    with pytest.raises(Invalid, match="'Outsider' is not a party to deal 'clean-2026'"):
        _nda(stores, people, organization="Outsider")
    assert flows.list_agreements(stores, actor=S, deal=people.deal) == []


def test_only_a_seller_steward_adds_and_revokes(stores: AppStores, people: World) -> None:
    with pytest.raises(
        Forbidden, match=r"agreement\.add needs one of the roles: seller_steward \(held: bidder"
    ):
        _nda(stores, people, actor=P(people.bidder_person))
    a = _nda(stores, people)
    with pytest.raises(
        Forbidden, match=r"agreement\.revoke needs one of the roles: seller_steward \(held: bidder"
    ):
        flows.revoke_agreement(stores, actor=P(CLEAN), agreement_id=a.id, reason="nope")
    assert flows.show_agreement(stores, actor=S, agreement_id=a.id).revoked_at is None
    # a steward signs for nobody: not an agreement of the steward's own organisation, not one
    # naming the steward as a signer
    with pytest.raises(Forbidden, match=r"nobody may agreement\.add for themselves"):
        _nda(stores, people, organization=SELLER)
    with pytest.raises(Forbidden, match=r"nobody may agreement\.add for themselves"):
        _nda(stores, people, signers=[reg.SignerIn(STEWARD.upper())])
    events = [e for e in _events(stores, "agreement.") if e.action != "agreement.show"]
    assert [(e.action, e.decision, e.actor) for e in events] == [
        ("agreement.add", "deny", people.bidder_person),
        ("agreement.add", "allow", people.steward),
        ("agreement.revoke", "deny", CLEAN),
        ("agreement.add", "deny", people.steward),
        ("agreement.add", "deny", people.steward),
    ]
    assert "agreement.add needs one of the roles: seller_steward" in events[0].body
    assert "agreement.revoke needs one of the roles: seller_steward" in events[2].body
    assert all("nobody may agreement.add for themselves" in e.body for e in events[3:])
    assert [x.id for x in flows.list_agreements(stores, actor=S, deal=people.deal)] == [a.id]


def test_scope_rules(stores: AppStores, people: World) -> None:
    a = _nda(stores, people, datasets=["crm"], categories=["contact", "transaction"])
    everything = _nda(stores, people)
    with stores.records_session() as s:
        row, star = s.get(Agreement, a.id), s.get(Agreement, everything.id)
        assert row is not None and star is not None
        assert reg.agreement_covers(row, dataset="crm", categories=["contact"])
        assert reg.agreement_covers(row, dataset="crm", categories=["contact", "transaction"])
        assert reg.agreement_covers(row, dataset="crm", categories=[])
        assert not reg.agreement_covers(row, dataset="crm", categories=["contact", "identity"])
        assert not reg.agreement_covers(row, dataset="crm2", categories=["contact"])
        assert reg.agreement_covers(star, dataset="any", categories=["sensitive", "free_text"])


def test_clean_team_covers_its_individual_signers_only(stores: AppStores, people: World) -> None:
    flows.add_agreement(
        stores,
        actor=P(people.steward),
        deal=people.deal,
        organization="Bidder A",
        kind="clean_team",
        title="Clean team agreement",
        effective=date(2026, 11, 1),
        expires=date(2027, 3, 31),
        categories=["contact", "transaction"],
        signers=[reg.SignerIn(CLEAN, date(2026, 11, 10))],
    )
    at = utc(2026, 11, 20, 12)
    with stores.records_session() as s:
        deal = access.get_deal(s, code=people.deal)
        clean = acting_person(s, CLEAN)
        other = acting_person(s, OTHER)
        [row] = reg.agreements_in_force(
            s, deal=deal, organization_id=clean.organization_id, at=at, kinds=["clean_team"]
        )
        assert reg.agreement_covers(row, dataset="crm", categories=["contact"], person=clean)
        assert not reg.agreement_covers(row, dataset="crm", categories=["contact"], person=other)
        assert not reg.agreement_covers(row, dataset="crm", categories=["contact"])
        # bound only from the day the person signed
        assert not reg.agreement_covers(
            row, dataset="crm", categories=["contact"], person=clean, at=utc(2026, 11, 9, 23)
        )
        assert reg.agreement_covers(
            row, dataset="crm", categories=["contact"], person=clean, at=utc(2026, 11, 10)
        )

        def problem(person: object, *, clean_team: bool, when: datetime = at) -> str | None:
            return reg.coverage_problem(
                s,
                deal=deal,
                person=person,  # type: ignore[arg-type]
                dataset="crm",
                categories=["contact"],
                at=when,
                clean_team=clean_team,
            )

        assert problem(clean, clean_team=True) is None
        assert problem(other, clean_team=True) == (
            f"no clean-team agreement signed by {OTHER} in force covering contact of dataset "
            "crm on 2026-11-20 (agreement #1 is in force but not signed by this person on that day)"
        )
        # a clean-team agreement is no NDA
        assert problem(clean, clean_team=False) == (
            "no NDA of Bidder A in force covering contact of dataset crm on 2026-11-20"
        )
        assert problem(clean, clean_team=True, when=utc(2026, 11, 5)) is not None


def test_date_boundaries_are_inclusive_utc_days(stores: AppStores, people: World) -> None:
    _nda(stores, people, effective=date(2026, 11, 1), expires=date(2026, 12, 31))
    eps = timedelta(microseconds=1)
    cases = [
        (utc(2026, 11, 1) - eps, False),
        (utc(2026, 11, 1), True),
        (utc(2026, 11, 2), True),
        (utc(2026, 12, 31), True),
        (utc(2027, 1, 1) - eps, True),
        (utc(2027, 1, 1), False),
        (utc(2027, 1, 2), False),
        # 07:00 in Beijing on 1 January is still 31 December in UTC
        (datetime(2027, 1, 1, 7, tzinfo=UTC) - timedelta(hours=8), True),
    ]
    with stores.records_session() as s:
        deal = access.get_deal(s, code=people.deal)
        org = access.get_organization(s, name="Bidder A")
        for at, expected in cases:
            got = reg.agreements_in_force(s, deal=deal, organization_id=org.id, at=at)
            assert bool(got) is expected, at
        other = access.get_organization(s, name="Bidder B")
        assert (
            reg.agreements_in_force(s, deal=deal, organization_id=other.id, at=utc(2026, 12, 1))
            == []
        )
        assert (
            reg.agreements_in_force(
                s, deal=deal, organization_id=org.id, at=utc(2026, 12, 1), kinds=["dpa"]
            )
            == []
        )
        with pytest.raises(Invalid, match="timezone-aware"):
            reg.agreements_in_force(s, deal=deal, organization_id=org.id, at=datetime(2026, 12, 1))
        analyst = acting_person(s, people.bidder_person)
        assert reg.coverage_problem(
            s, deal=deal, person=analyst, dataset="crm", categories=["contact"],
            at=utc(2027, 1, 1), clean_team=False,
        ) == (
            "no NDA of Bidder A in force covering contact of dataset crm on 2027-01-01 "
            "(agreement #1 expired on 2026-12-31)"
        )  # fmt: skip
        assert reg.coverage_problem(
            s, deal=deal, person=analyst, dataset="crm", categories=["contact"],
            at=utc(2026, 10, 31), clean_team=False,
        ).endswith("(agreement #1 takes effect on 2026-11-01)")  # type: ignore[union-attr]  # fmt: skip


def test_revocation_takes_effect_at_once(stores: AppStores, people: World) -> None:
    a = _nda(stores, people, expires=None, categories=["contact"])
    revoked = flows.revoke_agreement(
        stores, actor=P(people.steward), agreement_id=a.id, reason="bidder breached clause 4"
    )
    assert revoked.status == "revoked" and revoked.revoked_by == people.steward
    assert revoked.revoke_reason == "bidder breached clause 4"
    assert revoked.revoked_at is not None
    cut = revoked.revoked_at
    with stores.records_session() as s:
        deal = access.get_deal(s, code=people.deal)
        org = access.get_organization(s, name="Bidder A")
        analyst = acting_person(s, people.bidder_person)

        def in_force(at: datetime) -> bool:
            return bool(reg.agreements_in_force(s, deal=deal, organization_id=org.id, at=at))

        assert in_force(cut - timedelta(microseconds=1))
        assert not in_force(cut)
        assert not in_force(datetime.now(UTC))
        reason = reg.coverage_problem(
            s, deal=deal, person=analyst, dataset="crm", categories=["contact"],
            at=datetime.now(UTC), clean_team=False,
        )  # fmt: skip
        assert reason is not None and f"(agreement #{a.id} was revoked at " in reason
    assert flows.list_agreements(stores, actor=S, deal=people.deal, in_force=True) == []
    with pytest.raises(Conflict, match="already revoked"):
        flows.revoke_agreement(stores, actor=P(people.steward), agreement_id=a.id, reason="again")
    with pytest.raises(Invalid, match="give a reason"):
        flows.revoke_agreement(
            stores, actor=P(people.steward), agreement_id=_nda(stores, people).id, reason=" "
        )


def test_audit_events_carry_no_personal_values(
    stores: AppStores, keyring: KeyRing, people: World, tmp_path: Path
) -> None:
    a = flows.add_agreement(
        stores,
        keyring,
        actor=P(people.steward),
        deal=people.deal,
        organization="Bidder A",
        kind="clean_team",
        title="Clean team of 王小明",
        effective=date(2026, 11, 1),
        categories=["contact"],
        signers=[reg.SignerIn(CLEAN)],
        document=_doc(tmp_path),
    )
    flows.revoke_agreement(stores, actor=P(people.steward), agreement_id=a.id, reason="team change")
    events = _events(stores, "agreement.")
    assert [(e.action, e.decision, e.deal) for e in events] == [
        ("agreement.add", "allow", people.deal),
        ("agreement.revoke", "allow", people.deal),
    ]
    body = events[0].body
    assert f'"agreement":{a.id}' in body and '"signers":1' in body
    assert hashlib.sha256(SECRET).hexdigest() in body
    for e in events:
        text_ = e.body
        assert "王小明" not in text_ and CLEAN not in text_ and "nda-signed" not in text_
    with stores.records_session() as s:
        assert s.scalar(select(func.count()).select_from(Agreement)) == 1


def test_master_key_rotation_rewraps_the_document_key(
    stores: AppStores, people: World, tmp_path: Path
) -> None:
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    ring = KeyRing(EnvKeyProvider.from_text(kek_id="ci", text=k1.hex()))
    a = _nda(stores, people, keyring=ring, document=_doc(tmp_path))
    ring2 = KeyRing(EnvKeyProvider.from_text(kek_id="ci", text=f"2:{k2.hex()},1:{k1.hex()}"))
    assert keys.rotate_master_key(stores, ring2, actor=OP).processed == 1
    only_new = KeyRing(EnvKeyProvider.from_text(kek_id="ci", text=f"2:{k2.hex()}"))
    out = tmp_path / "after-rotation.pdf"
    flows.export_document(stores, only_new, actor=P(people.steward), agreement_id=a.id, out=out)
    assert out.read_bytes() == SECRET


def test_a_click_agreement_covers_only_once_accepted() -> None:
    """A click-through NDA covers its organisation once one of its members accepted it (by
    that day); a click-through clean-team agreement its accepting members only; a signed
    NDA as before, signers or not."""
    from dealvault.access.governance_models import AgreementSigner
    from dealvault.access.models import Person

    day = date(2026, 3, 2)
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    member = Person(id=7, email="m@bidder-a.example", name="M", organization_id=1)
    for kind in ("nda", "clean_team"):
        a = Agreement(kind=kind, datasets="*", categories="*", acceptance="click", signers=[])
        assert not reg.agreement_covers(a, dataset="crm", categories=["contact"],
                                        person=member, at=at)  # fmt: skip
        a.signers.append(AgreementSigner(person_id=7, signed_on=day, method="click"))
        assert reg.agreement_covers(a, dataset="crm", categories=["contact"], person=member,
                                    at=at)  # fmt: skip
        assert not reg.agreement_covers(a, dataset="crm", categories=["contact"],
                                        person=member, at=at - timedelta(days=1))  # fmt: skip
    signed = Agreement(kind="nda", datasets="*", categories="*", acceptance="signed", signers=[])
    assert reg.agreement_covers(signed, dataset="crm", categories=["contact"], at=at)
