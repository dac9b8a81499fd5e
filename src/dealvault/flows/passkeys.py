"""Passkeys (WebAuthn) as a second factor: register one, sign in with one. The browser's
authenticator signs a one-time challenge kept on the server-side session."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.models import Person
from dealvault.access.principal import Authn, Principal
from dealvault.access.scopes import OWN_ACCOUNT
from dealvault.accounts import service as acc
from dealvault.accounts import throttle, totp
from dealvault.accounts.models import AuthSession, WebAuthnCredential
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, Unauthenticated
from dealvault.flows.accounts import AccountRules, Enrolled, SignIn
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint
from dealvault.flows.signin import record_failure, refuse_if_locked

RP_NAME = "dealvault"


def relying_party(rules: AccountRules) -> tuple[str, str]:
    """(rp id, origin): the server's host name and its public origin."""
    parts = urlsplit(rules.public_url)
    if not parts.hostname:
        raise Invalid("public_url has no host name: passkeys need the server's address")
    return parts.hostname, f"{parts.scheme}://{parts.netloc}"


def _row(s: Session, actor: Principal) -> AuthSession:
    row = s.get(AuthSession, actor.session_id) if actor.session_id else None
    if row is None:
        raise Invalid("passkeys need a server session")
    return row


def begin_registration(stores: AppStores, *, actor: Principal, rules: AccountRules) -> str:
    """Creation options (JSON) for a new passkey of the acting person. At sign-up (a session
    with only its password) it is the account's first second factor; later a further one."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

    rp_id, _ = relying_party(rules)
    with stores.unit_of_work() as uow:
        s = uow.records
        person, event = authorize(
            stores,
            s,
            actor=actor,
            action=OWN_ACCOUNT,
            event=EventIn(action="account.passkey_begin"),
        )
        account = acc.account_of(s, person, create=True)
        assert account is not None
        has_factor = account.totp_enrolled_at is not None or _credentials(s, person)
        if actor.authn is Authn.PASSWORD and has_factor:
            raise Conflict("a second factor is already set up: sign in with it first")
        options = generate_registration_options(
            rp_id=rp_id,
            rp_name=RP_NAME,
            user_name=person.email,
            user_id=f"dealvault-person-{person.id}".encode(),
            user_display_name=person.name,
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=c.credential_id) for c in _credentials(s, person)
            ],
        )
        _row(s, actor).challenge = options.challenge
        audit(stores, uow, event)
        return str(options_to_json(options))


def _credentials(s: Session, person: Person) -> list[WebAuthnCredential]:
    q = select(WebAuthnCredential).where(WebAuthnCredential.person_id == person.id)
    return list(s.scalars(q))


def finish_registration(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    rules: AccountRules,
    credential: dict[str, Any],
    name: str = "passkey",
) -> Enrolled | None:
    """Check the authenticator's answer and keep the passkey's public key. At sign-up the
    session is then fully signed in and recovery codes are returned (once)."""
    from webauthn import verify_registration_response
    from webauthn.helpers.exceptions import WebAuthnException

    rp_id, origin = relying_party(rules)
    with stores.unit_of_work() as uow:
        s = uow.records
        person, event = authorize(
            stores, s, actor=actor, action=OWN_ACCOUNT, event=EventIn(action="account.passkey_add")
        )
        row = _row(s, actor)
        challenge, row.challenge = row.challenge, None
        if not challenge:
            raise Conflict("no passkey registration is pending: start it first")
        try:
            found = verify_registration_response(
                credential=json.dumps(credential),
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise Invalid(f"the passkey was not accepted ({type(exc).__name__})") from None
        s.add(
            WebAuthnCredential(
                person_id=person.id,
                credential_id=found.credential_id,
                public_key=found.credential_public_key,
                sign_count=found.sign_count,
                name=name[:100] or "passkey",
            )
        )
        enrolled: Enrolled | None = None
        if row.factor is None:  # sign-up: this is the account's second factor
            key = keyring.store_key(uow.keys, purpose=acc.ACCOUNT_KEY_PURPOSE, create=True)
            assert key is not None
            codes = totp.new_recovery_codes()
            acc.store_recovery_codes(s, key, person=person, codes=codes)
            row.factor = "webauthn"
            sid, csrf = acc.rotate_session(s, row)
            enrolled = Enrolled(
                recovery_codes=codes,
                session=SignIn(
                    session_id=row.id, secret=sid, csrf=csrf, email=person.email, next=None
                ),
            )
        audit(stores, uow, event)
        checkpoint(stores, uow, reason="passkey registered")
        return enrolled


def begin_sign_in(stores: AppStores, *, actor: Principal, rules: AccountRules) -> str:
    """Request options (JSON) for the passkeys of a session that passed its password."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

    rp_id, _ = relying_party(rules)
    if actor.authn is not Authn.PASSWORD:
        raise Invalid("this step is for a session that passed its password only")
    with stores.unit_of_work() as uow:
        s = uow.records
        row = _row(s, actor)
        person = s.get(Person, row.person_id)
        assert person is not None
        creds = _credentials(s, person)
        if not creds:
            raise Invalid("this account has no passkey: use the TOTP code")
        options = generate_authentication_options(
            rp_id=rp_id,
            allow_credentials=[PublicKeyCredentialDescriptor(id=c.credential_id) for c in creds],
        )
        row.challenge = options.challenge
        return str(options_to_json(options))


def finish_sign_in(
    stores: AppStores,
    *,
    actor: Principal,
    rules: AccountRules,
    credential: dict[str, Any],
    client: str | None,
) -> SignIn:
    """Check the passkey's signature over the challenge: the session is signed in."""
    from webauthn import verify_authentication_response
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.exceptions import WebAuthnException

    rp_id, origin = relying_party(rules)
    if actor.authn is not Authn.PASSWORD:
        raise Invalid("this step is for a session that passed its password only")
    with stores.records_session() as s:
        row = _row(s, actor)
        person = s.get(Person, row.person_id)
        assert person is not None
        email, person_id = person.email, person.id
        refuse_if_locked(
            stores,
            s,
            keys=[throttle.client_key(client), throttle.account_key(person_id)],
            actor=email,
            client=client,
        )
    problem = "the passkey's answer does not verify"
    with stores.unit_of_work() as uow:
        s = uow.records
        row = _row(s, actor)
        challenge, row.challenge = row.challenge, None
        try:
            raw_id = base64url_to_bytes(str(credential["rawId"]))
        except (KeyError, ValueError, TypeError):
            raw_id = b""
        cred = s.scalar(
            select(WebAuthnCredential).where(
                WebAuthnCredential.credential_id == raw_id,
                WebAuthnCredential.person_id == person_id,
            )
        )
        if challenge and cred is not None:
            try:
                found = verify_authentication_response(
                    credential=json.dumps(credential),
                    expected_challenge=challenge,
                    expected_rp_id=rp_id,
                    expected_origin=origin,
                    credential_public_key=cred.public_key,
                    credential_current_sign_count=cred.sign_count,
                )
            except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
                problem = f"the passkey's answer does not verify ({type(exc).__name__})"
            else:
                cred.sign_count = found.new_sign_count
                row.factor = "webauthn"
                row.last_seen_at = utcnow()
                sid, csrf = acc.rotate_session(s, row)
                throttle.clear(s, throttle.account_key(person_id))
                audit(
                    stores,
                    uow,
                    EventIn(
                        action="auth.second_factor",
                        actor=email,
                        authn=Authn.PASSWORD_WEBAUTHN.value,
                        session=row.id,
                        client=client,
                        device=actor.device,
                        decision="allow",
                        objects={"method": "webauthn"},
                    ),
                )
                return SignIn(session_id=row.id, secret=sid, csrf=csrf, email=email, next=None)
    record_failure(
        stores,
        rules=rules,
        action="auth.second_factor",
        actor=email,
        person_id=person_id,
        client=client,
        reason=problem[:200],
        device=actor.device,
    )
    raise Unauthenticated("the passkey was not accepted")
