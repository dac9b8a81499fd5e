"""Use cases of agreements and training records, each one transaction with its audit event."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import agreements as reg
from dealvault.access import service as access
from dealvault.access import training as tr
from dealvault.access.agreements import AgreementOut, SignerIn
from dealvault.access.decision import Decision
from dealvault.access.models import Deal, Membership, Person
from dealvault.access.stages import MemberRole
from dealvault.access.training import TrainingImportOut, TrainingOut
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid
from dealvault.files import write_private
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, enforce

#: Who may fetch a signed document besides the agreement's own organisation's members.
DOCUMENT_READERS = frozenset(
    {MemberRole.SELLER_STEWARD, MemberRole.SECURITY_OFFICER, MemberRole.AUDITOR}
)


class DocumentOut(BaseModel):
    agreement: int
    file: str
    bytes: int
    sha256: str


def _steward_decision(session: Session, *, deal: Deal, person: Person, action: str) -> Decision:
    if MemberRole.SELLER_STEWARD in access.member_roles(session, deal=deal, person=person):
        return Decision(True, "metadata", (f"seller steward, {action}",))
    return Decision(
        False, "none", (f"only a seller steward of deal {deal.code} may {action} agreements",)
    )


# -- agreements --------------------------------------------------------------------------
def add_agreement(
    stores: AppStores,
    keyring: KeyRing | None = None,
    *,
    actor: str,
    deal: str,
    organization: str,
    kind: str,
    title: str,
    effective: date,
    expires: date | None = None,
    datasets: Sequence[str] = (),
    categories: Sequence[str] = (),
    signers: Sequence[SignerIn] = (),
    document: Path | None = None,
) -> AgreementOut:
    """Register an agreement (and encrypt its signed document); seller stewards only."""
    doc = reg.read_document(document) if document is not None else None
    if doc is not None and keyring is None:
        raise Invalid("attaching a document needs the master key")
    with stores.unit_of_work() as uow:
        s = uow.records
        person = access.get_person(s, email=actor)
        d = access.get_deal(s, code=deal)
        org = access.get_organization(s, name=organization)
        event = EventIn(
            action="agreement.add",
            actor=person.email,
            deal=d.code,
            objects={"organization": org.name, "kind": kind},
        )
        enforce(stores, _steward_decision(s, deal=d, person=person, action="add"), event)
        a = reg.create_agreement(
            s,
            deal=d,
            organization=org,
            kind=kind,
            title=title,
            datasets=datasets,
            categories=categories,
            effective=effective,
            expires=expires,
            signers=signers,
            actor=person,
        )
        if doc is not None:
            assert keyring is not None
            reg.attach_document(uow, keyring, agreement=a, name=doc[0], content=doc[1])
        audit(
            stores,
            uow,
            EventIn(
                action="agreement.add",
                actor=person.email,
                deal=d.code,
                decision="allow",
                objects={
                    "agreement": a.id,
                    "organization": org.name,
                    "kind": a.kind,
                    "datasets": a.datasets,
                    "categories": a.categories,
                    "effective": a.effective.isoformat(),
                    "expires": a.expires.isoformat() if a.expires else None,
                    "document_sha256": a.document_sha256,
                },
                counts={"signers": len(a.signers)},
            ),
        )
        return reg.agreement_view(s, a, at=utcnow())


def revoke_agreement(
    stores: AppStores, *, actor: str, agreement_id: int, reason: str
) -> AgreementOut:
    """Revoke an agreement with immediate effect; seller stewards of its deal only."""
    with stores.unit_of_work() as uow:
        s = uow.records
        person = access.get_person(s, email=actor)
        a = reg.get_agreement(s, agreement_id=agreement_id)
        d = s.get(Deal, a.deal_id)
        assert d is not None
        event = EventIn(
            action="agreement.revoke",
            actor=person.email,
            deal=d.code,
            purpose=reason,
            objects={"agreement": a.id, "organization": a.organization.name, "kind": a.kind},
        )
        enforce(stores, _steward_decision(s, deal=d, person=person, action="revoke"), event)
        reg.revoke_agreement(s, agreement=a, reason=reason, actor=person)
        audit(stores, uow, replace(event, decision="allow"))
        return reg.agreement_view(s, a, at=utcnow())


def list_agreements(
    stores: AppStores,
    *,
    deal: str | None = None,
    organization: str | None = None,
    in_force: bool = False,
    at: datetime | None = None,
) -> list[AgreementOut]:
    """Agreements (metadata only), optionally of one deal / organisation / in force now."""
    when = at or utcnow()
    with stores.records_session() as s:
        d = access.get_deal(s, code=deal) if deal is not None else None
        org = access.get_organization(s, name=organization) if organization is not None else None
        rows = reg.list_agreements(
            s, deal=d, organization=org, in_force_at=when if in_force else None
        )
        return [reg.agreement_view(s, a, at=when) for a in rows]


def show_agreement(
    stores: AppStores, *, agreement_id: int, at: datetime | None = None
) -> AgreementOut:
    with stores.records_session() as s:
        a = reg.get_agreement(s, agreement_id=agreement_id)
        return reg.agreement_view(s, a, at=at or utcnow())


def export_document(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: str,
    agreement_id: int,
    out: Path,
    overwrite: bool = False,
) -> DocumentOut:
    """Write the decrypted signed document to ``out`` after checking its SHA-256.

    Allowed to seller stewards, security officers and auditors of the deal, and to members of
    the deal from the agreement's own organisation. Recorded as ``agreement.document``.
    """
    if out.is_dir():
        raise Invalid(f"{out.name}: is a directory")
    if out.exists() and not overwrite:
        raise Conflict(f"{out.name}: file exists (pass --force to overwrite)")
    if not out.parent.is_dir():
        raise Invalid(f"{out.parent}: no such directory")
    with stores.unit_of_work() as uow:
        s = uow.records
        person = access.get_person(s, email=actor)
        a = reg.get_agreement(s, agreement_id=agreement_id)
        d = s.get(Deal, a.deal_id)
        assert d is not None
        event = EventIn(
            action="agreement.document",
            actor=person.email,
            deal=d.code,
            objects={"agreement": a.id, "organization": a.organization.name, "kind": a.kind},
        )
        roles = access.member_roles(s, deal=d, person=person)
        own = bool(roles) and person.organization_id == a.organization_id
        decision = (
            Decision(True, "metadata", ("may read agreement documents",))
            if own or roles & DOCUMENT_READERS
            else Decision(
                False,
                "none",
                (f"only stewards, security officers, auditors of deal {d.code} "
                 "or the agreement's own organisation may fetch its document",),
            )
        )  # fmt: skip
        enforce(stores, decision, event)
        content = reg.open_document(uow, keyring, agreement=a)
        digest = a.document_sha256 or ""
        audit(
            stores,
            uow,
            replace(event, decision="allow", counts={"bytes": len(content)}),
        )
        result = DocumentOut(agreement=a.id, file=str(out), bytes=len(content), sha256=digest)
    write_private(out, content)
    return result


# -- training ----------------------------------------------------------------------------
def _training_decision(session: Session, *, person: Person) -> Decision:
    """Training records are kept by seller stewards: a steward of any deal may record them."""
    steward = session.scalar(
        select(Membership.id).where(
            Membership.person_id == person.id, Membership.role == MemberRole.SELLER_STEWARD.value
        )
    )
    if steward is not None:
        return Decision(True, "metadata", ("seller steward, records training",))
    return Decision(False, "none", ("only a seller steward of some deal may record training",))


def add_training(
    stores: AppStores,
    *,
    actor: str,
    email: str,
    course: str,
    completed: date,
    expires: date | None = None,
) -> TrainingOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        who = access.get_person(s, email=actor)
        event = EventIn(action="training.add", actor=who.email, objects={"course": course})
        enforce(stores, _training_decision(s, person=who), event)
        person = access.get_person(s, email=email)
        rec = tr.add_training(s, person=person, course=course, completed=completed, expires=expires)
        audit(
            stores,
            uow,
            replace(
                event,
                decision="allow",
                objects={
                    "training": rec.id,
                    "person": person.email,
                    "course": rec.course,
                    "completed": rec.completed.isoformat(),
                    "expires": rec.expires.isoformat() if rec.expires else None,
                },
            ),
        )
        return tr.training_view(rec, at=utcnow())


def import_training(stores: AppStores, *, actor: str, path: Path) -> TrainingImportOut:
    """Import a training CSV whole or not at all; repeated records are skipped and counted."""
    name, data = tr.read_training_csv(path)
    digest = hashlib.sha256(data).hexdigest()
    with stores.unit_of_work() as uow:
        s = uow.records
        who = access.get_person(s, email=actor)
        event = EventIn(action="training.import", actor=who.email, objects={"file_sha256": digest})
        enforce(stores, _training_decision(s, person=who), event)
        rows, count = tr.parse_training_csv(s, file=name, data=data)
        imported = tr.store_training_rows(s, rows=rows, source=f"import {name}")
        out = TrainingImportOut(
            file=name, sha256=digest, rows=count, imported=imported, skipped=count - imported
        )
        audit(
            stores,
            uow,
            replace(
                event,
                decision="allow",
                counts={"rows": count, "imported": imported, "skipped": out.skipped},
            ),
        )
        return out


def list_training(
    stores: AppStores,
    *,
    person: str | None = None,
    course: str | None = None,
    at: datetime | None = None,
) -> list[TrainingOut]:
    when = at or utcnow()
    with stores.records_session() as s:
        who = access.get_person(s, email=person) if person is not None else None
        return [
            tr.training_view(r, at=when) for r in tr.list_training(s, person=who, course=course)
        ]
