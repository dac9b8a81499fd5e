"""The agreements registry: scope, signers, dates, revocation and the encrypted signed document."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from dealvault.access.governance_models import Agreement, AgreementSigner
from dealvault.access.models import Deal, Organization, Person
from dealvault.access.service import get_person, party_of
from dealvault.crypto import envelope as env
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.db.memo import recall
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, IntegrityError, Invalid, NotFound
from dealvault.files import file_problem
from dealvault.ingest.fields import Category

AGREEMENT_KINDS = ("nda", "clean_team", "transfer", "dpa")
KIND_LABELS = {
    "nda": "NDA",
    "clean_team": "clean-team agreement",
    "transfer": "transfer agreement",
    "dpa": "DPA",
}
ALL = "*"
CATEGORIES = tuple(c.value for c in Category)
#: The global document key is a "dataset key" of the reserved dataset id 0, so master-key
#: rotation rewraps it with the others.
DOCUMENT_KEY_DATASET_ID = 0
DOCUMENT_KEY_PURPOSE = "document"
DOCUMENT_KEY_VERSION = 1
DOCUMENT_KEY_ID = "document"
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

IN_FORCE = "in_force"
EXPIRED = "expired"
REVOKED = "revoked"
NOT_YET_EFFECTIVE = "not_yet_effective"

#: how an agreement's parties sign: offline (registered with its signers) or online
SIGNED = "signed"
CLICK = "click"
ACCEPTANCE_MODES = (SIGNED, CLICK)


@dataclass(frozen=True)
class SignerIn:
    """One individual signer: an account's e-mail and the day they signed (default: effective)."""

    email: str
    signed_on: date | None = None


class SignerOut(BaseModel):
    person: str
    signed_on: date
    method: str = "offline"  # offline | click
    accepted_at: datetime | None = None
    client: str | None = None
    document_sha256: str | None = None


class AgreementHead(BaseModel):
    """What every view of an agreement shows first."""

    id: int
    deal: str
    organization: str
    kind: str
    title: str
    datasets: list[str]
    categories: list[str]
    effective: date
    expires: date | None
    status: str


class AgreementOut(AgreementHead):
    acceptance: str = SIGNED
    signers: list[SignerOut]
    document_name: str | None
    document_sha256: str | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None


# -- time and scope ----------------------------------------------------------------------
def utc_day(at: datetime) -> date:
    """The UTC calendar day of an aware instant (agreement dates are UTC days, inclusive)."""
    if at.tzinfo is None:
        raise Invalid("a point in time must be timezone-aware (UTC)")
    return at.astimezone(UTC).date()


def agreement_status(agreement: Agreement, *, at: datetime) -> str:
    """``in_force``, ``expired``, ``revoked`` or ``not_yet_effective`` at instant ``at``."""
    day = utc_day(at)
    if agreement.revoked_at is not None and agreement.revoked_at <= at:
        return REVOKED
    if day < agreement.effective:
        return NOT_YET_EFFECTIVE
    if agreement.expires is not None and day > agreement.expires:
        return EXPIRED
    return IN_FORCE


def scope_items(text: str) -> list[str]:
    return [x for x in (p.strip() for p in text.split(",")) if x]


def _scope(values: Sequence[str], *, what: str, allowed: Sequence[str] | None) -> str:
    """Normalise a scope given as repeated and/or comma-separated values; empty means all."""
    items = list(dict.fromkeys(x for v in values for x in scope_items(v)))
    if not items or items == [ALL]:
        return ALL
    if ALL in items:
        raise Invalid(f"{what} scope: '*' (all) cannot be combined with named {what}s")
    for item in items:
        if allowed is not None and item not in allowed:
            raise Invalid(f"unknown {what} {item!r}; choose from: {', '.join(allowed)} or '*'")
        if len(item) > 200:
            raise Invalid(f"{what} name longer than 200 characters")
    return ",".join(items)


def agreement_covers(
    agreement: Agreement,
    *,
    dataset: str,
    categories: Sequence[str],
    person: Person | None = None,
    at: datetime | None = None,
) -> bool:
    """Whether the scope covers ``dataset`` and every category asked for.

    A clean-team agreement covers only its individual signers (``person`` must be one; with
    ``at`` given, one who had signed by that day). A click-through agreement of another kind
    covers once someone of its organisation accepted it (by that day). The agreement's dates
    are not checked here: see :func:`agreements_in_force`.
    """
    if not _scope_covers(agreement, dataset=dataset, categories=categories):
        return False
    day = utc_day(at) if at is not None else None
    signed = [s for s in agreement.signers if day is None or s.signed_on <= day]
    if agreement.kind == "clean_team":
        return person is not None and any(s.person_id == person.id for s in signed)
    return agreement.acceptance != CLICK or bool(signed)


def _scope_covers(agreement: Agreement, *, dataset: str, categories: Sequence[str]) -> bool:
    if agreement.datasets != ALL and dataset not in scope_items(agreement.datasets):
        return False
    return agreement.categories == ALL or set(categories) <= set(scope_items(agreement.categories))


def agreements_in_force(
    session: Session,
    *,
    deal: Deal,
    organization_id: int,
    at: datetime,
    kinds: Sequence[str] | None = None,
) -> list[Agreement]:
    """An organisation's agreements in a deal that are in force at ``at`` (oldest first)."""
    return [
        a
        for a in _agreements(session, deal=deal, organization_id=organization_id, kinds=kinds)
        if agreement_status(a, at=at) == IN_FORCE
    ]


def _agreements(
    session: Session, *, deal: Deal, organization_id: int, kinds: Sequence[str] | None
) -> list[Agreement]:
    def load() -> tuple[Agreement, ...]:
        q = select(Agreement).where(
            Agreement.deal_id == deal.id, Agreement.organization_id == organization_id
        )
        if kinds is not None:
            q = q.where(Agreement.kind.in_(list(kinds)))
        q = q.options(joinedload(Agreement.signers)).order_by(Agreement.id)
        return tuple(session.scalars(q).unique())

    key = ("agreements", deal.id, organization_id, None if kinds is None else tuple(kinds))
    return list(recall(session, key, load))


def coverage_problem(
    session: Session,
    *,
    deal: Deal,
    person: Person,
    dataset: str,
    categories: Sequence[str],
    at: datetime,
    clean_team: bool,
) -> str | None:
    """None when an agreement in force covers this access, else why not (no personal values).

    ``clean_team`` access needs a clean-team agreement the person signed individually; other
    access needs an NDA of the person's organisation.
    """
    kind = "clean_team" if clean_team else "nda"
    day = utc_day(at)
    every = _agreements(session, deal=deal, organization_id=person.organization_id, kinds=[kind])
    in_force = [a for a in every if agreement_status(a, at=at) == IN_FORCE]
    for a in in_force:
        if agreement_covers(a, dataset=dataset, categories=categories, person=person, at=at):
            return None
    cats = ", ".join(categories) or "no categories"
    if clean_team:
        head = f"no clean-team agreement signed by {person.email}"
    else:
        org = session.get(Organization, person.organization_id)
        org_name = org.name if org is not None else f"organisation #{person.organization_id}"
        head = f"no NDA of {org_name}"
    reason = f"{head} in force covering {cats} of dataset {dataset} on {day.isoformat()}"
    hint = _hint(every, in_force, dataset=dataset, categories=categories, at=at)
    return f"{reason} ({hint})" if hint else reason


def _hint(
    every: Sequence[Agreement],
    in_force: Sequence[Agreement],
    *,
    dataset: str,
    categories: Sequence[str],
    at: datetime,
) -> str | None:
    """The most telling detail about the closest agreement, for the denial's reason."""
    scoped = [a for a in in_force if _scope_covers(a, dataset=dataset, categories=categories)]
    if scoped:
        return f"agreement #{scoped[0].id} is in force but not signed by this person on that day"
    if in_force:
        return f"agreement #{in_force[0].id} in force does not cover this dataset or categories"
    if not every:
        return None
    last = every[-1]
    status = agreement_status(last, at=at)
    if status == EXPIRED and last.expires is not None:
        return f"agreement #{last.id} expired on {last.expires.isoformat()}"
    if status == REVOKED and last.revoked_at is not None:
        return f"agreement #{last.id} was revoked at {last.revoked_at.isoformat()}"
    return f"agreement #{last.id} takes effect on {last.effective.isoformat()}"


# -- the registry ------------------------------------------------------------------------
def create_agreement(
    session: Session,
    *,
    deal: Deal,
    organization: Organization,
    kind: str,
    title: str,
    datasets: Sequence[str] = (),
    categories: Sequence[str] = (),
    effective: date,
    expires: date | None = None,
    signers: Sequence[SignerIn] = (),
    acceptance: str = SIGNED,
    actor: Person | None = None,
) -> Agreement:
    """Register an agreement (no document yet: see :func:`attach_document`). A ``click``
    agreement has no signers yet: its parties accept it online."""
    if kind not in AGREEMENT_KINDS:
        raise Invalid(
            f"unknown agreement kind {kind!r}; choose one of: {', '.join(AGREEMENT_KINDS)}"
        )
    title = title.strip()
    if not title or len(title) > 300:
        raise Invalid("agreement title must be 1 to 300 characters")
    if party_of(deal, organization.id) is None:
        raise Invalid(f"{organization.name!r} is not a party to deal {deal.code!r}")
    if expires is not None and expires < effective:
        raise Invalid(
            f"expires ({expires.isoformat()}) is before effective ({effective.isoformat()})"
        )
    if acceptance not in ACCEPTANCE_MODES:
        raise Invalid(
            f"unknown acceptance {acceptance!r}; choose one of: {', '.join(ACCEPTANCE_MODES)}"
        )
    if acceptance == CLICK and signers:
        raise Invalid("a click-through agreement has no signers yet: its parties accept it online")
    if kind == "clean_team" and acceptance == SIGNED and not signers:
        raise Invalid("a clean-team agreement needs its individual signers (--signer EMAIL)")
    agreement = Agreement(
        deal_id=deal.id,
        organization_id=organization.id,
        kind=kind,
        title=title,
        datasets=_scope(datasets, what="dataset", allowed=None),
        categories=_scope(categories, what="category", allowed=CATEGORIES),
        effective=effective,
        expires=expires,
        acceptance=acceptance,
        created_by=actor.id if actor is not None else None,
        created_at=utcnow(),
    )
    seen: set[int] = set()
    for i, signer in enumerate(signers, start=1):
        try:
            person = get_person(session, email=signer.email)
        except NotFound:
            raise NotFound(f"signer {i}: no account with this e-mail address") from None
        if person.organization_id != organization.id:
            raise Invalid(f"signer {i} does not belong to {organization.name!r}")
        if person.id in seen:
            raise Invalid(f"signer {i} is given twice")
        seen.add(person.id)
        signed_on = signer.signed_on or effective
        if expires is not None and signed_on > expires:
            raise Invalid(f"signer {i} signed after the agreement expired")
        agreement.signers.append(AgreementSigner(person_id=person.id, signed_on=signed_on))
    session.add(agreement)
    session.flush()
    return agreement


def get_agreement(session: Session, *, agreement_id: int) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound(f"agreement #{agreement_id} not found")
    return agreement


def list_agreements(
    session: Session,
    *,
    deal: Deal | None = None,
    organization: Organization | None = None,
    in_force_at: datetime | None = None,
) -> list[Agreement]:
    q = select(Agreement).order_by(Agreement.id)
    if deal is not None:
        q = q.where(Agreement.deal_id == deal.id)
    if organization is not None:
        q = q.where(Agreement.organization_id == organization.id)
    rows = list(session.scalars(q))
    if in_force_at is not None:
        rows = [a for a in rows if agreement_status(a, at=in_force_at) == IN_FORCE]
    return rows


def revoke_agreement(
    session: Session,
    *,
    agreement: Agreement,
    reason: str,
    actor: Person | None = None,
    at: datetime | None = None,
) -> Agreement:
    """Revoke now (or at ``at``): from that instant the agreement covers nothing."""
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason for the revocation (--reason)")
    if agreement.revoked_at is not None:
        raise Conflict(f"agreement #{agreement.id} was already revoked")
    agreement.revoked_at = at or utcnow()
    agreement.revoked_by = actor.id if actor is not None else None
    agreement.revoke_reason = reason
    session.flush()
    return agreement


def agreement_view(session: Session, agreement: Agreement, *, at: datetime) -> AgreementOut:
    deal = session.get(Deal, agreement.deal_id)
    ids = {agreement.created_by, agreement.revoked_by} - {None}
    emails = {p.id: p.email for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    return AgreementOut(
        **head_fields(agreement, deal=deal.code if deal is not None else "?", at=at),
        acceptance=agreement.acceptance,
        signers=[signer_view(s) for s in agreement.signers],
        document_name=agreement.document_name,
        document_sha256=agreement.document_sha256,
        created_by=emails.get(agreement.created_by) if agreement.created_by else None,
        created_at=agreement.created_at,
        revoked_at=agreement.revoked_at,
        revoked_by=emails.get(agreement.revoked_by) if agreement.revoked_by else None,
        revoke_reason=agreement.revoke_reason,
    )


def head_fields(agreement: Agreement, *, deal: str, at: datetime) -> dict[str, Any]:
    """The fields of :class:`AgreementHead` of ``agreement`` (of deal ``deal``) at ``at``."""
    return {
        "id": agreement.id,
        "deal": deal,
        "organization": agreement.organization.name,
        "kind": agreement.kind,
        "title": agreement.title,
        "datasets": scope_items(agreement.datasets),
        "categories": scope_items(agreement.categories),
        "effective": agreement.effective,
        "expires": agreement.expires,
        "status": agreement_status(agreement, at=at),
    }


def signer_view(signer: AgreementSigner) -> SignerOut:
    return SignerOut(
        person=signer.person.email,
        signed_on=signer.signed_on,
        method=signer.method,
        accepted_at=signer.accepted_at,
        client=signer.client,
        document_sha256=signer.document_sha256,
    )


# -- the signed document -----------------------------------------------------------------
def document_context(agreement_id: int) -> bytes:
    """Associated data of a signed document: it cannot be moved to another agreement."""
    return b"agreement-doc|%d" % agreement_id


def read_document(path: Path) -> tuple[str, bytes]:
    """(file name, bytes) of a signed document to attach, refusing files over the limit."""
    name = path.name
    problem = file_problem(path)
    if problem is not None:
        raise Invalid(f"{name}: document {problem}")
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise Invalid(f"{name}: document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    if size == 0:
        raise Invalid(f"{name}: document file is empty")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise Invalid(f"{name}: document cannot be read ({exc.strerror})") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise Invalid(f"{name}: document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    if len(name) > 300:
        name = name[-300:]
    return name, data


def attach_document(
    uow: UnitOfWork, keyring: KeyRing, *, agreement: Agreement, name: str, content: bytes
) -> str:
    """Encrypt ``content`` under the document key, bound to this agreement; returns its SHA-256."""
    if agreement.document is not None:
        raise Conflict(f"agreement #{agreement.id} already has a signed document")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise Invalid(f"document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    keyring.verify_kek(uow.keys)
    key = keyring.create_dataset_key(
        uow.keys,
        dataset_id=DOCUMENT_KEY_DATASET_ID,
        purpose=DOCUMENT_KEY_PURPOSE,
        version=DOCUMENT_KEY_VERSION,
    )
    digest = hashlib.sha256(content).hexdigest()
    header = env.Header(env.ALG_AES_256_GCM, DOCUMENT_KEY_ID, DOCUMENT_KEY_VERSION)
    agreement.document = env.seal(key, header, content, document_context(agreement.id))
    agreement.document_name = name
    agreement.document_sha256 = digest
    uow.records.flush()
    return digest


def open_document(uow: UnitOfWork, keyring: KeyRing, *, agreement: Agreement) -> bytes:
    """The decrypted signed document, after checking its SHA-256 against the registry."""
    if agreement.document is None or agreement.document_sha256 is None:
        raise NotFound(f"agreement #{agreement.id} has no signed document")
    blob = bytes(agreement.document)
    header, _head, _nonce, _body = env.parse(blob)
    if header.key_id != DOCUMENT_KEY_ID:
        raise IntegrityError(f"agreement #{agreement.id}: document is not under the document key")
    key = keyring.dataset_key(
        uow.keys,
        dataset_id=DOCUMENT_KEY_DATASET_ID,
        purpose=DOCUMENT_KEY_PURPOSE,
        version=header.key_version,
    )
    content = env.open_envelope(key, blob, document_context(agreement.id))
    if hashlib.sha256(content).hexdigest() != agreement.document_sha256:
        raise IntegrityError(
            f"agreement #{agreement.id}: document does not match its recorded SHA-256"
        )
    return content
