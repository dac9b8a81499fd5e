"""Partner notices of an incident (seed 000 §18, 加强外部合作): a signed note for the security
contacts of the deal's other parties, with counts, the window and what to check, never a
personal value; verified offline with the issuing store's public key; acknowledged by the
partners' own people, each for their organisation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from dealvault.access import service as access
from dealvault.access.decision import Decision
from dealvault.access.principal import Principal
from dealvault.access.stages import PartyRole
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    Invalid,
    KeyUnavailable,
    NotFound,
)
from dealvault.files import read_text_file
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, enforce
from dealvault.flows.incidents import _authorized, compute_impact
from dealvault.incidents import partner
from dealvault.incidents.models import IncidentNotice, PartnerAck
from dealvault.incidents.notice_records import get_notice, notice_view
from dealvault.incidents.notice_schemas import NoticeOut
from dealvault.incidents.service import alert_ids, get_incident
from dealvault.monitor.models import Alert


def issue_partner_notice(
    stores: AppStores, *, actor: Principal, incident_id: int, contact: str
) -> NoticeOut:
    """Sign a partner notice addressed to every party of the deal but the seller: what
    happened (the rules its alerts fired and their counts: no person is named to the other
    parties), the customers concerned by category, who holds copies (organisations), the
    window, what to check, and the seller's contact."""
    signer = stores.audit.signer
    if signer is None:
        raise KeyUnavailable("this store has no audit signing key; run 'dealvault init'")
    if not contact.strip():
        raise Invalid("--contact: the seller's security contact for the partners")
    now = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.notice",
            event_action="incident.partner_notice",
        )
        deal = access.get_deal(s, code=row.deal)
        to = sorted({p.organization.name for p in deal.parties if p.role != PartyRole.SELLER})
        if not to:
            raise Conflict(f"deal {deal.code!r} has no party besides the seller")
        impact = compute_impact(s, row)
        ids = alert_ids(s, row)
        alerts = s.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id))
        # the rules that fired and their counts; never the titles, which name people
        what = [f"alert {a.id}: rule {a.rule} ({a.severity}), {a.count} event(s)" for a in alerts]
        n = IncidentNotice(
            incident_id=row.id,
            kind="partner",
            status="final",
            language="en",
            addressees=json.dumps(to, ensure_ascii=False),
            created_by=actor.email,
            created_at=now,
            finalised_by=actor.email,
            finalised_at=now,
        )
        s.add(n)
        s.flush()
        facts = partner.PartnerFacts(
            notice=n.id,
            incident=row.id,
            deal=row.deal,
            origin=stores.audit.origin,
            severity=row.severity,
            issued=now,
            window_start=row.window_start,
            window_end=row.window_end,
            what=what or [f"a {row.severity} security incident"],
            customers=impact.customers,
            categories=sorted(impact.by_category.items()),
            recipients=[(r.recipient, r.customers) for r in impact.recipients],
            addressees=to,
            contact=contact,
        )
        n.body = partner.sign_notice(facts, signer=signer)
        n.sha256 = hashlib.sha256(n.body.encode("utf-8")).hexdigest()
        s.flush()
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects)
                | {"notice": n.id, "kind": "partner", "sha256": n.sha256},
                counts={"addressees": len(to), "customers": impact.customers},
            ),
        )
        return notice_view(s, n, with_body=True)


def acknowledge(
    stores: AppStores, *, actor: Principal, notice_id: int, incident_id: int | None = None
) -> NoticeOut:
    """A partner's person acknowledges the notice for their organisation (once per
    organisation); a person of an organisation it is not addressed to is refused (recorded)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        n = get_notice(s, notice_id=notice_id)
        if incident_id is not None and n.incident_id != incident_id:
            raise NotFound(f"notice {notice_id} of incident {incident_id} not found")
        if n.kind != "partner":
            raise Invalid(f"notice {n.id} is no partner notice")
        row = get_incident(s, incident_id=n.incident_id)
        deal = access.get_deal(s, code=row.deal)
        person, event = authorize(
            stores,
            s,
            actor=actor,
            action="incident.partner_ack",
            deal=deal,
            event=EventIn(
                action="incident.partner_ack", objects={"incident": row.id, "notice": n.id}
            ),
        )
        org = person.organization.name
        if org not in json.loads(n.addressees):
            why = f"notice {n.id} is not addressed to {org}"
            enforce(stores, Decision(False, "none", (why,)), event)
            raise Forbidden(why)  # pragma: no cover - enforce() raised already
        if s.get(PartnerAck, (n.id, org)) is not None:
            raise Conflict(f"{org} has acknowledged notice {n.id} already")
        s.add(PartnerAck(notice_id=n.id, organisation=org, email=person.email, at=utcnow()))
        s.flush()
        audit(stores, uow, replace(event, objects=dict(event.objects) | {"organisation": org}))
        return notice_view(s, n)


def verify_partner_notice(path: Path, *, keys: list[str]) -> partner.Verified:
    """Check a partner notice file offline against the issuing store's verifier key(s): no
    store is read and nothing is recorded (a partner runs it on their own machine)."""
    note = read_text_file(path)
    try:
        return partner.verify_notice(note, keys=keys)
    except IntegrityError as exc:
        raise IntegrityError(f"{path.name}: {exc}") from None
    except Invalid as exc:
        raise Invalid(f"{path.name}: {exc}") from None
