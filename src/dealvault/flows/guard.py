"""Audit and authorisation helpers for flows: decide, record the decision, record the event."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision, bind_principal, decide
from dealvault.access.models import Deal, Person
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn, ensure_checkpoint, record
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Forbidden, NotFound
from dealvault.flows.context import AppStores

if TYPE_CHECKING:
    from dealvault.vault.models import Dataset


def audit(stores: AppStores, uow: UnitOfWork, event: EventIn) -> int:
    """Append ``event`` in ``uow``: it commits with the change it describes, or not at all.

    Every event names its actor: an event without one is a programming error."""
    if not event.actor:
        raise AssertionError(f"audit event {event.action!r} has no actor")
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
        audit(
            stores,
            uow,
            replace(event, decision="deny", reasons=tuple(decision.reasons), subjects=()),
        )
    decision.enforce()
    raise Forbidden("access denied")  # pragma: no cover - enforce() raised already


def person_of(session: Session, actor: Principal) -> Person:
    """The acting person, bound to how they were authenticated: ``decide`` denies a person
    that was not loaded through here (NotFound for an unknown person)."""
    return bind_principal(access.get_person(session, email=actor.email), actor)


def acting(stores: AppStores, session: Session, principal: Principal, event: EventIn) -> Person:
    """The person behind ``principal``; an unknown person is a recorded denial."""
    try:
        return person_of(session, principal)
    except NotFound:
        enforce(
            stores,
            Decision(False, "none", ("the acting person is not registered in this store",)),
            replace(
                event,
                actor=principal.email,
                authn=principal.authn.value,
                session=principal.session_id,
                client=principal.client,
                device=principal.device,
            ),
        )
        raise  # pragma: no cover - enforce() raised already


def completed(event: EventIn, *, actor: Principal, deal: Deal | None) -> EventIn:
    """``event`` naming its actor, how they were authenticated, their session and client
    address, and the deal."""
    return replace(
        event,
        actor=actor.email,
        authn=actor.authn.value,
        session=actor.session_id,
        client=actor.client,
        device=actor.device,
        deal=event.deal or (deal.code if deal is not None else None),
    )


def authorize(
    stores: AppStores,
    session: Session,
    *,
    actor: Principal,
    action: str,
    event: EventIn,
    deal: Deal | None = None,
    targets_self: bool = False,
) -> tuple[Person, EventIn]:
    """Decide ``action`` by ``actor`` (on ``deal``, or the store) at the one decision point.

    A denial is recorded (in a transaction of its own) and raised as Forbidden. On an allow,
    returns the person and ``event`` completed with actor, authentication and decision: the
    flow records it with the change, in its own transaction.
    """
    event = completed(event, actor=actor, deal=deal)
    person = acting(stores, session, actor, event)
    decision = decide(session, actor=person, deal=deal, action=action, targets_self=targets_self)
    enforce(stores, decision, event)
    return person, replace(event, decision="allow", reasons=decision.reasons[:1])


def resolve(
    session: Session, *, actor: Principal, deal: str, dataset: str
) -> tuple[Person, Deal, Dataset]:
    """The acting person, the deal and the dataset a use case names (NotFound otherwise);
    one round trip when all three exist."""
    from dealvault.vault import service as vault  # the vault (and polars) only where needed
    from dealvault.vault.models import Dataset

    found = session.execute(
        select(Person, Deal, Dataset)
        .select_from(Person)
        .join(Deal, Deal.code == deal)
        .join(Dataset, and_(Dataset.deal_id == Deal.id, Dataset.name == dataset))
        .where(Person.email == actor.email.strip().lower())
    ).first()
    if found is not None:
        return bind_principal(found[0], actor), found[1], found[2]
    d = access.get_deal(session, code=deal)
    return (
        person_of(session, actor),
        d,
        vault.get_dataset(session, deal=d, name=dataset),
    )
