"""Tables of access governance: agreements, training, policy versions, requests, grants."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dealvault.access.models import Organization, Person
from dealvault.db.base import Base, UTCDateTime, utcnow


class Agreement(Base):
    """A signed agreement (nda, clean_team, transfer, dpa) of an organisation in a deal.

    ``datasets`` and ``categories`` are comma-separated scopes (``*`` = all). The signed
    document is kept encrypted (``document``: a DV envelope under the master key's document
    key) with its SHA-256, so it can be checked without decrypting. ``acceptance`` says how
    its parties sign: ``signed`` (offline, registered with its signers) or ``click`` (each
    accepts the attached document online; see ``access.acceptance``).
    """

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    datasets: Mapped[str] = mapped_column(Text, default="*")
    categories: Mapped[str] = mapped_column(Text, default="*")
    effective: Mapped[date] = mapped_column(Date)
    expires: Mapped[date | None] = mapped_column(Date, nullable=True)
    document_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    document_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    document: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    acceptance: Mapped[str] = mapped_column(String(10), default="signed", server_default="signed")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    organization: Mapped[Organization] = relationship()
    signers: Mapped[list[AgreementSigner]] = relationship(
        back_populates="agreement", order_by="AgreementSigner.id", cascade="all, delete-orphan"
    )


class AgreementSigner(Base):
    """A person who signed an agreement individually (clean-team members do).

    ``method`` is ``offline`` (registered by the steward) or ``click`` (accepted online: the
    person's name and organisation as they stood, the instant in UTC, the client address of
    the session and the SHA-256 of the document accepted are kept as the signature).
    """

    __tablename__ = "agreement_signers"
    __table_args__ = (UniqueConstraint("agreement_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(10), default="offline", server_default="offline")
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    document_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    organization: Mapped[str | None] = mapped_column(String(200), nullable=True)

    agreement: Mapped[Agreement] = relationship(back_populates="signers")
    person: Mapped[Person] = relationship()


class TrainingRecord(Base):
    """A completed course (e.g. confidentiality training) and until when it counts."""

    __tablename__ = "training_records"
    __table_args__ = (UniqueConstraint("person_id", "course", "completed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    course: Mapped[str] = mapped_column(String(120))
    completed: Mapped[date] = mapped_column(Date)
    expires: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person] = relationship()


class PolicyVersion(Base):
    """One version of the access policy (TOML text); the newest row is in force."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("deal_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the deal this version governs; NULL only for versions of stores before per-deal
    #: policies (ignored: such a store runs on the shipped default until a steward sets one)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), nullable=True, index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccessRequest(Base):
    """A person asks for a level of a dataset's categories, for a purpose and a duration."""

    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    categories: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(Text)
    duration_days: Mapped[int] = mapped_column(Integer)
    row_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    #: approver roles fixed when the request is filed (a later policy change does not move them)
    required_roles: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    requester: Mapped[Person] = relationship()
    approvals: Mapped[list[Approval]] = relationship(
        back_populates="request", order_by="Approval.id", cascade="all, delete-orphan"
    )


class Approval(Base):
    """One approver's yes or no on a request, in the role they approved in."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("request_id", "approver_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), index=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    decision: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    request: Mapped[AccessRequest] = relationship(back_populates="approvals")
    approver: Mapped[Person] = relationship()


class Grant(Base):
    """What an approved request yields: level and categories of a dataset until ``expires_at``."""

    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    categories: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(Text)
    row_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_used: Mapped[int] = mapped_column(Integer, default=0)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
