"""Use cases of closing: trace a leaked file; issue destruction certificates (reading them:
flows/certificate_reads.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from dealvault.access import service as access
from dealvault.access.decision import Decision, decide
from dealvault.access.models import Deal, Organization, Person
from dealvault.access.principal import Principal
from dealvault.access.stages import MemberRole, PartyRole, Stage
from dealvault.audit.note import Signer
from dealvault.audit.service import EventIn, SubjectPacker
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, Invalid, KeyUnavailable
from dealvault.flows.certificate_reads import CertificateCheck as CertificateCheck
from dealvault.flows.certificate_reads import CertificateOut as CertificateOut
from dealvault.flows.certificate_reads import certificate_out
from dealvault.flows.certificate_reads import list_certificates as list_certificates
from dealvault.flows.certificate_reads import verify_certificate as verify_certificate
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, enforce, person_of
from dealvault.transfer.certificates import (
    CRYPTO_ERASE,
    METHODS,
    Certificate,
    live_subjects,
    note_sha256,
    received_by,
    recipient_kind,
    sign_certificate,
    subjects_digest,
    was_transferred,
)
from dealvault.transfer.models import DestructionCertificate
from dealvault.vault import service as vault
from dealvault.vault.shred import shred_customer, shred_dataset

#: Who may trace a leaked file: those who hold the seller's keys or investigate incidents.
TRACE_ROLES = frozenset({MemberRole.SELLER_STEWARD, MemberRole.SECURITY_OFFICER})


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
    return certificate_out(cert, note=note, verifier=signer.verifier().key_string())


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
