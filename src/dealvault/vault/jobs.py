"""Jobs on a dataset exclude each other: import, receive, shred, key rotation, package build.

Each takes the dataset's job lock (``db.locks``) in its transaction before it reads what it
will change, and keeps it until it commits; a key rotation takes it for each batch. What
was read before the lock is read again after it. A wait longer than the lock timeout fails
with :class:`dealvault.errors.Busy`: nothing changed, the command can be run again.
"""

from __future__ import annotations

from sqlalchemy import select

from dealvault.db.locks import take_job_lock
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, NotFound
from dealvault.vault.models import Dataset, KeyRotation


def lock_dataset(uow: UnitOfWork, *, deal_id: int, name: str, job: str) -> Dataset | None:
    """Hold dataset ``name`` of deal ``deal_id`` for ``job`` until the transaction ends (it
    need not exist yet: an import creating it holds the name); returns it as read under the
    lock, or None."""
    take_job_lock(
        uow,
        scope=f"dataset:{deal_id}:{name}",
        busy=(
            f"dataset {name!r} is held by another job (an import, receive, shred, key "
            f"rotation or package build); nothing was changed: run the {job} again when "
            "that job has finished"
        ),
    )
    return uow.records.scalar(
        select(Dataset).where(Dataset.deal_id == deal_id, Dataset.name == name)
    )


def lock(uow: UnitOfWork, dataset: Dataset, *, job: str) -> Dataset:
    """:func:`lock_dataset` for a dataset in hand; the same object, read again."""
    deal_id, name = dataset.deal_id, dataset.name
    held = lock_dataset(uow, deal_id=deal_id, name=name, job=job)
    if held is None:
        raise NotFound(f"dataset {name!r} no longer exists")
    return held


def lock_by_id(uow: UnitOfWork, dataset_id: int, *, job: str) -> Dataset:
    ds = uow.records.get(Dataset, dataset_id)
    if ds is None:
        raise NotFound(f"dataset {dataset_id} not found")
    return lock(uow, ds, job=job)


def running_rotation(uow: UnitOfWork, dataset: Dataset) -> KeyRotation | None:
    return uow.records.scalar(
        select(KeyRotation).where(
            KeyRotation.kind == "data",
            KeyRotation.dataset_id == dataset.id,
            KeyRotation.status == "running",
        )
    )


def refuse_during_rotation(uow: UnitOfWork, dataset: Dataset, *, job: str) -> None:
    """New customers would get keys of the version the rotation is retiring: no import or
    receive until it has finished (a rotation resumes where it stopped)."""
    if running_rotation(uow, dataset) is not None:
        raise Conflict(
            f"a data-key rotation of dataset {dataset.name!r} is under way; finish it first "
            f"(`dealvault keys rotate --deal … --data …` resumes it), then run the {job} again"
        )
