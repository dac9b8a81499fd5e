"""One's own profile (name, organisation, language, time zone) and its preferences, and
signing out everywhere: each the ``account.own`` action of the acting person."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel
from sqlalchemy import update

from dealvault.access.principal import Principal
from dealvault.access.scopes import OWN_ACCOUNT
from dealvault.accounts import service as acc
from dealvault.accounts.models import AuthSession
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize

#: the languages of the pages and mails
LANGUAGES = ("zh", "en")
DEFAULT_TIME_ZONE = "Asia/Shanghai"


class ProfileOut(BaseModel):
    email: str
    name: str
    organization: str
    #: None: not chosen yet (the browser's language is used)
    language: str | None
    time_zone: str


def _zone(name: str) -> str:
    name = name.strip()
    if name not in available_timezones():
        raise Invalid(f"time zone: {name[:64]!r} is not an IANA time zone (e.g. Asia/Shanghai)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed but broken
        raise Invalid(f"time zone: {name[:64]!r} cannot be loaded") from exc
    return name


def profile(stores: AppStores, *, actor: Principal) -> ProfileOut:
    """Who the acting person is and how their pages are shown."""
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores, uow.records, actor=actor, action=OWN_ACCOUNT,
            event=EventIn(action="account.profile"),
        )  # fmt: skip
        account = acc.account_of(uow.records, person, create=False)
        out = ProfileOut(
            email=person.email,
            name=person.name,
            organization=person.organization.name,
            language=account.language if account else None,
            time_zone=(account.time_zone if account else None) or DEFAULT_TIME_ZONE,
        )
        audit(stores, uow, event)
        return out


def set_preferences(
    stores: AppStores, *, actor: Principal, language: str | None, time_zone: str | None
) -> ProfileOut:
    """Keep the acting person's language (zh or en) and time zone (IANA name) with the
    account; a value not given stays as it is."""
    if language is not None and language not in LANGUAGES:
        raise Invalid(f"language: choose {' or '.join(LANGUAGES)}")
    zone = None if time_zone is None else _zone(time_zone)
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores, uow.records, actor=actor, action=OWN_ACCOUNT,
            event=EventIn(action="account.preferences"),
        )  # fmt: skip
        account = acc.account_of(uow.records, person, create=True)
        assert account is not None
        if language is not None:
            account.language = language
        if zone is not None:
            account.time_zone = zone
        changed = {"language": account.language or "", "time_zone": account.time_zone or ""}
        audit(stores, uow, replace(event, objects=changed))
        return ProfileOut(
            email=person.email,
            name=person.name,
            organization=person.organization.name,
            language=account.language,
            time_zone=account.time_zone or DEFAULT_TIME_ZONE,
        )


def sign_out_everywhere(stores: AppStores, *, actor: Principal) -> int:
    """End every live session of the acting person, the current one included; the number
    ended."""
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores, uow.records, actor=actor, action=OWN_ACCOUNT,
            event=EventIn(action="auth.sessions_revoke_all"),
        )  # fmt: skip
        now = utcnow()
        result = uow.records.execute(
            update(AuthSession)
            .where(
                AuthSession.person_id == person.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .values(revoked_at=now)
        )
        ended = int(getattr(result, "rowcount", 0) or 0)
        audit(stores, uow, replace(event, counts={"sessions": ended}))
        return ended
