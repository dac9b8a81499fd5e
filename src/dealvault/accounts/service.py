"""Account rules on one database session: links, passwords, second factors, sessions and
tokens. Nothing here commits or records audit events; the flows do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealvault.access.models import Person
from dealvault.accounts import secrets as sec
from dealvault.accounts.models import Account, AccountLink, ApiToken, AuthSession, RecoveryCode
from dealvault.crypto import envelope as env
from dealvault.db.base import utcnow
from dealvault.errors import Forbidden, IntegrityError, Invalid, NotFound, Unauthenticated

#: the store key (in the key store, wrapped by the master key) that seals TOTP secrets and
#: keys the recovery-code MACs
ACCOUNT_KEY_PURPOSE = "accounts"
LINK_KINDS = ("invite", "reset")


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


def account_of(session: Session, person: Person, *, create: bool = False) -> Account | None:
    found = session.get(Account, person.id)
    if found is None and create:
        found = Account(person_id=person.id, totp_last_step=0, created_at=utcnow())
        session.add(found)
        session.flush()
    return found


def new_link(
    session: Session,
    *,
    kind: str,
    person: Person,
    valid_for: timedelta,
    created_by: Person | None = None,
    deal_id: int | None = None,
    role: str | None = None,
) -> tuple[str, AccountLink]:
    """A one-time link secret (returned once) and its row; earlier unused links of the same
    kind for the person stop working."""
    if kind not in LINK_KINDS:
        raise AssertionError(f"unknown link kind {kind!r}")
    now = utcnow()
    session.execute(
        update(AccountLink)
        .where(
            AccountLink.person_id == person.id,
            AccountLink.kind == kind,
            AccountLink.used_at.is_(None),
        )
        .values(expires_at=now)
    )
    secret = sec.new_secret(sec.INVITE if kind == "invite" else sec.RESET)
    row = AccountLink(
        kind=kind,
        secret_digest=sec.digest(secret),
        person_id=person.id,
        deal_id=deal_id,
        role=role,
        created_by=created_by.id if created_by else None,
        created_at=now,
        expires_at=now + valid_for,
    )
    session.add(row)
    session.flush()
    return secret, row


def use_link(session: Session, *, kind: str, secret: str) -> AccountLink:
    """The link behind ``secret``, marked used; one message for every way it can fail."""
    row = session.scalar(
        select(AccountLink)
        .where(AccountLink.secret_digest == sec.digest(secret), AccountLink.kind == kind)
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise Forbidden(
            "this link is not valid: it has expired or was already used; ask for a new one",
            code="link_invalid",
        )
    row.used_at = utcnow()
    return row


def _seal_context(person_id: int) -> bytes:
    return b"totp|%d" % person_id


def seal_totp(key: bytes, *, person_id: int, secret: str) -> bytes:
    header = env.Header(env.ALG_AES_256_GCM, "accounts", 1)
    return env.seal(key, header, secret.encode("ascii"), _seal_context(person_id))


def open_totp(key: bytes, *, person_id: int, sealed: bytes) -> str:
    try:
        return env.open_envelope(key, sealed, _seal_context(person_id)).decode("ascii")
    except IntegrityError:
        raise IntegrityError(
            "this account's TOTP secret does not open: wrong master key or altered store"
        ) from None


def store_recovery_codes(session: Session, key: bytes, *, person: Person, codes: list[str]) -> None:
    """Replace the person's recovery codes by ``codes`` (kept as keyed MACs only)."""
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.person_id == person.id)):
        session.delete(old)
    session.flush()
    from dealvault.accounts.totp import normalise_recovery_code

    for code in codes:
        mac = sec.keyed_digest(key, normalise_recovery_code(code))
        session.add(RecoveryCode(person_id=person.id, code_mac=mac))
    session.flush()


def use_recovery_code(session: Session, key: bytes, *, person: Person, code: str) -> bool:
    from dealvault.accounts.totp import normalise_recovery_code

    mac = sec.keyed_digest(key, normalise_recovery_code(code))
    row = session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.person_id == person.id,
            RecoveryCode.code_mac == mac,
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def recovery_codes_left(session: Session, *, person: Person) -> int:
    rows = session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.person_id == person.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(rows))


def open_session(
    session: Session, *, person: Person, client: str | None, timeouts: Timeouts
) -> tuple[str, str, AuthSession]:
    """A new server session (secret and CSRF token returned once) with no second factor."""
    now = utcnow()
    secret, csrf = sec.new_secret(sec.SESSION), sec.new_secret("csrf_")
    row = AuthSession(
        id=sec.new_id("ses_"),
        secret_digest=sec.digest(secret),
        csrf_digest=sec.digest(csrf),
        person_id=person.id,
        factor=None,
        client=(client or "")[:64] or None,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timeouts.absolute,
    )
    session.add(row)
    session.flush()
    return secret, csrf, row


def rotate_session(session: Session, row: AuthSession) -> tuple[str, str]:
    """New secret and CSRF token for ``row`` (after the second factor: no fixation)."""
    secret, csrf = sec.new_secret(sec.SESSION), sec.new_secret("csrf_")
    row.secret_digest, row.csrf_digest = sec.digest(secret), sec.digest(csrf)
    return secret, csrf


def live_session(
    session: Session, *, secret: str, timeouts: Timeouts, now: datetime | None = None
) -> tuple[AuthSession, str]:
    """The session behind ``secret`` and its person's e-mail, if it is neither revoked nor
    timed out, nor its account disabled (every failure is the same 'sign in again'). One
    round trip."""
    at = now or utcnow()
    row, email, enabled = _by_secret(session, AuthSession, secret)
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= at
        or row.last_seen_at + timeouts.idle <= at
    ):
        raise Unauthenticated("not signed in, or the session has ended: sign in again")
    if not enabled:
        raise Unauthenticated("this account is disabled")
    return row, email


_Credential = TypeVar("_Credential", AuthSession, ApiToken)


def _by_secret(
    session: Session, model: type[_Credential], secret: str
) -> tuple[_Credential | None, str, bool]:
    """The session or token row behind ``secret``, its person's e-mail and whether the
    account may sign in: one joined query."""
    found = session.execute(
        select(model, Person.email, Account.disabled_at, Account.person_id)
        .join(Person, Person.id == model.person_id)
        .outerjoin(Account, Account.person_id == model.person_id)
        .where(model.secret_digest == sec.digest(secret))
    ).first()
    if found is None:
        return None, "", False
    return found[0], str(found[1]), found[3] is not None and found[2] is None


def revoke_sessions(session: Session, *, person_id: int, reason_at: datetime | None = None) -> int:
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.person_id == person_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=reason_at or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def new_token(
    session: Session, *, person: Person, name: str, scopes: frozenset[str], valid_for: timedelta
) -> tuple[str, ApiToken]:
    if not name.strip() or len(name) > 100:
        raise Invalid("a token needs a name of 1 to 100 characters")
    secret = sec.new_secret(sec.TOKEN)
    row = ApiToken(
        id=sec.new_id("tok_"),
        secret_digest=sec.digest(secret),
        person_id=person.id,
        name=name.strip(),
        scopes=" ".join(sorted(scopes)),
        created_at=utcnow(),
        expires_at=utcnow() + valid_for,
    )
    session.add(row)
    session.flush()
    return secret, row


def live_token(session: Session, *, secret: str) -> tuple[ApiToken, str]:
    """The API token behind ``secret`` and its person's e-mail, if it is live and its account
    enabled. One round trip."""
    row, email, enabled = _by_secret(session, ApiToken, secret)
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise Unauthenticated("the API token is not valid: expired, revoked or unknown")
    if not enabled:
        raise Unauthenticated("this account is disabled")
    return row, email


def token_of(session: Session, *, person: Person, token_id: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.person_id != person.id:
        raise NotFound(f"no API token {token_id!r} of yours")
    return row
