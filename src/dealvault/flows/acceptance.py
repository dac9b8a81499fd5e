"""A party's side of the agreements registry: the click-through agreements of one's own
organisation (``agreement.review``: list them, download the document asked to be accepted)
and their acceptance (``agreement.accept``), each one transaction with its audit event.

An agreement of another organisation is not found (404), and the attempt is recorded as a
denial: nobody learns that it exists."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NoReturn

from sqlalchemy.orm import Session

from dealvault.access import acceptance as acc
from dealvault.access import agreements as reg
from dealvault.access import service as access
from dealvault.access.acceptance import AcceptanceOut, MyAgreementOut
from dealvault.access.decision import Decision
from dealvault.access.governance_models import Agreement
from dealvault.access.models import Deal, Person
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import NotFound
from dealvault.flows.context import AppStores
from dealvault.flows.guard import acting, audit, authorize, completed, enforce

#: the reason recorded when a member asks for another organisation's agreement
OTHER_ORGANISATION = "the agreement binds another organisation"


@dataclass(frozen=True)
class ReviewedDocument:
    """The document a member is asked to accept: checked against its SHA-256."""

    agreement: int
    name: str | None
    sha256: str
    content: bytes


def _missing(agreement_id: int) -> str:
    return f"agreement #{agreement_id} not found"


def _hidden(stores: AppStores, event: EventIn, *, agreement_id: int) -> NoReturn:
    """Record the denial in a transaction of its own, then answer as for no agreement."""
    with stores.unit_of_work() as uow:
        audit(
            stores, uow,
            replace(event, decision="deny", reasons=(OTHER_ORGANISATION,), subjects=()),
        )  # fmt: skip
    raise NotFound(_missing(agreement_id))


def _own_agreement(
    stores: AppStores,
    session: Session,
    *,
    actor: Principal,
    agreement_id: int,
    action: str,
) -> tuple[Agreement, Deal, Person, EventIn]:
    """The agreement, its deal, the acting person and the allowed event (named ``action``):
    an agreement of the person's own organisation (else not found, recorded) and ``action``
    decided on its deal."""
    agreement = session.get(Agreement, agreement_id)
    deal = None if agreement is None else session.get(Deal, agreement.deal_id)
    if agreement is None or deal is None:
        raise NotFound(_missing(agreement_id))
    base = EventIn(action=action, objects={"agreement": agreement.id, "kind": agreement.kind})
    me = acting(stores, session, actor, completed(base, actor=actor, deal=deal))
    if me.organization_id != agreement.organization_id:
        _hidden(stores, completed(base, actor=actor, deal=deal), agreement_id=agreement_id)
    person, allowed = authorize(stores, session, actor=actor, action=action, deal=deal, event=base)
    return agreement, deal, person, allowed


def pending(stores: AppStores, *, actor: Principal, deal: str) -> list[MyAgreementOut]:
    """The deal's click-through agreements of the actor's organisation: those awaiting the
    actor's acceptance and those the actor accepted."""
    at = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        person, event = authorize(
            stores, s, actor=actor, action="agreement.review", deal=d,
            event=EventIn(action="agreement.pending"),
        )  # fmt: skip
        rows = acc.click_agreements(s, deal=d, organization_id=person.organization_id)
        out = [acc.my_view(a, deal=d, person=person, at=at) for a in rows]
        out = [o for o in out if o.accepted or o.awaiting]
        counts = {"agreements": len(out), "awaiting": sum(o.awaiting for o in out)}
        audit(stores, uow, replace(event, counts=counts))
        return out


def review_document(
    stores: AppStores, keyring: KeyRing, *, actor: Principal, agreement_id: int
) -> ReviewedDocument:
    """The document of a click-through agreement of the actor's organisation, decrypted and
    checked against its SHA-256 (the one the acceptance must confirm)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        a, _, _, event = _own_agreement(
            stores, s, actor=actor, agreement_id=agreement_id, action="agreement.review"
        )
        if a.acceptance != reg.CLICK:
            reason = f"agreement #{a.id} is signed offline: its document stays with the steward"
            enforce(stores, Decision(False, "none", (reason,)), event)
        content = reg.open_document(uow, keyring, agreement=a)
        digest = a.document_sha256 or ""
        audit(
            stores, uow,
            replace(event, objects={**event.objects, "document_sha256": digest},
                    counts={"bytes": len(content)}),
        )  # fmt: skip
        return ReviewedDocument(
            agreement=a.id, name=a.document_name, sha256=digest, content=content
        )


def accept(
    stores: AppStores, *, actor: Principal, agreement_id: int, document_sha256: str
) -> AcceptanceOut:
    """Accept a click-through agreement of the actor's organisation, confirming the SHA-256
    of the document read. Recorded as the actor's signature, with the session's client
    address (never one the request names)."""
    digest = acc.sha256_given(document_sha256)
    with stores.unit_of_work() as uow:
        s = uow.records
        a, d, person, event = _own_agreement(
            stores, s, actor=actor, agreement_id=agreement_id, action="agreement.accept"
        )
        signer = acc.record_acceptance(
            s, agreement=a, person=person, document_sha256=digest, client=actor.client,
            at=utcnow(),
        )  # fmt: skip
        audit(stores, uow, replace(event, objects={**event.objects, "document_sha256": digest}))
        return acc.acceptance_view(signer, deal=d, person=person)
