"""The buyer's side of a transfer package at the server: the packages addressed to one's
organisation, and a package's files (age-encrypted records, signed manifest) as the tar
``package verify`` and ``package receive`` read. The recipient organisation's receivers and
the seller's stewards only (``package.inbox``, ``package.fetch``); each is recorded."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision
from dealvault.access.models import Deal, Person
from dealvault.access.principal import Principal
from dealvault.access.stages import MemberRole
from dealvault.audit.service import EventIn
from dealvault.errors import NotFound
from dealvault.files import open_private
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, enforce
from dealvault.flows.reviews import ReviewOut, reviews_of
from dealvault.flows.transfer import LedgerEntry, ledger_view
from dealvault.transfer.delivery_check import Ledgered, SealedCheck, sealed_checks
from dealvault.transfer.models import TransferPackage
from dealvault.transfer.package import write_tar

#: what a recipient that is not the package's is told
OTHER_RECIPIENT = "the transfer package is addressed to another organisation"


def _steward(session: Session, *, deal: Deal, person: Person) -> bool:
    return MemberRole.SELLER_STEWARD in access.member_roles(session, deal=deal, person=person)


def _entry(session: Session, row: TransferPackage) -> LedgerEntry:
    """The ledger row without the server's file location."""
    out = ledger_view(session, row)
    return out.model_copy(update={"path": Path(row.path).name})


def inbox(stores: AppStores, *, actor: Principal, deal: str) -> list[LedgerEntry]:
    """The deal's packages addressed to the actor's organisation (a seller steward: all)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        person, event = authorize(
            stores, s, actor=actor, action="package.inbox", deal=d,
            event=EventIn(action="package.inbox"),
        )  # fmt: skip
        q = select(TransferPackage).where(TransferPackage.deal_id == d.id)
        if not _steward(s, deal=d, person=person):
            q = q.where(TransferPackage.recipient_id == person.organization_id)
        out = [_entry(s, row) for row in s.scalars(q.order_by(TransferPackage.id))]
        audit(stores, uow, replace(event, counts={"packages": len(out)}))
        return out


def fetch(stores: AppStores, *, actor: Principal, package_id: int, out: Path) -> LedgerEntry:
    """Write package ``package_id`` to ``out`` as a tar (0600), for a receiver of its recipient
    organisation or a seller steward; recorded with the manifest's digest. A receiver of
    another organisation is refused (and the refusal recorded)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _allowed(stores, s, actor=actor, package_id=package_id, action="package.fetch")
        source = Path(row.path)
        if not source.exists():
            raise NotFound(f"the files of transfer package {package_id} are not at the server")
        with open_private(out, "wb") as fh:
            if source.is_dir():
                write_tar(source, fh)
            else:
                with source.open("rb") as src:
                    shutil.copyfileobj(src, fh, 1 << 20)
        entry = _entry(s, row)
        audit(
            stores,
            uow,
            replace(
                event,
                purpose=row.purpose,
                objects={"package": row.id, "manifest_sha256": row.manifest_sha256},
                counts={"customers": row.customers, "records": row.records},
            ),
        )
        return entry


class DeliveryOut(BaseModel):
    """A package as its recipient sees it at the server: the ledger row, the checks the server
    can make without the recipient's key, the key to pin when verifying offline, and the
    seller's post-transfer reviews."""

    package: LedgerEntry
    checks: list[SealedCheck]
    ok: bool
    #: the seller's log key that signed the manifest (pin it: ``--verifier-key``)
    verifier_key: str | None
    signer: str | None
    fingerprint: str | None
    #: SHA-256 fingerprints of the age keys the package is encrypted to
    recipients: list[str]
    reviews: list[ReviewOut]


def inspect(stores: AppStores, *, actor: Principal, package_id: int) -> DeliveryOut:
    """Check package ``package_id`` at the server for a receiver of its recipient organisation
    or a seller steward (as ``fetch`` decides): signature, manifest, files, root and scope
    against the ledger; recorded with the result. The files are read outside the
    transaction."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _allowed(stores, s, actor=actor, package_id=package_id, action="package.check")
        entry = _entry(s, row)
        source = Path(row.path)
        ledger = Ledgered(
            manifest_sha256=row.manifest_sha256,
            merkle_root=row.merkle_root,
            recipient=entry.recipient,
            customers=row.customers,
            records=row.records,
        )
        reviewed = reviews_of(s, package_id=row.id)
    vkey = stores.audit.verifier
    key = None if vkey is None else vkey.key_string()
    report = sealed_checks(source, verifier_key=key, ledger=ledger)
    with stores.unit_of_work() as uow:
        audit(
            stores,
            uow,
            replace(
                event,
                objects={
                    "package": row.id,
                    "manifest_sha256": row.manifest_sha256,
                    "result": "verified" if report.ok else "failed",
                },
                counts={"checks": len(report.checks),
                        "failed": sum(not c.ok for c in report.checks)},
            ),
        )  # fmt: skip
    return DeliveryOut(
        package=entry,
        checks=report.checks,
        ok=report.ok,
        verifier_key=key,
        signer=report.signer,
        fingerprint=report.fingerprint,
        recipients=report.recipients,
        reviews=reviewed,
    )


def _allowed(
    stores: AppStores, s: Session, *, actor: Principal, package_id: int, action: str
) -> tuple[TransferPackage, EventIn]:
    """The package, for a receiver of its recipient organisation or a seller steward
    (``package.fetch``); anyone else is refused and the refusal recorded."""
    row = s.get(TransferPackage, package_id)
    deal = None if row is None else s.get(Deal, row.deal_id)
    if row is None or deal is None:
        raise NotFound(f"transfer package {package_id} not found")
    person, event = authorize(
        stores, s, actor=actor, action="package.fetch", deal=deal,
        event=EventIn(action=action, objects={"package": row.id}),
    )  # fmt: skip
    if person.organization_id != row.recipient_id and not _steward(s, deal=deal, person=person):
        enforce(stores, Decision(False, "none", (OTHER_RECIPIENT,)), event)
    return row, event
