"""Use cases of agreements and training records, each one transaction with its audit event."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel

from dealvault.access import agreements as reg
from dealvault.access import service as access
from dealvault.access import training as tr
from dealvault.access.agreements import AgreementOut, SignerIn
from dealvault.access.models import Deal
from dealvault.access.principal import Principal
from dealvault.access.training import TrainingImportOut, TrainingOut
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid
from dealvault.files import check_output_file, write_private
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, person_of


class DocumentOut(BaseModel):
    agreement: int
    file: str
    bytes: int
    sha256: str


# -- agreements --------------------------------------------------------------------------
def add_agreement(
    stores: AppStores,
    keyring: KeyRing | None = None,
    *,
    actor: Principal,
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
    acceptance: str = reg.SIGNED,
) -> AgreementOut:
    """Register an agreement (and encrypt its signed document); seller stewards only, and
    never an agreement of the steward's own organisation or naming the steward as a signer.
    A ``click`` agreement (its parties accept it online) needs its document: what is
    accepted is pinned by its SHA-256."""
    if acceptance == reg.CLICK and document is None:
        raise Invalid(
            "a click-through agreement needs its document (--document): its parties accept "
            "that document, pinned by its SHA-256"
        )
    doc = reg.read_document(document) if document is not None else None
    if doc is not None and keyring is None:
        raise Invalid("attaching a document needs the master key")
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        org = access.get_organization(s, name=organization)
        me = person_of(s, actor)
        person, event = authorize(
            stores,
            s,
            actor=actor,
            action="agreement.add",
            deal=d,
            targets_self=org.id == me.organization_id
            or any(x.email.strip().lower() == actor.email for x in signers),
            event=EventIn(
                action="agreement.add",
                objects={"organization": org.name, "kind": kind, "acceptance": acceptance},
            ),
        )
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
            acceptance=acceptance,
            actor=person,
        )
        if doc is not None:
            assert keyring is not None
            reg.attach_document(uow, keyring, agreement=a, name=doc[0], content=doc[1])
        audit(
            stores,
            uow,
            replace(
                event,
                objects={
                    "agreement": a.id,
                    "organization": org.name,
                    "kind": a.kind,
                    "datasets": a.datasets,
                    "categories": a.categories,
                    "effective": a.effective.isoformat(),
                    "expires": a.expires.isoformat() if a.expires else None,
                    "document_sha256": a.document_sha256,
                    "acceptance": a.acceptance,
                },
                counts={"signers": len(a.signers)},
            ),
        )
        return reg.agreement_view(s, a, at=utcnow())


def revoke_agreement(
    stores: AppStores, *, actor: Principal, agreement_id: int, reason: str
) -> AgreementOut:
    """Revoke an agreement with immediate effect; seller stewards of its deal only."""
    with stores.unit_of_work() as uow:
        s = uow.records
        a = reg.get_agreement(s, agreement_id=agreement_id)
        d = s.get(Deal, a.deal_id)
        assert d is not None
        person, event = authorize(
            stores,
            s,
            actor=actor,
            action="agreement.revoke",
            deal=d,
            event=EventIn(
                action="agreement.revoke",
                purpose=reason,
                objects={"agreement": a.id, "organization": a.organization.name, "kind": a.kind},
            ),
        )
        reg.revoke_agreement(s, agreement=a, reason=reason, actor=person)
        audit(stores, uow, event)
        return reg.agreement_view(s, a, at=utcnow())


def list_agreements(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str,
    organization: str | None = None,
    in_force: bool = False,
    at: datetime | None = None,
) -> list[AgreementOut]:
    """A deal's agreements (metadata only), optionally of one organisation / in force now."""
    when = at or utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="agreement.read",
            deal=d,
            event=EventIn(action="agreement.list"),
        )
        org = access.get_organization(s, name=organization) if organization is not None else None
        rows = reg.list_agreements(
            s, deal=d, organization=org, in_force_at=when if in_force else None
        )
        out = [reg.agreement_view(s, a, at=when) for a in rows]
        audit(stores, uow, event)
        return out


def show_agreement(
    stores: AppStores, *, actor: Principal, agreement_id: int, at: datetime | None = None
) -> AgreementOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        a = reg.get_agreement(s, agreement_id=agreement_id)
        d = s.get(Deal, a.deal_id)
        assert d is not None
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="agreement.read",
            deal=d,
            event=EventIn(action="agreement.show", objects={"agreement": a.id}),
        )
        out = reg.agreement_view(s, a, at=at or utcnow())
        audit(stores, uow, event)
        return out


def export_document(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    agreement_id: int,
    out: Path,
    overwrite: bool = False,
) -> DocumentOut:
    """Write the decrypted signed document to ``out`` after checking its SHA-256.

    Allowed to the roles of the deal's ``agreement.read`` action. Recorded as
    ``agreement.document``.
    """
    if out.is_dir():
        raise Invalid(f"{out.name}: is a directory")
    if out.exists() and not overwrite:
        raise Conflict(f"{out.name}: file exists (pass --force to overwrite)")
    if not out.parent.is_dir():
        raise Invalid(f"{out.parent}: no such directory")
    check_output_file(out, what="document")  # (what is left: a directory not writable)
    with stores.unit_of_work() as uow:
        s = uow.records
        a = reg.get_agreement(s, agreement_id=agreement_id)
        d = s.get(Deal, a.deal_id)
        assert d is not None
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="agreement.read",
            deal=d,
            event=EventIn(
                action="agreement.document",
                objects={"agreement": a.id, "organization": a.organization.name, "kind": a.kind},
            ),
        )
        content = reg.open_document(uow, keyring, agreement=a)
        digest = a.document_sha256 or ""
        audit(
            stores,
            uow,
            replace(event, counts={"bytes": len(content)}),
        )
        result = DocumentOut(agreement=a.id, file=str(out), bytes=len(content), sha256=digest)
    write_private(out, content)
    return result


# -- training ----------------------------------------------------------------------------
def add_training(
    stores: AppStores,
    *,
    actor: Principal,
    email: str,
    course: str,
    completed: date,
    expires: date | None = None,
) -> TrainingOut:
    """Record another person's training (training administrators; never one's own)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        person = access.get_person(s, email=email)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="training.record",
            targets_self=person.email == actor.email,
            event=EventIn(action="training.add", objects={"course": course}),
        )
        rec = tr.add_training(s, person=person, course=course, completed=completed, expires=expires)
        audit(
            stores,
            uow,
            replace(
                event,
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


def import_training(stores: AppStores, *, actor: Principal, path: Path) -> TrainingImportOut:
    """Import a training CSV whole or not at all; repeated records are skipped and counted.
    Training administrators only; a file with a record of the importer is refused whole."""
    name, data = tr.read_training_csv(path)
    digest = hashlib.sha256(data).hexdigest()
    with stores.unit_of_work() as uow:
        s = uow.records
        base = EventIn(action="training.import", objects={"file_sha256": digest})
        who, event = authorize(stores, s, actor=actor, action="training.record", event=base)
        rows, count = tr.parse_training_csv(s, file=name, data=data)
        own = [r.row for r in rows if r.person_id == who.id]
        if own:
            authorize(
                stores,
                s,
                actor=actor,
                action="training.record",
                targets_self=True,
                event=replace(base, objects={**base.objects, "row": own[0]}),
            )
        imported = tr.store_training_rows(s, rows=rows, source=f"import {name}")
        out = TrainingImportOut(
            file=name, sha256=digest, rows=count, imported=imported, skipped=count - imported
        )
        audit(
            stores,
            uow,
            replace(
                event,
                counts={"rows": count, "imported": imported, "skipped": out.skipped},
            ),
        )
        return out


def list_training(
    stores: AppStores,
    *,
    actor: Principal,
    person: str | None = None,
    course: str | None = None,
    at: datetime | None = None,
) -> list[TrainingOut]:
    """Training records (training administrators and operators)."""
    when = at or utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="training.read",
            event=EventIn(action="training.list", objects={"course": course}),
        )
        who = access.get_person(s, email=person) if person is not None else None
        out = [tr.training_view(r, at=when) for r in tr.list_training(s, person=who, course=course)]
        audit(stores, uow, event)
        return out
