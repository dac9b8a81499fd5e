"""Click-through acceptance of an agreement: a member of its organisation accepts the attached
document online, pinned by its SHA-256; the acceptance is kept as their signature (name and
organisation as they stood, the instant in UTC, the session's client address, the SHA-256).
For a clean-team agreement it makes the person an individual signer, so coverage works as
for the signers the steward registers."""

from __future__ import annotations

import hmac
import re
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.agreements import (
    CLICK,
    EXPIRED,
    IN_FORCE,
    NOT_YET_EFFECTIVE,
    REVOKED,
    AgreementHead,
    agreement_status,
    head_fields,
    utc_day,
)
from dealvault.access.governance_models import Agreement, AgreementSigner
from dealvault.access.models import Deal, Person
from dealvault.errors import Conflict, Invalid

CLICK_METHOD = "click"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class MyAgreementOut(AgreementHead):
    """A click-through agreement of one's organisation, as its member sees it."""

    document_name: str | None
    document_sha256: str | None
    #: accepted by you (then when), or awaiting your acceptance
    accepted: bool
    accepted_at: datetime | None
    awaiting: bool


class AcceptanceOut(BaseModel):
    """One acceptance, as recorded in the registry."""

    agreement: int
    deal: str
    kind: str
    person: str
    name: str
    organization: str
    accepted_at: datetime
    signed_on: date
    client: str | None
    document_sha256: str


def sha256_given(value: str) -> str:
    """A SHA-256 as 64 hex digits (either case), normalised to lower case."""
    digest = value.strip().lower()
    if SHA256_HEX.fullmatch(digest) is None:
        raise Invalid("the document's SHA-256 must be 64 hexadecimal digits")
    return digest


def signature_of(agreement: Agreement, person: Person) -> AgreementSigner | None:
    return next((s for s in agreement.signers if s.person_id == person.id), None)


def click_agreements(session: Session, *, deal: Deal, organization_id: int) -> list[Agreement]:
    """The deal's click-through agreements of one organisation (oldest first)."""
    q = select(Agreement).where(
        Agreement.deal_id == deal.id,
        Agreement.organization_id == organization_id,
        Agreement.acceptance == CLICK,
    )
    return list(session.scalars(q.order_by(Agreement.id)))


def my_view(agreement: Agreement, *, deal: Deal, person: Person, at: datetime) -> MyAgreementOut:
    mine = signature_of(agreement, person)
    head = head_fields(agreement, deal=deal.code, at=at)
    return MyAgreementOut(
        **head,
        document_name=agreement.document_name,
        document_sha256=agreement.document_sha256,
        accepted=mine is not None,
        accepted_at=None if mine is None else mine.accepted_at,
        awaiting=mine is None and head["status"] in (IN_FORCE, NOT_YET_EFFECTIVE),
    )


def acceptance_problem(agreement: Agreement, *, at: datetime) -> str | None:
    """Why nobody may accept ``agreement`` now (None: it may be accepted)."""
    if agreement.acceptance != CLICK:
        return f"agreement #{agreement.id} is signed offline: there is nothing to accept online"
    status = agreement_status(agreement, at=at)
    if status == REVOKED:
        return f"agreement #{agreement.id} is revoked: it can no longer be accepted"
    if status == EXPIRED:
        return f"agreement #{agreement.id} has expired: it can no longer be accepted"
    if agreement.document_sha256 is None:
        return f"agreement #{agreement.id} has no document to accept"
    return None


def record_acceptance(
    session: Session,
    *,
    agreement: Agreement,
    person: Person,
    document_sha256: str,
    client: str | None,
    at: datetime,
) -> AgreementSigner:
    """Record ``person``'s acceptance of ``agreement``'s current document (Conflict when it
    may not be accepted, when ``document_sha256`` is not that document's, or a second time)."""
    digest = sha256_given(document_sha256)
    problem = acceptance_problem(agreement, at=at)
    if problem is not None:
        raise Conflict(problem)
    current = agreement.document_sha256 or ""
    if not hmac.compare_digest(digest, current):
        raise Conflict(
            f"the SHA-256 given is not that of agreement #{agreement.id}'s document: "
            "download the document again and accept what you read"
        )
    if signature_of(agreement, person) is not None:
        raise Conflict(f"agreement #{agreement.id} was already accepted by you")
    signer = AgreementSigner(
        person_id=person.id,
        signed_on=utc_day(at),
        method=CLICK_METHOD,
        accepted_at=at,
        client=client[:64] if client else None,
        document_sha256=current,
        name=person.name,
        organization=person.organization.name,
    )
    agreement.signers.append(signer)
    session.flush()
    return signer


def acceptance_view(signer: AgreementSigner, *, deal: Deal, person: Person) -> AcceptanceOut:
    agreement = signer.agreement
    assert signer.accepted_at is not None and signer.document_sha256 is not None
    return AcceptanceOut(
        agreement=agreement.id,
        deal=deal.code,
        kind=agreement.kind,
        person=person.email,
        name=signer.name or person.name,
        organization=signer.organization or agreement.organization.name,
        accepted_at=signer.accepted_at,
        signed_on=signer.signed_on,
        client=signer.client,
        document_sha256=signer.document_sha256,
    )
