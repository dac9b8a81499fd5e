"""Destruction certificates: what, how, when and by whom, as C2SP signed notes (Ed25519)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, DealParty, Organization
from dealvault.access.stages import PartyRole, Stage
from dealvault.audit.models import AuditEvent, AuditEventSubjects
from dealvault.audit.note import NoteSignature, Signer, Verifier, parse_note, sign
from dealvault.audit.service import SubjectPacker, unpack_subjects
from dealvault.errors import IntegrityError, Invalid
from dealvault.transfer.canaries import SUBJECT_PREFIX
from dealvault.transfer.models import TransferPackage, TransferPlan
from dealvault.vault.models import CustomerRecord, Dataset

HEADER: Final = "dealvault/destruction-certificate/v1"
CRYPTO_ERASE: Final = "cryptographic erase (NIST SP 800-88 Rev. 1)"
RETURNED: Final = "returned"
DELETED: Final = "deleted"
#: Method names accepted on the command line -> the method line of the certificate.
METHODS: Final = {"crypto-erase": CRYPTO_ERASE, "returned": RETURNED, "deleted": DELETED}
#: Who destroyed: the seller's own copy after closing, or a recipient's copy.
PARTIES: Final = ("seller", "losing-bidder", "terminated-deal", "withdrawn-bidder", "other-party")
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
MAX_VALUE: Final = 300
_STREAM: Final = 20_000

# Body lines in this order; ``dataset`` may repeat, the keys after ``by`` are optional.
_REQUIRED: Final = (
    "certificate",
    "deal",
    "organisation",
    "party",
    "customers",
    "subjects",
    "method",
    "time",
    "by",
)
_INTS: Final = ("certificate", "customers", "keys-destroyed", "disclosures", "packages")
_OPTIONAL: Final = ("keys-destroyed", "disclosures", "packages", "reason", "log")
_ORDER: Final = (*_REQUIRED[:4], "dataset", *_REQUIRED[4:], *_OPTIONAL)


def subjects_digest(subject_ids: Iterable[str]) -> str:
    """``sha256:<hex>`` of the sorted subject ids joined by newlines (the audit log's form)."""
    joined = "\n".join(sorted(subject_ids)).encode("ascii")
    return "sha256:" + hashlib.sha256(joined).hexdigest()


def _line_value(key: str, value: str) -> str:
    text = str(value).strip()
    if not text:
        raise Invalid(f"certificate field {key!r} is empty")
    if len(text) > MAX_VALUE or any(c < " " or c in "\u2028\u2029\x7f" for c in text):
        raise Invalid(f"certificate field {key!r} is too long or holds a control character")
    return text


@dataclass(frozen=True)
class Certificate:
    """The statement a destruction certificate signs."""

    certificate: int
    deal: str
    organisation: str
    party: str
    datasets: tuple[str, ...]
    customers: int
    subjects: str
    method: str
    time: datetime
    by: str
    keys_destroyed: int | None = None
    disclosures: int | None = None
    packages: int | None = None
    reason: str | None = None
    log: str | None = None

    def text(self) -> str:
        """The note text: header line, then one ``key value`` line per field, newline-ended."""
        if self.party not in PARTIES:
            raise Invalid(f"unknown party kind {self.party!r}")
        if self.method not in METHODS.values():
            raise Invalid("method must be cryptographic erase, returned or deleted")
        values: list[tuple[str, object]] = [
            ("certificate", self.certificate),
            ("deal", self.deal),
            ("organisation", self.organisation),
            ("party", self.party),
            *(("dataset", d) for d in self.datasets),
            ("customers", self.customers),
            ("subjects", self.subjects),
            ("method", self.method),
            ("time", self.time.astimezone(UTC).strftime(TIME_FORMAT)),
            ("by", self.by),
            ("keys-destroyed", self.keys_destroyed),
            ("disclosures", self.disclosures),
            ("packages", self.packages),
            ("reason", self.reason),
            ("log", self.log),
        ]
        lines = [HEADER]
        lines += [f"{k} {_line_value(k, str(v))}" for k, v in values if v is not None]
        return "\n".join(lines) + "\n"

    @property
    def scope(self) -> dict[str, object]:
        """What was destroyed, as stored in ``destruction_certificates.scope`` (JSON)."""
        out: dict[str, object] = {
            "datasets": list(self.datasets),
            "customers": self.customers,
            "subjects": self.subjects,
        }
        for key in ("keys_destroyed", "disclosures", "packages"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def parse_certificate(text: str) -> Certificate:
    """Read a certificate's note text back; every problem names its line."""
    lines = text.split("\n")
    if not text.endswith("\n") or lines[0] != HEADER:
        raise Invalid(f"not a destruction certificate: line 1 must be {HEADER!r}")
    fields: dict[str, str] = {}
    datasets: list[str] = []
    last = -1
    for n, line in enumerate(lines[1:-1], start=2):
        key, sep, value = line.partition(" ")
        if not sep or not value:
            raise Invalid(f"certificate line {n}: expected 'key value'")
        if key not in _ORDER:
            raise Invalid(f"certificate line {n}: unknown field {key!r}")
        pos = _ORDER.index(key)
        if pos < last or (pos == last and key != "dataset"):
            raise Invalid(f"certificate line {n}: field {key!r} is out of order or repeated")
        last = pos
        if key == "dataset":
            datasets.append(value)
        else:
            fields[key] = value
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise Invalid(f"certificate lacks the field {missing[0]!r}")
    ints: dict[str, int | None] = {}
    for key in _INTS:
        raw = fields.get(key)
        if raw is not None and not raw.isdigit():
            raise Invalid(f"certificate field {key!r} is not a whole number")
        ints[key] = None if raw is None else int(raw)
    try:
        at = datetime.strptime(fields["time"], TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise Invalid(f"certificate field 'time' is not {TIME_FORMAT}") from None
    cert = Certificate(
        certificate=int(fields["certificate"]),
        deal=fields["deal"],
        organisation=fields["organisation"],
        party=fields["party"],
        datasets=tuple(datasets),
        customers=int(fields["customers"]),
        subjects=fields["subjects"],
        method=fields["method"],
        time=at,
        by=fields["by"],
        keys_destroyed=ints["keys-destroyed"],
        disclosures=ints["disclosures"],
        packages=ints["packages"],
        reason=fields.get("reason"),
        log=fields.get("log"),
    )
    if cert.text() != text:
        raise Invalid("certificate text is not in its canonical form")
    return cert


def sign_certificate(cert: Certificate, *, signer: Signer) -> bytes:
    """The signed note of a certificate (C2SP signed-note, Ed25519)."""
    return sign(cert.text(), [signer])


def note_sha256(note: bytes | str) -> str:
    data = note.encode("utf-8") if isinstance(note, str) else note
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Checked:
    """A certificate whose signature verified, and by which key."""

    certificate: Certificate
    signed_by: str
    key_id: str
    unknown_signers: tuple[str, ...] = ()


def verify_certificate(note: bytes | str, *, verifiers: Sequence[Verifier]) -> Checked:
    """Check the note's signatures against known keys, then read the certificate.

    Raises IntegrityError naming what failed: a signature that does not verify under a known
    key (the text changed after signing, or the signature did), or no known key at all.
    """
    try:
        text, sigs = parse_note(note)
    except Invalid as exc:
        raise Invalid(f"not a signed note: {exc}") from None
    known = {(v.name, v.key_id): v for v in verifiers}
    raw = text.encode("utf-8")
    good: list[NoteSignature] = []
    unknown: list[str] = []
    for sig in sigs:
        v = known.get((sig.name, sig.key_id))
        if v is None:
            unknown.append(f"{sig.name}+{sig.key_id:08x}")
        elif v.verify(raw, sig.signature):
            good.append(sig)
        else:
            raise IntegrityError(
                f"certificate signature by {sig.name} (key {sig.key_id:08x}) does not verify:"
                " the certificate text or its signature was changed after signing"
            )
    if not good:
        names = ", ".join(unknown) or "nobody"
        raise IntegrityError(
            f"certificate is signed by {names}, no key known here; give the issuing store's"
            " verifier key (printed by 'dealvault init' and 'certificate issue') with --key"
        )
    cert = parse_certificate(text)
    return Checked(
        certificate=cert,
        signed_by=good[0].name,
        key_id=f"{good[0].key_id:08x}",
        unknown_signers=tuple(unknown),
    )


# -- scope: what a certificate covers ---------------------------------------------------------


def was_transferred(session: Session, *, deal: Deal, dataset: Dataset) -> bool:
    """True when a transfer package of this dataset was built in this deal (handed over)."""
    found = session.scalar(
        select(TransferPackage.id)
        .join(TransferPlan, TransferPlan.id == TransferPackage.plan_id)
        .where(TransferPackage.deal_id == deal.id, TransferPlan.dataset_id == dataset.id)
        .limit(1)
    )
    return found is not None


def live_subjects(session: Session, dataset_ids: Sequence[int]) -> tuple[str, SubjectPacker]:
    """Subject ids of the customers not yet shredded, ascending, packed for the audit event,
    and their digest (the same bytes the audit log hashes)."""
    packer, h = SubjectPacker(), hashlib.sha256()
    rows = session.execute(
        select(CustomerRecord.subject_id)
        .where(
            CustomerRecord.dataset_id.in_(list(dataset_ids)), CustomerRecord.status != "shredded"
        )
        .order_by(CustomerRecord.subject_id)
        .execution_options(yield_per=_STREAM)
    )
    for part in rows.scalars().partitions(_STREAM):
        batch = list(part)
        h.update((("\n" if packer.count else "") + "\n".join(batch)).encode("ascii"))
        packer.add(batch)
    return "sha256:" + h.hexdigest(), packer


def received_by(session: Session, *, deal: Deal, org: Organization) -> dict[str, Any]:
    """What the audit log and the transfer ledger say this recipient was given in the deal:
    datasets, number of disclosures and packages, the subject ids of record-level rows."""
    datasets: set[str] = set()
    subjects: set[str] = set()
    disclosures = 0
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.body, AuditEventSubjects.packed)
        .outerjoin(AuditEventSubjects, AuditEventSubjects.seq == AuditEvent.seq)
        .where(
            AuditEvent.action == "disclose",
            AuditEvent.deal == deal.code,
            AuditEvent.decision == "allow",
        )
        .order_by(AuditEvent.seq)
    )
    for _seq, body, packed in rows:
        objects = json.loads(bytes(body)).get("objects", {})
        if objects.get("recipient") != org.name:
            continue
        disclosures += 1
        if objects.get("dataset"):
            datasets.add(str(objects["dataset"]))
        if packed is not None:
            subjects.update(
                s for s in unpack_subjects(bytes(packed)) if not s.startswith(SUBJECT_PREFIX)
            )
    packages = session.execute(
        select(TransferPackage.id, Dataset.name)
        .join(TransferPlan, TransferPlan.id == TransferPackage.plan_id)
        .join(Dataset, Dataset.id == TransferPlan.dataset_id)
        .where(TransferPackage.deal_id == deal.id, TransferPackage.recipient_id == org.id)
    ).all()
    datasets.update(name for _, name in packages)
    return {
        "datasets": sorted(datasets),
        "subjects": subjects,
        "disclosures": disclosures,
        "packages": len(packages),
    }


def recipient_kind(deal: Deal, party: DealParty) -> str | None:
    """How a party's copy is due to go (the ``party`` line), or None while it may keep it."""
    stage = Stage(deal.stage)
    if stage is Stage.TERMINATED:
        return "terminated-deal"
    if party.withdrawn:
        return "withdrawn-bidder"
    if stage in (Stage.CLOSING, Stage.POST_CLOSING) and not party.is_winner:
        return "losing-bidder" if party.role == PartyRole.BIDDER else "other-party"
    return None


def issue_event(session: Session, *, deal: str, cert_id: int, sha256: str) -> int | None:
    """The audit event (its number) that recorded the issue of this certificate."""
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.body).where(
            AuditEvent.action == "certificate.issue",
            AuditEvent.deal == deal,
            AuditEvent.decision == "allow",
        )
    )
    for seq, body in rows:
        objects = json.loads(bytes(body)).get("objects", {})
        if objects.get("certificate") == cert_id and objects.get("sha256") == sha256:
            return int(seq)
    return None
