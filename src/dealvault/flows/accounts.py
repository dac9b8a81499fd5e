"""Use cases around accounts: invitations, activation, TOTP enrolment, disabling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.models import Person
from dealvault.access.principal import Authn, Principal
from dealvault.access.scopes import OWN_ACCOUNT
from dealvault.accounts import mails, passwords, totp
from dealvault.accounts import service as acc
from dealvault.accounts.models import AuthSession
from dealvault.accounts.throttle import Limits
from dealvault.audit.service import EventIn
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Forbidden, Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint

#: (to, subject, body): sends one mail, raises Unavailable when it cannot
Mailer = Callable[[str, str, str], None]
ISSUER = "dealvault"


@dataclass(frozen=True)
class AccountRules:
    """The account settings the use cases need, read once from the settings at the edge."""

    timeouts: acc.Timeouts
    limits: Limits
    invite_valid: timedelta
    reset_valid: timedelta
    token_max: timedelta
    password_min: int
    public_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> AccountRules:
        return cls(
            timeouts=acc.Timeouts(
                idle=timedelta(minutes=settings.session_idle_minutes),
                absolute=timedelta(hours=settings.session_absolute_hours),
            ),
            limits=Limits(
                account_failures=settings.login_max_failures,
                client_failures=settings.client_max_failures,
                lockout=timedelta(minutes=settings.lockout_minutes),
            ),
            invite_valid=timedelta(hours=settings.invite_expiry_hours),
            reset_valid=timedelta(minutes=settings.reset_expiry_minutes),
            token_max=timedelta(days=settings.token_max_days),
            password_min=settings.password_min_length,
            public_url=settings.public_url.rstrip("/"),
        )


class InviteOut(BaseModel):
    email: str
    deal: str
    role: str
    expires_at: datetime
    mailed: bool


class SignIn(BaseModel):
    """A session after a sign-in step: its secret and CSRF token are shown once, to the
    person signing in. ``next`` says what is still needed: ``totp`` (a code), ``enrol`` (set
    up a second factor) or nothing."""

    session_id: str
    secret: str
    csrf: str
    email: str
    next: str | None


class TotpEnrolment(BaseModel):
    uri: str
    qr_svg: str


class Enrolled(BaseModel):
    recovery_codes: list[str]
    session: SignIn


class AccountOut(BaseModel):
    email: str
    name: str
    organization: str
    active: bool
    second_factor: bool
    disabled: bool


def invite(
    stores: AppStores,
    *,
    actor: Principal,
    rules: AccountRules,
    mailer: Mailer,
    deal: str,
    email: str,
    role: str,
    name: str | None = None,
    organization: str | None = None,
) -> InviteOut:
    """Invite a person to sign in with ``role`` in ``deal``: the person is registered (in an
    organisation that is a party to the deal) if new, given the role, and mailed a one-time
    link. The link goes to the person only; nobody else ever sees it."""
    email = email.strip().lower()
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        who, event = authorize(
            stores,
            s,
            actor=actor,
            action="account.invite",
            deal=d,
            targets_self=email == actor.email,
            event=EventIn(action="account.invite", objects={"person": email, "role": role}),
        )
        person = s.scalar(select(Person).where(Person.email == email))
        if person is None:
            if not name or not organization:
                raise Invalid(f"{email} is not registered yet: give --name and --org")
            org = access.get_organization(s, name=organization)
            if access.party_of(d, org.id) is None:
                raise Invalid(f"{organization!r} is not a party to deal {deal!r}; add it first")
            person = access.create_person(s, email=email, name=name, organization=organization)
        if role not in {r.value for r in access.member_roles(s, deal=d, person=person)}:
            access.add_member(s, deal=d, person=person, role=role)
        acc.account_of(s, person, create=True)
        secret, link = acc.new_link(
            s,
            kind="invite",
            person=person,
            valid_for=rules.invite_valid,
            created_by=who,
            deal_id=d.id,
            role=role,
        )
        audit(stores, uow, event)
        checkpoint(stores, uow, reason=f"deal {deal}: {role} invited")
        subject, body = mails.invitation(
            public_url=rules.public_url, secret=secret, deal=d.name, code=d.code, role=role,
            by=who.name, until=link.expires_at,
        )  # fmt: skip
        mailer(person.email, subject, body)
        return InviteOut(
            email=person.email, deal=d.code, role=role, expires_at=link.expires_at, mailed=True
        )


def activate(
    stores: AppStores,
    *,
    rules: AccountRules,
    secret: str,
    password: str,
    client: str | None,
    device: str | None = None,
) -> SignIn:
    """Follow an invitation: set the password; the session that starts may only enrol a
    second factor. ``device``: the browser's or client's device id (``access.device``)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        link = acc.use_link(s, kind="invite", secret=secret)
        person = s.get(Person, link.person_id)
        assert person is not None
        passwords.check_new(
            password, email=person.email, name=person.name, min_length=rules.password_min
        )
        account = acc.account_of(s, person, create=True)
        assert account is not None
        if account.password_hash is not None:
            raise Conflict("this account is already active: sign in, or reset the password")
        account.password_hash = passwords.hash_password(password)
        account.password_set_at = utcnow()
        sid, csrf, row = acc.open_session(s, person=person, client=client, timeouts=rules.timeouts)
        audit(
            stores,
            uow,
            EventIn(
                action="account.activate",
                actor=person.email,
                authn=Authn.LINK.value,
                session=row.id,
                client=client,
                device=device,
                decision="allow",
            ),
        )
        return SignIn(session_id=row.id, secret=sid, csrf=csrf, email=person.email, next="enrol")


def begin_totp(stores: AppStores, keyring: KeyRing, *, actor: Principal) -> TotpEnrolment:
    """A new TOTP secret for the acting person (pending until a code confirms it). With a
    device already set up this replaces it, from a session signed in with that device only;
    the current device stays in force until the new one is confirmed."""
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action=OWN_ACCOUNT,
            event=EventIn(action="account.totp_begin"),
        )
        account = acc.account_of(uow.records, person, create=True)
        assert account is not None
        replacing = account.totp_enrolled_at is not None
        if replacing and not actor.second_factor:
            # a password alone never changes the second factor (a lost device: a recovery
            # code signs in, then the device is replaced)
            raise Forbidden(
                "replacing the TOTP device needs a session signed in with a second factor",
                code="denied",
            )
        key = keyring.store_key(uow.keys, purpose=acc.ACCOUNT_KEY_PURPOSE, create=True)
        assert key is not None
        secret = totp.new_secret()
        sealed = acc.seal_totp(key, person_id=person.id, secret=secret)
        if replacing:
            account.totp_pending = sealed
            event = replace(event, objects={"replaces": "the current device"})
        else:
            account.totp_sealed = sealed
            account.totp_enrolled_at = None
        audit(stores, uow, event)
        uri = totp.provisioning_uri(secret, email=person.email, issuer=ISSUER)
        return TotpEnrolment(uri=uri, qr_svg=totp.qr_svg(uri))


def finish_totp(stores: AppStores, keyring: KeyRing, *, actor: Principal, code: str) -> Enrolled:
    """Confirm the pending TOTP secret with a code: the session gets its second factor (new
    secret), and ten recovery codes are returned, once."""
    with stores.unit_of_work() as uow:
        s = uow.records
        person, event = authorize(
            stores, s, actor=actor, action=OWN_ACCOUNT, event=EventIn(action="account.totp_enrol")
        )
        account = acc.account_of(s, person)
        pending = account.totp_pending if account is not None else None
        if account is None or (
            pending is None
            and (account.totp_sealed is None or account.totp_enrolled_at is not None)
        ):
            raise Conflict("no TOTP set-up is pending: start it first")
        key = keyring.store_key(uow.keys, purpose=acc.ACCOUNT_KEY_PURPOSE, create=False)
        if key is None:
            raise Conflict("no TOTP set-up is pending: start it first")
        sealed = pending if pending is not None else account.totp_sealed
        assert sealed is not None
        secret = acc.open_totp(key, person_id=person.id, sealed=sealed)
        # a new device's codes start afresh; the first device's must not replay
        step = totp.matching_step(
            secret, code, after=0 if pending is not None else account.totp_last_step
        )
        if step is None:
            raise Invalid("the code does not match: check the device's clock and try again")
        if pending is not None:  # the new device replaces the old one from now on
            account.totp_sealed, account.totp_pending = pending, None
            event = replace(event, action="account.totp_replace")
        account.totp_last_step = step
        account.totp_enrolled_at = utcnow()
        codes = totp.new_recovery_codes()
        acc.store_recovery_codes(s, key, person=person, codes=codes)
        row = _session_row(s, actor)
        row.factor = "totp"
        sid, csrf = acc.rotate_session(s, row)
        audit(stores, uow, event)
        checkpoint(stores, uow, reason="second factor enrolled")
        return Enrolled(
            recovery_codes=codes,
            session=SignIn(session_id=row.id, secret=sid, csrf=csrf, email=person.email, next=None),
        )


def _session_row(s: Session, actor: Principal) -> AuthSession:
    row = s.get(AuthSession, actor.session_id) if actor.session_id else None
    if row is None:
        raise Invalid("this step needs a server session")
    return row


def set_disabled(
    stores: AppStores, *, actor: Principal, deal: str, email: str, disabled: bool
) -> AccountOut:
    """Disable (every session and token stops at once) or enable a deal member's sign-in."""
    action = "account.disable" if disabled else "account.enable"
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        person = access.get_person(s, email=email)
        who, event = authorize(
            stores,
            s,
            actor=actor,
            action=action,
            deal=d,
            targets_self=False,
            event=EventIn(action=action, objects={"person": person.email}),
        )
        if not access.member_roles(s, deal=d, person=person):
            raise Invalid(f"{person.email} is not a member of deal {deal}")
        account = acc.account_of(s, person, create=True)
        assert account is not None
        if disabled:
            account.disabled_at, account.disabled_by = utcnow(), who.id
            acc.revoke_sessions(s, person_id=person.id)
        else:
            account.disabled_at, account.disabled_by = None, None
        audit(stores, uow, event)
        checkpoint(stores, uow, reason=f"{action} of a member of deal {deal}")
        return account_view(s, person)


def account_view(s: Session, person: Person) -> AccountOut:
    account = acc.account_of(s, person)
    return AccountOut(
        email=person.email,
        name=person.name,
        organization=person.organization.name,
        active=account is not None and account.password_hash is not None,
        second_factor=account is not None and account.totp_enrolled_at is not None,
        disabled=account is not None and account.disabled_at is not None,
    )
