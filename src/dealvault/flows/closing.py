"""Use cases of closing: trace a leaked file; issue, verify and list destruction certificates."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select

from dealvault.access import service as access
from dealvault.access.decision import Decision, decide
from dealvault.access.models import Deal, Organization, Person
from dealvault.access.principal import Principal
from dealvault.access.stages import MemberRole, PartyRole, Stage
from dealvault.audit.models import AuditKey
from dealvault.audit.note import Signer, Verifier, parse_note
from dealvault.audit.service import EventIn, SubjectPacker
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, IntegrityError, Invalid, KeyUnavailable, NotFound
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, enforce, person_of
from dealvault.transfer.certificates import (
    CRYPTO_ERASE,
    METHODS,
    Certificate,
    issue_event,
    live_subjects,
    note_sha256,
    parse_certificate,
    received_by,
    recipient_kind,
    sign_certificate,
    subjects_digest,
    was_transferred,
)
from dealvault.transfer.certificates import (
    verify_certificate as check_note,
)
from dealvault.transfer.models import DestructionCertificate
from dealvault.vault import service as vault
from dealvault.vault.shred import shred_customer, shred_dataset

#: Who may trace a leaked file: those who hold the seller's keys or investigate incidents.
TRACE_ROLES = frozenset({MemberRole.SELLER_STEWARD, MemberRole.SECURITY_OFFICER})


class CertificateOut(BaseModel):
    """A destruction certificate as issued or stored, with its signed note verbatim."""

    id: int
    deal: str
    organisation: str
    party: str
    datasets: list[str]
    customers: int
    subjects: str
    method: str
    time: str
    by: str
    keys_destroyed: int | None = None
    disclosures: int | None = None
    packages: int | None = None
    reason: str | None = None
    sha256: str
    note: str
    verifier_key: str | None = None


class CertificateCheck(BaseModel):
    """The result of ``certificate verify``: a verified certificate and where it is recorded."""

    ok: bool
    certificate: CertificateOut
    signed_by: str
    key_id: str
    in_store: bool
    audit_event: int | None
    unknown_signers: list[str]


def _out(cert: Certificate, *, note: str, verifier: str | None) -> CertificateOut:
    return CertificateOut(
        id=cert.certificate,
        deal=cert.deal,
        organisation=cert.organisation,
        party=cert.party,
        datasets=list(cert.datasets),
        customers=cert.customers,
        subjects=cert.subjects,
        method=cert.method,
        time=cert.time.astimezone(UTC).isoformat(timespec="seconds"),
        by=cert.by,
        keys_destroyed=cert.keys_destroyed,
        disclosures=cert.disclosures,
        packages=cert.packages,
        reason=cert.reason,
        sha256=note_sha256(note),
        note=note,
        verifier_key=verifier,
    )


# -- certificates: issue -------------------------------------------------------------------------


def issue_certificate(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    deal: str,
    organisation: str | None = None,
    datasets: Sequence[str] = (),
    subject_ids: Sequence[str] | None = None,
    method: str | None = None,
    reason: str | None = None,
) -> CertificateOut:
    """Destroy and certify, in one transaction with its audit event.

    Seller (``organisation`` None or the seller): after closing, crypto-shred the transferred
    datasets (or only ``subject_ids`` of one dataset) and certify the cryptographic erase.
    A recipient (a losing or withdrawn bidder, any party of a terminated deal): certify that
    it returned or deleted (or crypto-erased) what it received; the scope is taken from the
    disclosures and packages the audit log and ledger record for it.
    """
    signer = stores.audit.signer
    if signer is None:
        raise KeyUnavailable("this store has no audit signing key; run 'dealvault init'")
    shredded = False
    with stores.unit_of_work() as uow:
        s = uow.records
        person = person_of(s, actor)
        d = access.get_deal(s, code=deal)
        seller = next(p for p in d.parties if p.role == PartyRole.SELLER)
        org = access.get_organization(s, name=organisation) if organisation else seller.organization
        event = EventIn(
            action="certificate.issue",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=d.code,
            purpose=reason,
            objects={"organisation": org.name, "stage": d.stage},
        )
        if org.id == seller.organization_id:
            cert, packer = _destroy_seller_copy(
                stores,
                uow,
                keyring,
                person=person,
                deal=d,
                org=org,
                event=event,
                datasets=datasets,
                subject_ids=subject_ids,
                method=method,
                reason=reason,
            )
            shredded = True
        else:
            cert, packer = _recipient_destruction(
                stores,
                uow,
                person=person,
                deal=d,
                org=org,
                event=event,
                method=method,
                reason=reason,
            )
        out = record_certificate(
            stores,
            uow,
            signer=signer,
            cert=cert,
            packer=packer,
            deal=d,
            org=org,
            person=person,
            event=event,
        )
    if shredded:
        stores.purge_deleted_keys()
    return out


def record_certificate(
    stores: AppStores,
    uow: UnitOfWork,
    *,
    signer: Signer,
    cert: Certificate,
    packer: SubjectPacker | list[str],
    deal: Deal,
    org: Organization,
    person: Person,
    event: EventIn,
) -> CertificateOut:
    """Store, sign and audit a destruction certificate (its number given by the store), as
    ``certificate.issue`` records it: the audit event names it and its note's SHA-256, so
    ``certificate verify`` finds it (with the event's own objects, e.g. a retention rule)."""
    s = uow.records
    row = DestructionCertificate(
        deal_id=deal.id,
        organization_id=org.id,
        scope=json.dumps(cert.scope, ensure_ascii=False, sort_keys=True),
        method=cert.method,
        note="",
        sha256="",
        created_by=person.id,
    )
    s.add(row)
    s.flush()
    cert = replace(cert, certificate=row.id, log=stores.audit.origin)
    note = sign_certificate(cert, signer=signer).decode("utf-8")
    row.note, row.sha256 = note, note_sha256(note)
    row.created_at = cert.time
    audit(
        stores,
        uow,
        replace(
            event,
            decision="allow",
            objects={
                **event.objects,
                "certificate": row.id,
                "sha256": row.sha256,
                "organisation": org.name,
                "party": cert.party,
                "method": cert.method,
                "datasets": ",".join(cert.datasets),
                "stage": deal.stage,
            },
            counts={
                "customers": cert.customers,
                **({"keys_destroyed": cert.keys_destroyed} if cert.keys_destroyed else {}),
            },
            subjects=packer,
        ),
    )
    return _out(cert, note=note, verifier=signer.verifier().key_string())


def _destroy_seller_copy(
    stores: AppStores,
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    person: Person,
    deal: Deal,
    org: Organization,
    event: EventIn,
    datasets: Sequence[str],
    subject_ids: Sequence[str] | None,
    method: str | None,
    reason: str | None,
) -> tuple[Certificate, SubjectPacker | list[str]]:
    enforce(stores, decide(uow.records, actor=person, deal=deal, action="certificate.issue"), event)
    if method not in (None, "crypto-erase", CRYPTO_ERASE):
        raise Invalid("the seller's copy is destroyed by cryptographic erase (crypto-erase) only")
    if deal.stage != Stage.POST_CLOSING:
        raise Conflict(
            f"the seller's copy is destroyed after closing; deal {deal.code!r} is at stage"
            f" {deal.stage} (advance it to post_closing first)"
        )
    chosen = [vault.get_dataset(uow.records, deal=deal, name=n) for n in dict.fromkeys(datasets)]
    if not chosen:
        chosen = [
            ds
            for ds in vault.list_datasets(uow.records, deal=deal)
            if was_transferred(uow.records, deal=deal, dataset=ds)
        ]
        if not chosen:
            raise Conflict(f"no dataset of deal {deal.code!r} was handed over in a package yet")
    for ds in chosen:
        if ds.status == "shredded":
            raise Conflict(f"dataset {ds.name!r} is already destroyed")
        if not was_transferred(uow.records, deal=deal, dataset=ds):
            raise Conflict(
                f"dataset {ds.name!r} was not handed over (no transfer package was built for"
                " it): destroying the seller's copy now would lose it"
            )
    customers = keys = 0
    packer: SubjectPacker | list[str]
    if subject_ids is not None:
        if len(chosen) != 1:
            raise Invalid("name exactly one dataset (--dataset) when destroying single customers")
        wanted = sorted(set(subject_ids))
        if not wanted:
            raise Invalid("no subject ids given")
        for sid in wanted:
            entry = shred_customer(
                uow, keyring, dataset=chosen[0], subject_id=sid, actor=person, reason=reason
            )
            customers, keys = customers + entry.customers, keys + entry.keys_destroyed
        digest, packer = subjects_digest(wanted), wanted
    else:
        digest, packer = live_subjects(uow.records, [ds.id for ds in chosen])
        for ds in chosen:
            entry = shred_dataset(uow, keyring, dataset=ds, actor=person, reason=reason)
            customers, keys = customers + entry.customers, keys + entry.keys_destroyed
    cert = Certificate(
        certificate=0,
        deal=deal.code,
        organisation=org.name,
        party="seller",
        datasets=tuple(ds.name for ds in chosen),
        customers=customers,
        subjects=digest,
        method=CRYPTO_ERASE,
        time=utcnow().replace(microsecond=0),
        by=person.email,
        keys_destroyed=keys,
        reason=reason,
    )
    return cert, packer


def _recipient_destruction(
    stores: AppStores,
    uow: UnitOfWork,
    *,
    person: Person,
    deal: Deal,
    org: Organization,
    event: EventIn,
    method: str | None,
    reason: str | None,
) -> tuple[Certificate, list[str]]:
    enforce(
        stores, decide(uow.records, actor=person, deal=deal, action="certificate.attest"), event
    )
    roles = access.member_roles(uow.records, deal=deal, person=person)
    own = person.organization_id == org.id
    if not (own or MemberRole.SELLER_STEWARD in roles):
        why = (
            f"{person.email} is neither a member for {org.name} nor a seller steward of {deal.code}"
        )
        enforce(stores, Decision(False, "none", (why,)), event)
    party = access.party_of(deal, org.id)
    if party is None:
        raise Invalid(f"{org.name!r} is not a party to deal {deal.code!r}")
    kind = recipient_kind(deal, party)
    if kind is None:
        what = "the buyer keeps what it received" if party.is_winner else "it may still need it"
        raise Conflict(
            f"{org.name!r} returns or destroys its copy once it lost, withdrew or the deal was"
            f" terminated; deal {deal.code!r} is at stage {deal.stage} and {what}"
        )
    if method is None or (method not in METHODS and method not in METHODS.values()):
        raise Invalid("say how the copy went: --method returned, deleted or crypto-erase")
    received = received_by(uow.records, deal=deal, org=org)
    cert = Certificate(
        certificate=0,
        deal=deal.code,
        organisation=org.name,
        party=kind,
        datasets=tuple(received["datasets"]),
        customers=len(received["subjects"]),
        subjects=subjects_digest(received["subjects"]),
        method=METHODS.get(method, method),
        time=utcnow().replace(microsecond=0),
        by=person.email,
        disclosures=received["disclosures"],
        packages=received["packages"],
        reason=reason,
    )
    return cert, sorted(received["subjects"])


# -- certificates: verify and list ---------------------------------------------------------------


def _verifiers(stores: AppStores, uow: UnitOfWork, keys: Sequence[str]) -> list[Verifier]:
    found = [Verifier.from_key(k) for k in keys]
    found += [
        Verifier.from_key(k)
        for k in uow.records.scalars(select(AuditKey.verifier_key).where(AuditKey.role == "log"))
    ]
    if stores.audit.verifier is not None:  # the public key: no master key needed to verify
        found.append(stores.audit.verifier)
    return list(dict.fromkeys(found))


def verify_certificate(
    stores: AppStores,
    *,
    source: str,
    actor: Principal,
    keys: Sequence[str] = (),
) -> CertificateCheck:
    """Check a certificate (a note file, or a certificate number of this store): its signature
    under the store's log key or ``keys``, its copy in the store and its audit event.

    The check itself is audited (also when it fails); a failure raises IntegrityError.
    """
    problem: str | None = None
    with stores.unit_of_work() as uow:
        path = Path(source)
        row: DestructionCertificate | None = None
        where = ""  # the file's name, before a problem with a note read from a file
        if path.is_file():
            try:
                note = path.read_bytes().decode("utf-8", errors="replace")  # bad bytes: bad sig.
            except OSError as exc:
                raise Invalid(f"{path.name}: cannot be read ({exc.strerror})") from None
            where = f"{path.name}: "
        elif source.isdigit():
            row = uow.records.get(DestructionCertificate, int(source))
            if row is None:
                raise NotFound(f"certificate #{source} not found")
            note = row.note
        else:
            raise NotFound(f"{source!r} is neither a file nor a certificate number")
        sha = note_sha256(note)
        result: CertificateCheck | None = None
        try:
            checked = check_note(note, verifiers=_verifiers(stores, uow, keys))
            cert = checked.certificate
            ours = cert.log in (None, stores.audit.origin)  # issued by this store's log
            if row is None and ours:
                row = uow.records.get(DestructionCertificate, cert.certificate)
            in_store = row is not None and row.sha256 == sha and row.note == note
            if row is not None and not in_store:
                problem = f"certificate #{cert.certificate} in this store differs from this note"
            elif row is not None and note_sha256(row.note) != row.sha256:
                problem = f"certificate #{cert.certificate}: stored digest does not match its note"
            seq = issue_event(uow.records, deal=cert.deal, cert_id=cert.certificate, sha256=sha)
            if row is not None and seq is None and problem is None:
                problem = f"certificate #{cert.certificate} has no issue event in the audit log"
            result = CertificateCheck(
                ok=problem is None,
                certificate=_out(cert, note=note, verifier=None),
                signed_by=checked.signed_by,
                key_id=checked.key_id,
                in_store=in_store,
                audit_event=seq,
                unknown_signers=list(checked.unknown_signers),
            )
        except (IntegrityError, Invalid) as exc:
            problem = f"{where}{exc}"
        deal_code = result.certificate.deal if result else None
        if deal_code is None and row is not None:
            found = uow.records.get(Deal, row.deal_id)
            deal_code = found.code if found else None
        known = (
            uow.records.scalar(select(Deal).where(Deal.code == deal_code)) if deal_code else None
        )
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            # a certificate of one of this store's deals, or a file from elsewhere
            action="certificate.read" if known is not None else "package.verify",
            deal=known,
            event=EventIn(action="certificate.verify", deal=deal_code),
        )
        audit(
            stores,
            uow,
            replace(
                event,
                objects={
                    "certificate": result.certificate.id if result else None,
                    "sha256": sha,
                    "result": "ok" if problem is None else "failed",
                },
            ),
        )
    if problem is not None or result is None:
        raise IntegrityError(problem or "certificate could not be checked")
    return result


def list_certificates(stores: AppStores, *, actor: Principal, deal: str) -> list[CertificateOut]:
    """The destruction certificates of a deal (the roles of ``certificate.read``)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="certificate.read",
            deal=d,
            event=EventIn(action="certificate.list"),
        )
        audit(stores, uow, event)
        rows = s.scalars(
            select(DestructionCertificate)
            .where(DestructionCertificate.deal_id == d.id)
            .order_by(DestructionCertificate.id)
        )
        out = []
        for row in rows:
            text, _ = parse_note(row.note)
            out.append(_out(parse_certificate(text), note=row.note, verifier=None))
        return out
