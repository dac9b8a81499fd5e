"""A canary hit: a canary customer's phone or e-mail used outside. The canary is found by its
keyed hash, traced to the recipient it was released to, a critical alert names that
recipient, and the deal is frozen when the rule says so. The contact point itself is never
recorded, logged or shown: only the canary's id (or, for no canary, the keyed hash)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
from pydantic import BaseModel, Field

from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Invalid
from dealvault.flows.alert_delivery import Delivery, deliver_pending
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.flows.monitoring import freeze_for_alert
from dealvault.monitor import canary
from dealvault.monitor.alerts import record_hits
from dealvault.monitor.hits import HITS
from dealvault.monitor.rules import active_rules
from dealvault.transfer.canary_seal import CanaryKeys


class CanaryHitOut(BaseModel):
    """What a reported hit found: the canary and its recipient, the alert, the freeze."""

    matched: bool = Field(description="A canary has this contact point.")
    channel: str
    at: datetime
    canary: str | None = Field(default=None, description="The canary's subject id.")
    deal: str | None = None
    dataset: str | None = None
    recipient: str | None = Field(default=None, description="Who the canary was released to.")
    releases: int = Field(default=0, description="Audited releases that carried it.")
    alert: int | None = None
    frozen: bool = Field(default=False, description="This hit froze the deal.")
    delivered: int = 0


def report_hit(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    channel: str,
    value: str,
    at: datetime | None = None,
    source: str = "cli",
    delivery: Delivery | None = None,
) -> CanaryHitOut:
    """Report that ``value`` (a phone number or e-mail address, per ``channel``) was contacted
    at ``at``. Decided as ``canary.hit``; recorded with the canary's id, never the value."""
    contact = canary.normalised(channel, value)
    when = (at or utcnow()).astimezone(UTC)
    if when > utcnow() + timedelta(minutes=5):
        raise Invalid("the time of the hit is in the future")
    with stores.unit_of_work() as uow:
        s = uow.records
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="canary.hit",
            event=EventIn(
                action="canary.hit",
                objects={"channel": channel, "source": source, "at": when.isoformat()},
            ),
        )
        keys = CanaryKeys.of(keyring, uow.keys, create=False)
        mac = canary.contact_mac(keys, channel, contact) if keys is not None else None
        row = canary.find(s, channel=channel, value=contact, mac=mac)
        if row is None:
            objects = {**event.objects, "result": "no canary", "contact_mac": mac}
            audit(stores, uow, replace(event, objects=objects))
            return CanaryHitOut(matched=False, channel=channel, at=when)
        found = canary.trace(s, row)
        rules = active_rules(s)
        hits = _hits(
            found, channel=channel, at=when, rules=[r.id for r in rules.of_kind("canary_hit")]
        )
        new, grown = record_hits(s, hits, rules=rules)
        alert = next(iter([*new, *grown]), None)
        fresh = bool(new)
        frozen = False
        if alert is not None and alert.severity == "critical":
            rule = rules.get(alert.rule)
            if rule is not None and rule.freeze and not alert.froze:
                frozen = freeze_for_alert(stores, uow, actor=actor, alert=alert)
        audit(
            stores,
            uow,
            replace(
                event,
                deal=found.deal,
                objects={
                    **event.objects,
                    "result": "canary",
                    "canary": found.subject_id,
                    "dataset": found.dataset,
                    "recipient": found.recipient,
                    "alert": alert.id if alert is not None else None,
                },
                counts={"releases": found.releases, "frozen": int(frozen)},
                subjects=[found.subject_id],
            ),
        )
        out = CanaryHitOut(
            matched=True,
            channel=channel,
            at=when,
            canary=found.subject_id,
            deal=found.deal,
            dataset=found.dataset,
            recipient=found.recipient,
            releases=found.releases,
            alert=alert.id if alert is not None else None,
            frozen=frozen,
        )
    if delivery is not None and out.alert is not None and fresh:
        out.delivered, _ = deliver_pending(stores, delivery, ids=[out.alert])
    return out


def _hits(
    found: canary.CanaryFound, *, channel: str, at: datetime, rules: list[str]
) -> pl.DataFrame:
    released = (
        f"in {found.releases} audited release(s), events {found.first_release_seq} to "
        f"{found.last_release_seq}"
        if found.releases
        else "(no audited release carried it: check the package ledger)"
    )
    what = "phone" if channel == "phone" else "e-mail address"
    explanation = (
        f"The {what} of canary customer {found.subject_id} (dataset {found.dataset}, deal "
        f"{found.deal}) was contacted at {at:%Y-%m-%d %H:%M:%S} UTC. That canary was released "
        f"only to {found.recipient} {released}: a copy {found.recipient} received has reached "
        "someone outside."
    )
    details = {
        "canary": found.subject_id,
        "recipient": found.recipient,
        "dataset": found.dataset,
        "channel": channel,
        "releases": found.releases,
        "first_release_seq": found.first_release_seq,
        "last_release_seq": found.last_release_seq,
    }
    rows = [
        {
            "rule": rule,
            "seq": None,
            "ts": at,
            "deal": found.deal,
            "subject": f"canary #{found.canary_id}",
            "title": f"canary {found.subject_id} contacted: leak from {found.recipient}",
            "explanation": explanation,
            "details": json.dumps(details, ensure_ascii=False, sort_keys=True),
        }
        for rule in rules
    ]
    return pl.DataFrame(rows, schema=HITS) if rows else pl.DataFrame(schema=HITS)
