"""Signing in and staying signed in: password, second factor, sessions, API tokens, password
reset. Every credential check is throttled per account and per client address, and every
outcome (a failure and a lock included) is an audit event."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Update, select, update
from sqlalchemy.orm import Session

from dealvault.access.device import token_device
from dealvault.access.models import Person
from dealvault.access.principal import Authn, Principal
from dealvault.access.scopes import OWN_ACCOUNT
from dealvault.accounts import mails, passwords, throttle, totp
from dealvault.accounts import service as acc
from dealvault.accounts.models import ApiToken, AuthSession, WebAuthnCredential
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Invalid, Throttled, Unauthenticated
from dealvault.flows.accounts import AccountRules, Mailer, SignIn
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint

ANONYMOUS = "anonymous"
_FACTOR_AUTHN = {"totp": Authn.PASSWORD_TOTP, "webauthn": Authn.PASSWORD_WEBAUTHN}


def _event(action: str, *, actor: str, client: str | None, ok: bool, **kw: object) -> EventIn:
    return EventIn(
        action=action,
        actor=actor,
        client=client,
        decision="allow" if ok else "deny",
        **kw,  # type: ignore[arg-type]
    )


def refuse_if_locked(
    stores: AppStores, s: Session, *, keys: list[str], actor: str, client: str | None
) -> None:
    for key in keys:
        until = throttle.locked_until(s, key)
        if until is not None:
            what = "this account" if key.startswith("account:") else "this address"
            msg = f"too many failed attempts: {what} is locked until {until:%H:%M} UTC"
            with stores.unit_of_work() as uow:
                audit(
                    stores,
                    uow,
                    _event("auth.locked", actor=actor, client=client, ok=False, reasons=(msg,)),
                )
            raise Throttled(msg)


def record_failure(
    stores: AppStores,
    *,
    rules: AccountRules,
    action: str,
    actor: str,
    person_id: int | None,
    client: str | None,
    reason: str,
    device: str | None = None,
) -> None:
    """Record a failed check in a transaction of its own (it must survive the refusal) and
    count it against the account and the client; a lock is an event too."""
    with stores.unit_of_work() as uow:
        s = uow.records
        locked = throttle.fail(
            s,
            throttle.client_key(client),
            limit=rules.limits.client_failures,
            limits=rules.limits,
        )
        if person_id is not None:
            locked = (
                throttle.fail(
                    s,
                    throttle.account_key(person_id),
                    limit=rules.limits.account_failures,
                    limits=rules.limits,
                )
                or locked
            )
        audit(
            stores,
            uow,
            _event(action, actor=actor, client=client, device=device, ok=False, reasons=(reason,)),
        )
        if locked:
            audit(
                stores,
                uow,
                _event(
                    "auth.lockout",
                    actor=actor,
                    client=client,
                    ok=False,
                    reasons=(f"locked for {rules.limits.lockout} after repeated failures",),
                ),
            )
            checkpoint(stores, uow, reason="sign-in lockout")


def login(
    stores: AppStores,
    *,
    rules: AccountRules,
    email: str,
    password: str,
    client: str | None,
    device: str | None = None,
) -> SignIn:
    """Check e-mail and password: a session that still needs its second factor (``next`` is
    ``totp``, or ``enrol`` for an account without one yet). ``device``: the browser's or
    client's device id (``access.device``), recorded with the outcome."""
    email = email.strip().lower()
    with stores.records_session() as s:
        person = s.scalar(select(Person).where(Person.email == email))
        keys = [throttle.client_key(client)]
        if person is not None:
            keys.append(throttle.account_key(person.id))
        actor = person.email if person is not None else ANONYMOUS
        refuse_if_locked(stores, s, keys=keys, actor=actor, client=client)
        account = acc.account_of(s, person) if person is not None else None
        good = passwords.verify(account.password_hash if account else None, password)
        disabled = account is not None and account.disabled_at is not None
        enrolled = account is not None and account.totp_enrolled_at is not None
        passkeys = person is not None and bool(
            s.scalar(select(WebAuthnCredential.id).where(WebAuthnCredential.person_id == person.id))
        )
        person_id = person.id if person is not None else None
    if not good or disabled:
        reason = "account disabled" if good else "wrong e-mail or password"
        record_failure(
            stores,
            rules=rules,
            action="auth.password",
            actor=actor,
            person_id=person_id,
            client=client,
            reason=reason,
            device=device,
        )
        raise Unauthenticated("this account is disabled" if good else "wrong e-mail or password")
    with stores.unit_of_work() as uow:
        s = uow.records
        person = s.get(Person, person_id)
        assert person is not None
        sid, csrf, row = acc.open_session(s, person=person, client=client, timeouts=rules.timeouts)
        audit(
            stores,
            uow,
            _event(
                "auth.password",
                actor=person.email,
                client=client,
                device=device,
                ok=True,
                authn=Authn.PASSWORD.value,
                session=row.id,
            ),
        )
        nxt = "totp" if enrolled else "passkey" if passkeys else "enrol"
        return SignIn(session_id=row.id, secret=sid, csrf=csrf, email=person.email, next=nxt)


def second_factor(
    stores: AppStores,
    keyring: KeyRing,
    *,
    rules: AccountRules,
    actor: Principal,
    code: str,
    client: str | None,
) -> SignIn:
    """Check a TOTP code (or a one-time recovery code) for the acting session, which has
    passed its password: the session is upgraded and gets a new secret."""
    with stores.records_session() as s:
        row = s.get(AuthSession, actor.session_id) if actor.session_id else None
        if row is None or actor.authn is not Authn.PASSWORD:
            raise Invalid("this step is for a session that passed its password only")
        person = s.get(Person, row.person_id)
        assert person is not None
        email, person_id, sid = person.email, person.id, row.id
        refuse_if_locked(
            stores,
            s,
            keys=[throttle.client_key(client), throttle.account_key(person_id)],
            actor=email,
            client=client,
        )
    with stores.unit_of_work() as uow:
        s = uow.records
        person = s.get(Person, person_id)
        account = acc.account_of(s, person) if person is not None else None
        assert person is not None
        key = keyring.store_key(uow.keys, purpose=acc.ACCOUNT_KEY_PURPOSE, create=False)
        if account is None or key is None:
            raise Invalid("this account has no second factor yet: set one up first")
        step = None
        if account.totp_sealed is not None and account.totp_enrolled_at is not None:
            secret = acc.open_totp(key, person_id=person.id, sealed=account.totp_sealed)
            step = totp.matching_step(secret, code, after=account.totp_last_step)
        how = "totp"
        if step is not None:
            account.totp_last_step = step
        elif not acc.use_recovery_code(s, key, person=person, code=code):
            how = ""
        if how:
            current = s.get(AuthSession, sid)
            assert current is not None
            current.factor = "totp"
            new_secret, csrf = acc.rotate_session(s, current)
            throttle.clear(s, throttle.account_key(person.id))
            audit(
                stores,
                uow,
                _event(
                    "auth.second_factor",
                    actor=email,
                    client=client,
                    device=actor.device,
                    ok=True,
                    authn=Authn.PASSWORD_TOTP.value,
                    session=sid,
                    objects={"method": "totp" if step is not None else "recovery-code"},
                ),
            )
            return SignIn(session_id=sid, secret=new_secret, csrf=csrf, email=email, next=None)
    record_failure(
        stores,
        rules=rules,
        action="auth.second_factor",
        actor=email,
        person_id=person_id,
        client=client,
        reason="wrong, used or expired code",
        device=actor.device,
    )
    raise Unauthenticated("the code is wrong, was already used, or has expired")


#: How stale a session's or token's last use may get before a request writes it again (reads
#: of a signed-in party then cost one round trip, not a transaction each).
_TOUCH_EVERY = timedelta(seconds=15)


def session_principal(
    stores: AppStores,
    *,
    rules: AccountRules,
    secret: str,
    client: str | None,
    device: str | None = None,
) -> tuple[Principal, str]:
    """The principal of a live session (and the digest of its CSRF token), on ``device``
    (the browser's device id, ``access.device``); the session's last use is now (written at
    most every few seconds)."""
    now = utcnow()
    with stores.records_session() as s:
        row, email = acc.live_session(s, secret=secret, timeouts=rules.timeouts, now=now)
        sid, factor, csrf, due = row.id, row.factor, row.csrf_digest, row.last_seen_at
    if now - due > _TOUCH_EVERY:
        _touch(stores, update(AuthSession).where(AuthSession.id == sid), last_seen_at=now)
    authn = _FACTOR_AUTHN.get(factor or "", Authn.PASSWORD)
    who = Principal(email=email, authn=authn, session_id=sid, client=client, device=device)
    return who, csrf


def token_principal(
    stores: AppStores, *, secret: str, client: str | None, device: str | None = None
) -> Principal:
    """The principal of a live API token (its scopes limit what it may ask), on ``device``
    (the client's device id), else on the token itself standing in for a device."""
    now = utcnow()
    with stores.records_session() as s:
        row, email = acc.live_token(s, secret=secret)
        tid, scopes, last = row.id, row.scopes, row.last_used_at
    if last is None or now - last > _TOUCH_EVERY:
        _touch(stores, update(ApiToken).where(ApiToken.id == tid), last_used_at=now)
    return Principal(
        email=email,
        authn=Authn.TOKEN,
        session_id=tid,
        client=client,
        scopes=frozenset(scopes.split()),
        device=device or token_device(tid),
    )


def _touch(stores: AppStores, stmt: Update, **values: object) -> None:
    with stores.unit_of_work() as uow:
        uow.records.execute(stmt.values(**values))


def logout(stores: AppStores, *, actor: Principal) -> None:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action=OWN_ACCOUNT,
            event=EventIn(action="auth.logout"),
        )
        row = uow.records.get(AuthSession, actor.session_id) if actor.session_id else None
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()
        audit(stores, uow, event)


def request_reset(
    stores: AppStores, *, rules: AccountRules, mailer: Mailer, email: str, client: str | None
) -> None:
    """Mail a password-reset link if ``email`` has an active account; the answer is the same
    either way, so nobody learns who has an account."""
    email = email.strip().lower()
    with stores.records_session() as s:
        refuse_if_locked(
            stores, s, keys=[throttle.client_key(client)], actor=ANONYMOUS, client=client
        )
    with stores.unit_of_work() as uow:
        s = uow.records
        person = s.scalar(select(Person).where(Person.email == email))
        account = acc.account_of(s, person) if person is not None else None
        # every request counts against the client: resets cannot be used to spray mail
        throttle.fail(
            s, throttle.client_key(client), limit=rules.limits.client_failures, limits=rules.limits
        )
        if person is None or account is None or account.password_hash is None:
            audit(
                stores, uow, _event("auth.reset_request", actor=ANONYMOUS, client=client, ok=False)
            )
            return
        if account.disabled_at is not None:
            audit(
                stores,
                uow,
                _event(
                    "auth.reset_request",
                    actor=person.email,
                    client=client,
                    ok=False,
                    reasons=("account disabled",),
                ),
            )
            return
        secret, link = acc.new_link(s, kind="reset", person=person, valid_for=rules.reset_valid)
        audit(stores, uow, _event("auth.reset_request", actor=person.email, client=client, ok=True))
        subject, body = mails.password_reset(
            public_url=rules.public_url, secret=secret, until=link.expires_at,
            language=account.language,
        )  # fmt: skip
        mailer(person.email, subject, body)


def reset_password(
    stores: AppStores, *, rules: AccountRules, secret: str, password: str, client: str | None
) -> None:
    """Set a new password through a reset link: every session of the account ends; the
    second factor is still needed at the next sign-in."""
    with stores.unit_of_work() as uow:
        s = uow.records
        link = acc.use_link(s, kind="reset", secret=secret)
        person = s.get(Person, link.person_id)
        assert person is not None
        passwords.check_new(
            password, email=person.email, name=person.name, min_length=rules.password_min
        )
        account = acc.account_of(s, person, create=True)
        assert account is not None
        account.password_hash = passwords.hash_password(password)
        account.password_set_at = utcnow()
        ended = acc.revoke_sessions(s, person_id=person.id)
        audit(
            stores,
            uow,
            _event(
                "auth.password_reset",
                actor=person.email,
                client=client,
                ok=True,
                authn=Authn.LINK.value,
                counts={"sessions_ended": ended},
            ),
        )
        checkpoint(stores, uow, reason="password reset")
