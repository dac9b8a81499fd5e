"""Audit helpers for flows: record an event in the use case's transaction; record denials."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision
from dealvault.access.models import Deal, Person
from dealvault.audit.service import EventIn, ensure_checkpoint, record
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Forbidden
from dealvault.flows.context import AppStores
from dealvault.vault import service as vault
from dealvault.vault.models import Dataset


def audit(stores: AppStores, uow: UnitOfWork, event: EventIn) -> int:
    """Append ``event`` in ``uow``: it commits with the change it describes, or not at all."""
    return record(uow.records, stores.audit, event)


def checkpoint(stores: AppStores, uow: UnitOfWork, *, reason: str) -> None:
    """Sign a checkpoint now if this store can sign and the latest one does not already cover
    the log (security-relevant events are anchored by ``record`` itself)."""
    if stores.audit.can_sign:
        ensure_checkpoint(uow.records, stores.audit, reason=reason)


def enforce(stores: AppStores, decision: Decision, event: EventIn) -> None:
    """Raise Forbidden on a denial, after recording it in a transaction of its own.

    The use case's own transaction is rolled back by the raise; the denial must survive it.
    """
    if decision.allowed:
        return
    with stores.unit_of_work() as uow:
        record(
            uow.records,
            stores.audit,
            replace(event, decision="deny", reasons=tuple(decision.reasons), subjects=()),
        )
    decision.enforce()
    raise Forbidden("access denied")  # pragma: no cover - enforce() raised already


def resolve(
    session: Session, *, actor: str, deal: str, dataset: str
) -> tuple[Person, Deal, Dataset]:
    """The acting person, the deal and the dataset a use case names (NotFound otherwise)."""
    d = access.get_deal(session, code=deal)
    return (
        access.get_person(session, email=actor),
        d,
        vault.get_dataset(session, deal=d, name=dataset),
    )
