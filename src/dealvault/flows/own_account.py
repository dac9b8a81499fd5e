"""One's own sessions and personal API tokens: list them, end one, make one (its secret is
shown once), revoke one. Each is the ``account.own`` action of the acting person."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select

from dealvault.access.principal import Authn, Principal
from dealvault.access.scopes import OWN_ACCOUNT, SCOPES
from dealvault.accounts import service as acc
from dealvault.accounts.models import ApiToken, AuthSession
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import Forbidden, Invalid, NotFound
from dealvault.flows.accounts import AccountRules
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client: str | None
    second_factor: bool
    current: bool


class TokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked: bool


class NewToken(BaseModel):
    token: TokenOut
    secret: str


def list_sessions(stores: AppStores, *, actor: Principal) -> list[SessionOut]:
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action=OWN_ACCOUNT,
            event=EventIn(action="auth.sessions"),
        )
        now = utcnow()
        rows = uow.records.scalars(
            select(AuthSession)
            .where(
                AuthSession.person_id == person.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .order_by(AuthSession.created_at)
        )
        out = [
            SessionOut(
                id=r.id,
                created_at=r.created_at,
                last_seen_at=r.last_seen_at,
                expires_at=r.expires_at,
                client=r.client,
                second_factor=r.factor is not None,
                current=r.id == actor.session_id,
            )
            for r in rows
        ]
        audit(stores, uow, event)
        return out


def revoke_session(stores: AppStores, *, actor: Principal, session_id: str) -> None:
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action=OWN_ACCOUNT,
            event=EventIn(action="auth.session_revoke", objects={"session": session_id}),
        )
        row = uow.records.get(AuthSession, session_id)
        if row is None or row.person_id != person.id:
            raise NotFound(f"no session {session_id!r} of yours")
        row.revoked_at = row.revoked_at or utcnow()
        audit(stores, uow, event)


def create_token(
    stores: AppStores,
    *,
    actor: Principal,
    rules: AccountRules,
    name: str,
    scopes: list[str],
    days: int,
) -> NewToken:
    """A personal API token (its secret is returned once, only its digest is kept). Only a
    complete sign-in makes one: a token made by a session with the password only would stand
    in for the second factor it never gave."""
    if actor.authn not in (Authn.PASSWORD_TOTP, Authn.PASSWORD_WEBAUTHN):
        raise Forbidden(
            "an API token needs a complete sign-in (password and second factor)", code="denied"
        )
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise Invalid(
            f"token scopes: choose from {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})"
        )
    if days < 1 or timedelta(days=days) > rules.token_max:
        raise Invalid(f"a token lives 1 to {rules.token_max.days} days")
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action=OWN_ACCOUNT,
            event=EventIn(action="auth.token_create", objects={"scopes": " ".join(sorted(scopes))}),
        )
        secret, row = acc.new_token(
            uow.records,
            person=person,
            name=name,
            scopes=frozenset(scopes),
            valid_for=timedelta(days=days),
        )
        audit(stores, uow, replace(event, objects={**event.objects, "token": row.id}))
        return NewToken(token=_token_view(row), secret=secret)


def _token_view(row: ApiToken) -> TokenOut:
    return TokenOut(
        id=row.id,
        name=row.name,
        scopes=row.scopes.split(),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked_at is not None,
    )


def list_tokens(stores: AppStores, *, actor: Principal) -> list[TokenOut]:
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action=OWN_ACCOUNT,
            event=EventIn(action="auth.tokens"),
        )
        rows = uow.records.scalars(
            select(ApiToken).where(ApiToken.person_id == person.id).order_by(ApiToken.created_at)
        )
        out = [_token_view(r) for r in rows]
        audit(stores, uow, event)
        return out


def revoke_token(stores: AppStores, *, actor: Principal, token_id: str) -> TokenOut:
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action=OWN_ACCOUNT,
            event=EventIn(action="auth.token_revoke", objects={"token": token_id}),
        )
        row = acc.token_of(uow.records, person=person, token_id=token_id)
        row.revoked_at = row.revoked_at or utcnow()
        audit(stores, uow, event)
        return _token_view(row)
