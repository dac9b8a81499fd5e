"""Delivering new alerts after their transaction committed: by mail to the people who act on
them and by a signed webhook; each alert's delivery state is kept with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.actions import StoreRole
from dealvault.access.models import Deal, Membership, Person, StoreRoleGrant
from dealvault.access.stages import MemberRole
from dealvault.config import Settings
from dealvault.db.base import utcnow
from dealvault.errors import DealvaultError
from dealvault.flows.context import AppStores
from dealvault.monitor import delivery as wire
from dealvault.monitor.alerts import AlertOut, alert_view
from dealvault.monitor.models import Alert

#: (to, subject, body): the same shape as the account mails' sender.
Mailer = Callable[[str, str, str], None]
#: After this many failed attempts an alert is no longer sent (its error stays with it).
MAX_ATTEMPTS: Final = 5
#: Who is mailed a deal's alerts.
DEAL_ROLES: Final = (MemberRole.SELLER_STEWARD.value, MemberRole.SECURITY_OFFICER.value)


@dataclass(frozen=True)
class Delivery:
    """Where new alerts go: a mailer (None: no mail), more addresses, a webhook and its key."""

    mailer: Mailer | None = None
    mail_to: tuple[str, ...] = ()
    webhook_url: str | None = None
    webhook_secret: bytes | None = None
    public_url: str = "https://localhost:8443"

    def __repr__(self) -> str:
        return f"Delivery(mail={self.mailer is not None}, webhook={self.webhook_url is not None})"

    @property
    def enabled(self) -> bool:
        return self.mailer is not None or self.webhook_url is not None

    @classmethod
    def from_settings(cls, settings: Settings, *, mailer: Mailer | None = None) -> Delivery:
        """From the settings; mail only when ``alert_mail`` is on (through ``mailer``, by
        default the configured SMTP server)."""
        send: Mailer | None = None
        if settings.alert_mail:
            if mailer is None:
                from dealvault import mail

                def smtp(to: str, subject: str, body: str) -> None:
                    mail.send(settings, to=to, subject=subject, body=body)

                mailer = smtp
            send = mailer
        secret = settings.alert_webhook_secret
        return cls(
            mailer=send,
            mail_to=tuple(settings.alert_mail_to),
            webhook_url=settings.alert_webhook_url,
            webhook_secret=secret.get_secret_value().encode() if secret is not None else None,
            public_url=settings.public_url,
        )


def recipients(session: Session, *, deal: str | None) -> list[str]:
    """The seller stewards and security officers of ``deal``; the operators for the store."""
    if deal is not None:
        q = (
            select(Person.email)
            .join(Membership, Membership.person_id == Person.id)
            .join(Deal, Deal.id == Membership.deal_id)
            .where(Deal.code == deal, Membership.role.in_(DEAL_ROLES))
        )
    else:
        q = (
            select(Person.email)
            .join(StoreRoleGrant, StoreRoleGrant.person_id == Person.id)
            .where(
                StoreRoleGrant.role == StoreRole.OPERATOR.value,
                StoreRoleGrant.revoked_at.is_(None),
            )
        )
    return sorted(set(session.scalars(q)))


def _send(delivery: Delivery, alert: AlertOut, to: Sequence[str]) -> list[str]:
    """Send one alert everywhere it goes; the problems, each without any value."""
    problems: list[str] = []
    if delivery.mailer is not None:
        subject, body = wire.mail_text(alert, public_url=delivery.public_url)
        for address in dict.fromkeys([*to, *delivery.mail_to]):
            try:
                delivery.mailer(address, subject, body)
            except DealvaultError as exc:
                problems.append(f"mail to {address}: {exc}")
    if delivery.webhook_url is not None:
        if delivery.webhook_secret is None:
            problems.append("webhook: alert_webhook_secret is not set; nothing was sent")
        else:
            try:
                wire.post(
                    delivery.webhook_url, secret=delivery.webhook_secret, doc=wire.payload(alert)
                )
            except DealvaultError as exc:
                problems.append(f"webhook: {exc}")
    return problems


def deliver_pending(
    stores: AppStores, delivery: Delivery, *, ids: Sequence[int] | None = None
) -> tuple[int, int]:
    """Send the alerts not delivered yet (``ids``: only those), outside any transaction, then
    record each one's outcome. Returns (delivered, failed)."""
    if not delivery.enabled:
        return 0, 0
    with stores.records_session() as s:
        q = select(Alert).where(
            Alert.delivered_at.is_(None), Alert.delivery_attempts < MAX_ATTEMPTS
        )
        if ids is not None:
            if not ids:
                return 0, 0
            q = q.where(Alert.id.in_(list(ids)))
        rows = list(s.scalars(q.order_by(Alert.id).limit(500)))
        work = [(alert_view(r), recipients(s, deal=r.deal)) for r in rows]
    outcome = {a.id: _send(delivery, a, to) for a, to in work}
    if not outcome:
        return 0, 0
    with stores.unit_of_work() as uow:
        now = utcnow()
        for row in uow.records.scalars(select(Alert).where(Alert.id.in_(list(outcome)))):
            problems = outcome[row.id]
            row.delivery_attempts = (row.delivery_attempts or 0) + 1
            row.delivery_error = "; ".join(problems)[:2000] if problems else None
            if not problems:
                row.delivered_at = now
    failed = sum(1 for p in outcome.values() if p)
    return len(outcome) - failed, failed
