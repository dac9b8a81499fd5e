"""Tables of the transfer domain: plans, packages (the transfer ledger), backups, canaries,
destruction certificates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class TransferPlan(Base):
    """What is handed over to whom and why (seed 001 §4: necessity, scope, plan)."""

    __tablename__ = "transfer_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    recipients: Mapped[str] = mapped_column(Text)  # age X25519 recipients, one per line
    categories: Mapped[str] = mapped_column(Text)  # comma-separated
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    required_roles: Mapped[str] = mapped_column(Text)
    exclusions: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON counts per reason
    #: days a customer has to object once the PIPL art. 22 notice reached them
    objection_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    #: the recipient's contact named in the notices (its address, phone or e-mail)
    recipient_contact: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: where the recipient holds the data (ISO 3166-1 alpha-2; HK, MO, TW are outside the
    #: mainland for the cross-border rules, compliance/crossborder.toml)
    destination: Mapped[str] = mapped_column(String(2), default="CN", server_default="CN")


class PlanApproval(Base):
    """One approver's decision on a transfer plan."""

    __tablename__ = "transfer_plan_approvals"
    __table_args__ = (UniqueConstraint("plan_id", "approver_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("transfer_plans.id"), index=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    role: Mapped[str] = mapped_column(String(30))
    decision: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TransferPackage(Base):
    """A built package: one row of the transfer ledger (GB/T 35273 §9.2: date, scale, purpose,
    recipient)."""

    __tablename__ = "transfer_packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("transfer_plans.id"), index=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    path: Mapped[str] = mapped_column(String(500))
    customers: Mapped[int] = mapped_column(Integer)
    records: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    merkle_root: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    #: the signed list of the package's canary records (C2SP note), for the buyer's steward
    canary_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TransferReview(Base):
    """The seller's review after a transfer (seed 001 §4.6): the buyer's reconciliation report
    checked against the ledger, and the reviewer's outcome."""

    __tablename__ = "transfer_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("transfer_packages.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    reviewer_role: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # accepted | issues
    #: JSON list of what did not match (empty when accepted)
    findings: Mapped[str] = mapped_column(Text, default="[]")
    report_sha256: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Backup(Base):
    """An age-encrypted snapshot of both stores, and whether it verified."""

    __tablename__ = "backups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(500))
    backend: Mapped[str] = mapped_column(String(12))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    recipients: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Canary(Base):
    """A planted customer that identifies one recipient's copy (contact points the seller
    controls: a configured e-mail domain and phone list).

    Its identity (name, phone, e-mail, fingerprint) is sealed under the store's canary key
    (``transfer.canary_seal``); keyed hashes of the e-mail and phone keep them unique without
    showing them. ``name``, ``phone``, ``email`` and ``fingerprint`` are the clear columns of
    stores made before migration 0008: such rows are sealed, and those columns emptied, the
    first time canaries are used with the keys.
    """

    __tablename__ = "canaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email_mac: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    phone_mac: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DestructionCertificate(Base):
    """A signed statement that copies were destroyed (what, how, when, by whom)."""

    __tablename__ = "destruction_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    scope: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)  # the C2SP signed note, verbatim
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TransferMechanism(Base):
    """A cross-border transfer mechanism counsel recorded for a plan (PIPL art. 38, GDPR art.
    45-49): its kind and a reference (a filing number, the contract's date...)."""

    __tablename__ = "transfer_mechanisms"
    __table_args__ = (UniqueConstraint("plan_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("transfer_plans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
