"""An incident's legal records read back: its awareness time and regimes, the notices sent
(which stop the clocks), its clocks now, and its notices as shown (with partners' acks)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.errors import NotFound
from dealvault.incidents import clocks as legal
from dealvault.incidents.models import Incident, IncidentLegal, IncidentNotice, PartnerAck
from dealvault.incidents.notice_schemas import AckOut, NoticeOut


def legal_state(s: Session, row: Incident) -> tuple[datetime, list[str], str | None]:
    """(awareness time, regimes, why the time was set): the opening time and PIPL unless the
    team set them."""
    got = s.get(IncidentLegal, row.id)
    if got is None:
        return row.opened_at, ["pipl"], None
    return got.aware_at or row.opened_at, json.loads(got.regimes), got.aware_reason


def sent_notices(s: Session, *, incident_id: int) -> dict[str, tuple[int, datetime]]:
    """Notice kind -> (id, time) of its first notice marked sent."""
    out: dict[str, tuple[int, datetime]] = {}
    for n in s.scalars(
        select(IncidentNotice)
        .where(IncidentNotice.incident_id == incident_id, IncidentNotice.sent_at.is_not(None))
        .order_by(IncidentNotice.sent_at)
    ):
        assert n.sent_at is not None
        out.setdefault(n.kind, (n.id, n.sent_at))
    return out


def clock_file(s: Session, row: Incident) -> legal.ClockFile:
    """The clocks in force for the incident: the file the team set, else the shipped one."""
    got = s.get(IncidentLegal, row.id)
    if got is None or got.clocks is None:
        return legal.shipped_clocks()
    return legal.parse_clocks(got.clocks, where=f"the clocks of incident {row.id}")


def clocks_of(s: Session, row: Incident, *, now: datetime) -> list[legal.ClockOut]:
    """The incident's clocks at ``now``."""
    aware, regimes, _ = legal_state(s, row)
    return legal.evaluate(
        clock_file(s, row),
        regimes=regimes,
        aware_at=aware,
        sent=sent_notices(s, incident_id=row.id),
        now=now,
    )


def notice_view(s: Session, n: IncidentNotice, *, with_body: bool = False) -> NoticeOut:
    acks = list(
        s.scalars(select(PartnerAck).where(PartnerAck.notice_id == n.id).order_by(PartnerAck.at))
    )
    to = json.loads(n.addressees)
    done = {a.organisation for a in acks}
    return NoticeOut(
        id=n.id,
        incident=n.incident_id,
        kind=n.kind,
        status=n.status,
        language=n.language,
        missing=json.loads(n.missing),
        sha256=n.sha256,
        created_by=n.created_by,
        created_at=n.created_at,
        finalised_by=n.finalised_by,
        finalised_at=n.finalised_at,
        sent_by=n.sent_by,
        sent_at=n.sent_at,
        channel=n.channel,
        addressees=to,
        acknowledged=[AckOut(organisation=a.organisation, email=a.email, at=a.at) for a in acks],
        waiting=[o for o in to if o not in done],
        body=n.body if with_body else None,
    )


def get_notice(s: Session, *, notice_id: int) -> IncidentNotice:
    n = s.get(IncidentNotice, notice_id)
    if n is None:
        raise NotFound(f"notice {notice_id} not found")
    return n


def partner_notices(s: Session, *, incident_id: int) -> list[NoticeOut]:
    """The incident's partner notices, with who acknowledged and who has not."""
    rows = s.scalars(
        select(IncidentNotice)
        .where(IncidentNotice.incident_id == incident_id, IncidentNotice.kind == "partner")
        .order_by(IncidentNotice.id)
    )
    return [notice_view(s, n) for n in rows]


#: who each kind of notice is for
AUDIENCE = {
    "pipl-authority": "authority",
    "gdpr-authority": "authority",
    "pipl-customers": "customers",
    "gdpr-subjects": "customers",
    "partner": "partners",
}


def notice_lines(s: Session, *, incident_id: int) -> list[dict[str, object]]:
    """One line per notice and per customer notice batch of the incident (kind, status,
    audience, sent_at, channel, count): what a post-incident report lists. No text."""
    from dealvault.notices.service import batches_of, counts_of

    out: list[dict[str, object]] = []
    for n in s.scalars(
        select(IncidentNotice)
        .where(IncidentNotice.incident_id == incident_id)
        .order_by(IncidentNotice.id)
    ):
        out.append(
            {
                "kind": n.kind,
                "status": n.status,
                "audience": AUDIENCE.get(n.kind, ""),
                "sent_at": n.sent_at,
                "channel": n.channel,
                "count": None,
            }
        )
    batches = batches_of(s, ref=f"incident:{incident_id}")
    counts = counts_of(s, batch_ids=[b.id for b in batches])
    for b in batches:
        c = counts[b.id]
        done = c.get("delivered", 0)
        out.append(
            {
                "kind": f"customer-{b.channel}",
                "status": f"delivered {done} of {b.customers}",
                "audience": "customers",
                "sent_at": b.created_at,
                "channel": b.channel,
                "count": b.customers,
            }
        )
    return out
