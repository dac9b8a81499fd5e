"""Reading destruction certificates: their view, the check of one (signature, copy in the
store, issue event; the check audited too), and a deal's list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select

from dealvault.access import service as access
from dealvault.access.models import Deal
from dealvault.access.principal import Principal
from dealvault.audit.models import AuditKey
from dealvault.audit.note import Verifier, parse_note
from dealvault.audit.service import EventIn
from dealvault.db.stores import UnitOfWork
from dealvault.errors import IntegrityError, Invalid, NotFound
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.transfer.certificates import (
    Certificate,
    issue_event,
    note_sha256,
    parse_certificate,
)
from dealvault.transfer.certificates import (
    verify_certificate as check_note,
)
from dealvault.transfer.models import DestructionCertificate


class CertificateOut(BaseModel):
    """A destruction certificate as issued or stored, with its signed note verbatim."""

    id: int
    deal: str
    organisation: str
    party: str
    datasets: list[str]
    customers: int
    subjects: str
    method: str
    time: str
    by: str
    keys_destroyed: int | None = None
    disclosures: int | None = None
    packages: int | None = None
    reason: str | None = None
    sha256: str
    note: str
    verifier_key: str | None = None


class CertificateCheck(BaseModel):
    """The result of ``certificate verify``: a verified certificate and where it is recorded."""

    ok: bool
    certificate: CertificateOut
    signed_by: str
    key_id: str
    in_store: bool
    audit_event: int | None
    unknown_signers: list[str]


def certificate_out(cert: Certificate, *, note: str, verifier: str | None) -> CertificateOut:
    return CertificateOut(
        id=cert.certificate,
        deal=cert.deal,
        organisation=cert.organisation,
        party=cert.party,
        datasets=list(cert.datasets),
        customers=cert.customers,
        subjects=cert.subjects,
        method=cert.method,
        time=cert.time.astimezone(UTC).isoformat(timespec="seconds"),
        by=cert.by,
        keys_destroyed=cert.keys_destroyed,
        disclosures=cert.disclosures,
        packages=cert.packages,
        reason=cert.reason,
        sha256=note_sha256(note),
        note=note,
        verifier_key=verifier,
    )


def _verifiers(stores: AppStores, uow: UnitOfWork, keys: Sequence[str]) -> list[Verifier]:
    found = [Verifier.from_key(k) for k in keys]
    found += [
        Verifier.from_key(k)
        for k in uow.records.scalars(select(AuditKey.verifier_key).where(AuditKey.role == "log"))
    ]
    if stores.audit.verifier is not None:  # the public key: no master key needed to verify
        found.append(stores.audit.verifier)
    return list(dict.fromkeys(found))


def verify_certificate(
    stores: AppStores,
    *,
    source: str,
    actor: Principal,
    keys: Sequence[str] = (),
) -> CertificateCheck:
    """Check a certificate (a note file, or a certificate number of this store): its signature
    under the store's log key or ``keys``, its copy in the store and its audit event.

    The check itself is audited (also when it fails); a failure raises IntegrityError.
    """
    problem: str | None = None
    with stores.unit_of_work() as uow:
        path = Path(source)
        row: DestructionCertificate | None = None
        where = ""  # the file's name, before a problem with a note read from a file
        if path.is_file():
            try:
                note = path.read_bytes().decode("utf-8", errors="replace")  # bad bytes: bad sig.
            except OSError as exc:
                raise Invalid(f"{path.name}: cannot be read ({exc.strerror})") from None
            where = f"{path.name}: "
        elif source.isdigit():
            row = uow.records.get(DestructionCertificate, int(source))
            if row is None:
                raise NotFound(f"certificate #{source} not found")
            note = row.note
        else:
            raise NotFound(f"{source!r} is neither a file nor a certificate number")
        sha = note_sha256(note)
        result: CertificateCheck | None = None
        try:
            checked = check_note(note, verifiers=_verifiers(stores, uow, keys))
            cert = checked.certificate
            ours = cert.log in (None, stores.audit.origin)  # issued by this store's log
            if row is None and ours:
                row = uow.records.get(DestructionCertificate, cert.certificate)
            in_store = row is not None and row.sha256 == sha and row.note == note
            if row is not None and not in_store:
                problem = f"certificate #{cert.certificate} in this store differs from this note"
            elif row is not None and note_sha256(row.note) != row.sha256:
                problem = f"certificate #{cert.certificate}: stored digest does not match its note"
            seq = issue_event(uow.records, deal=cert.deal, cert_id=cert.certificate, sha256=sha)
            if row is not None and seq is None and problem is None:
                problem = f"certificate #{cert.certificate} has no issue event in the audit log"
            result = CertificateCheck(
                ok=problem is None,
                certificate=certificate_out(cert, note=note, verifier=None),
                signed_by=checked.signed_by,
                key_id=checked.key_id,
                in_store=in_store,
                audit_event=seq,
                unknown_signers=list(checked.unknown_signers),
            )
        except (IntegrityError, Invalid) as exc:
            problem = f"{where}{exc}"
        deal_code = result.certificate.deal if result else None
        if deal_code is None and row is not None:
            found = uow.records.get(Deal, row.deal_id)
            deal_code = found.code if found else None
        known = (
            uow.records.scalar(select(Deal).where(Deal.code == deal_code)) if deal_code else None
        )
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            # a certificate of one of this store's deals, or a file from elsewhere
            action="certificate.read" if known is not None else "package.verify",
            deal=known,
            event=EventIn(action="certificate.verify", deal=deal_code),
        )
        audit(
            stores,
            uow,
            replace(
                event,
                objects={
                    "certificate": result.certificate.id if result else None,
                    "sha256": sha,
                    "result": "ok" if problem is None else "failed",
                },
            ),
        )
    if problem is not None or result is None:
        raise IntegrityError(problem or "certificate could not be checked")
    return result


def list_certificates(stores: AppStores, *, actor: Principal, deal: str) -> list[CertificateOut]:
    """The destruction certificates of a deal (the roles of ``certificate.read``)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="certificate.read",
            deal=d,
            event=EventIn(action="certificate.list"),
        )
        audit(stores, uow, event)
        rows = s.scalars(
            select(DestructionCertificate)
            .where(DestructionCertificate.deal_id == d.id)
            .order_by(DestructionCertificate.id)
        )
        out = []
        for row in rows:
            text, _ = parse_note(row.note)
            out.append(certificate_out(parse_certificate(text), note=row.note, verifier=None))
        return out
