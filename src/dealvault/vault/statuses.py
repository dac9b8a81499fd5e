"""A customer's status in a dataset (active, opted out, objecting), set by a steward or by the
objections a notice brought back: the one service both use (the caller decides and audits)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import select

from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.vault.jobs import lock
from dealvault.vault.models import CustomerRecord, Dataset

#: Statuses a steward may set; ``shredded`` comes only from a shred.
SETTABLE_STATUSES: Final = ("active", "opted_out", "objecting")
_CHUNK: Final = 5_000


def set_statuses(
    uow: UnitOfWork,
    *,
    dataset: Dataset,
    subject_ids: Sequence[str],
    status: str,
    job: str = "status change",
    skip_shredded: bool = False,
) -> dict[str, str]:
    """Set ``status`` on the customers ``subject_ids`` of ``dataset`` under the dataset's job
    lock (not while a build or rotation reads it). A subject id not in the dataset is refused
    (NotFound); a shredded customer is refused (Conflict) or, with ``skip_shredded``, left as
    it is. Returns each listed customer's previous status (shredded ones included)."""
    if status not in SETTABLE_STATUSES:
        raise Invalid(f"status must be one of {', '.join(SETTABLE_STATUSES)}")
    ds = lock(uow, dataset, job=job)
    wanted = list(dict.fromkeys(subject_ids))
    records: dict[str, CustomerRecord] = {}
    for i in range(0, len(wanted), _CHUNK):
        for r in uow.records.scalars(
            select(CustomerRecord).where(
                CustomerRecord.dataset_id == ds.id,
                CustomerRecord.subject_id.in_(wanted[i : i + _CHUNK]),
            )
        ):
            records[r.subject_id] = r
    missing = [s for s in wanted if s not in records]
    if missing:
        first = missing[0] if len(missing) == 1 else f"{missing[0]} (and {len(missing) - 1} more)"
        raise NotFound(f"no customer {first} in dataset {ds.name!r}")
    previous: dict[str, str] = {}
    for subject in wanted:
        record = records[subject]
        previous[subject] = record.status
        if record.status == "shredded":
            if skip_shredded:
                continue
            raise Conflict(f"customer {subject} is shredded; its status cannot change")
        record.status = status
    uow.records.flush()
    return previous
