"""Crypto-shredding (NIST SP 800-88 cryptographic erase) of one customer or a whole dataset."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from dealvault.access.models import Person
from dealvault.crypto.keyring import KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.errors import NotFound
from dealvault.vault import blinds
from dealvault.vault.jobs import lock
from dealvault.vault.models import (
    CATEGORY_COLUMNS,
    BlindIndex,
    ChildRecord,
    CustomerRecord,
    Dataset,
    KeyRotation,
    ShredRecord,
)

METHOD = "cryptographic erase (NIST SP 800-88 Rev. 1): key destroyed, ciphertext discarded"
_CLEARED = {c: None for c in CATEGORY_COLUMNS}


def shred_customer(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    dataset: Dataset,
    subject_id: str,
    actor: Person | None,
    reason: str | None,
) -> ShredRecord:
    """Destroy one customer's key (every version) and drop its ciphertexts. Idempotent.

    Holds the dataset's job lock first: no key rotation batch, import or receive is half-way
    through this customer while its keys go (``vault.jobs``)."""
    dataset = lock(uow, dataset, job="shred")
    rec = uow.records.scalar(
        select(CustomerRecord).where(
            CustomerRecord.dataset_id == dataset.id, CustomerRecord.subject_id == subject_id
        )
    )
    if rec is None:
        raise NotFound("no customer with this subject id in the dataset")
    destroyed = keyring.destroy_customer_keys(uow.keys, dataset_id=dataset.id, record_ids=[rec.id])
    uow.records.execute(
        update(CustomerRecord)
        .where(CustomerRecord.id == rec.id)
        .values(status="shredded", **_CLEARED)
    )
    uow.records.execute(
        update(ChildRecord).where(ChildRecord.record_id == rec.id).values(envelope=None)
    )
    # Blind indexes go too: after a shred the customer cannot even be found by phone or ID.
    blinds.delete_for_records(uow.records, dataset_id=dataset.id, record_ids=[rec.id])
    entry = ShredRecord(
        dataset_id=dataset.id,
        scope="customer",
        subject_id=subject_id,
        customers=1,
        keys_destroyed=destroyed,
        method=METHOD,
        reason=reason,
        actor_id=actor.id if actor else None,
    )
    uow.records.add(entry)
    uow.records.flush()
    return entry


def shred_dataset(
    uow: UnitOfWork, keyring: KeyRing, *, dataset: Dataset, actor: Person | None, reason: str | None
) -> ShredRecord:
    """Destroy every key of a dataset (data, index, customer keys): all of it is unreadable.
    A key rotation under way on it is stopped (nothing is left to rotate)."""
    dataset = lock(uow, dataset, job="shred")
    destroyed = keyring.destroy_dataset(uow.keys, dataset_id=dataset.id)
    result = uow.records.execute(
        update(CustomerRecord)
        .where(CustomerRecord.dataset_id == dataset.id, CustomerRecord.status != "shredded")
        .values(status="shredded", **_CLEARED)
    )
    customers = int(getattr(result, "rowcount", 0) or 0)
    uow.records.execute(
        update(ChildRecord)
        .where(
            ChildRecord.record_id.in_(
                select(CustomerRecord.id).where(CustomerRecord.dataset_id == dataset.id)
            )
        )
        .values(envelope=None)
    )
    uow.records.execute(delete(BlindIndex).where(BlindIndex.dataset_id == dataset.id))
    uow.records.execute(
        update(KeyRotation)
        .where(KeyRotation.dataset_id == dataset.id, KeyRotation.status == "running")
        .values(status="stopped")
    )
    dataset.status = "shredded"
    entry = ShredRecord(
        dataset_id=dataset.id,
        scope="dataset",
        subject_id=None,
        customers=customers,
        keys_destroyed=destroyed,
        method=METHOD,
        reason=reason,
        actor_id=actor.id if actor else None,
    )
    uow.records.add(entry)
    uow.records.flush()
    return entry
