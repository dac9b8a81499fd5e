"""Tables of the accounts domain. Secrets are never stored in clear: passwords as Argon2id
hashes, session/token/link secrets as SHA-256 digests, recovery codes as keyed MACs, TOTP
secrets sealed with the store's account key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import Base, UTCDateTime, utcnow


class Account(Base):
    """A registered person's sign-in credentials (one per person, made by an invitation)."""

    __tablename__ = "accounts"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the TOTP secret sealed with the store's account key (AEAD, bound to the person)
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), nullable=True)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: a new device's secret (sealed the same way) until a code from it confirms the change
    totp_pending: Mapped[bytes | None] = mapped_column(LargeBinary(), nullable=True)
    #: the last time step whose code was accepted: a code is accepted once (no replay)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the person's language for pages and mails (zh | en; None: the browser's) and time zone
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    disabled_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecoveryCode(Base):
    """One-time recovery codes (shown once at enrolment), stored as keyed MACs."""

    __tablename__ = "account_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    code_mac: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebAuthnCredential(Base):
    """A passkey registered as a second factor (public key only)."""

    __tablename__ = "account_webauthn"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary())
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100), default="passkey")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccountLink(Base):
    """A one-time link mailed to a person: an invitation (with the deal role it brings) or
    a password reset. Only the digest of its secret is kept."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # invite | reset
    secret_digest: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), nullable=True)
    role: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuthSession(Base):
    """A server-side session: revocable, with idle and absolute timeouts. ``factor`` is
    empty until the second factor is checked; nothing above metadata is served before."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public id, in the audit log
    secret_digest: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_digest: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    factor: Mapped[str | None] = mapped_column(String(20), nullable=True)  # totp | webauthn
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: a pending WebAuthn challenge (registration or sign-in), bytes
    challenge: Mapped[bytes | None] = mapped_column(LargeBinary(), nullable=True)


class ApiToken(Base):
    """A personal API token for scripts and the remote CLI: scoped, expiring, revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_digest: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(String(200))  # space separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuthThrottle(Base):
    """Failed credential checks per account or client address in the current window, and
    the lock that follows too many (shared by every server worker through the database)."""

    __tablename__ = "auth_throttles"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # account:<id> | client:<addr>
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
