"""A deal's members as the people who manage its sign-ins see them (``account.read``): each
person's roles and sign-in state (invited, password set, second factor, disabled) and when
they were last seen. Never a secret: no link, no session id, no device."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select

from dealvault.access import service as access
from dealvault.access.models import Membership, Organization, Person
from dealvault.access.principal import Principal
from dealvault.accounts.models import Account, AccountLink, AuthSession, WebAuthnCredential
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize

#: the sign-in states, in the order a person goes through them
NOT_INVITED = "not_invited"  # registered, never invited to sign in
INVITED = "invited"  # an invitation waits, unused and unexpired
INVITATION_EXPIRED = "invitation_expired"  # the invitation ran out unused
NO_SECOND_FACTOR = "no_second_factor"  # password set, second factor not yet enrolled
ACTIVE = "active"  # password and second factor: signs in fully
DISABLED = "disabled"  # sign-in disabled by a steward or security officer


class MemberAccountOut(BaseModel):
    email: str
    name: str
    organization: str
    roles: list[str]
    #: one of the states above
    state: str
    #: the newest invitation's expiry (None: never invited)
    invited_until: datetime | None
    disabled_at: datetime | None
    #: the last request of any of the person's sessions (None: never signed in)
    last_seen_at: datetime | None


def _state(
    account: Account | None, *, passkey: bool, invited_until: datetime | None, now: datetime
) -> str:
    if account is not None and account.disabled_at is not None:
        return DISABLED
    if account is not None and account.password_hash is not None:
        return ACTIVE if account.totp_enrolled_at is not None or passkey else NO_SECOND_FACTOR
    if invited_until is None:
        return NOT_INVITED
    return INVITED if invited_until > now else INVITATION_EXPIRED


def deal_members(stores: AppStores, *, actor: Principal, deal: str) -> list[MemberAccountOut]:
    """Every member of ``deal`` with their roles and sign-in state, by organisation and
    name. A fixed number of queries, whatever the number of members."""
    now = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(
            stores, s, actor=actor, action="account.read", deal=d,
            event=EventIn(action="account.list"),
        )  # fmt: skip
        rows = s.execute(
            select(Person.id, Person.email, Person.name, Organization.name, Membership.role)
            .join(Membership, Membership.person_id == Person.id)
            .join(Organization, Organization.id == Person.organization_id)
            .where(Membership.deal_id == d.id)
            .order_by(Organization.name, Person.name, Person.email, Membership.id)
        ).all()
        people: dict[int, tuple[str, str, str, list[str]]] = {}
        for pid, email, name, org, role in rows:
            people.setdefault(pid, (email, name, org, []))[3].append(role)
        ids = list(people)
        accounts = {
            a.person_id: a for a in s.scalars(select(Account).where(Account.person_id.in_(ids)))
        }
        passkeys = set(
            s.scalars(
                select(WebAuthnCredential.person_id)
                .where(WebAuthnCredential.person_id.in_(ids))
                .distinct()
            )
        )
        invited = dict(
            s.execute(
                select(AccountLink.person_id, func.max(AccountLink.expires_at))
                .where(
                    AccountLink.person_id.in_(ids),
                    AccountLink.kind == "invite",
                    AccountLink.used_at.is_(None),
                )
                .group_by(AccountLink.person_id)
            ).all()
        )
        seen = dict(
            s.execute(
                select(AuthSession.person_id, func.max(AuthSession.last_seen_at))
                .where(AuthSession.person_id.in_(ids))
                .group_by(AuthSession.person_id)
            ).all()
        )
        out = [
            MemberAccountOut(
                email=email,
                name=name,
                organization=org,
                roles=roles,
                state=_state(
                    accounts.get(pid),
                    passkey=pid in passkeys,
                    invited_until=invited.get(pid),
                    now=now,
                ),
                invited_until=invited.get(pid),
                disabled_at=accounts[pid].disabled_at if pid in accounts else None,
                last_seen_at=seen.get(pid),
            )
            for pid, (email, name, org, roles) in people.items()
        ]
        audit(stores, uow, replace(event, counts={"members": len(out)}))
        return out
