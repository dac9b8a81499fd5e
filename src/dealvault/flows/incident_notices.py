"""Notices of an incident to the authority and the affected customers (PIPL art. 57, GDPR
art. 33 and 34): drafted from the impact analysis and the team's answers, finalised only when
every required field is there, marked sent (which stops its clock); and the per-customer
messages in bulk with a delivery file and the gateway's status imported back. Audited as kinds,
ids and counts: never a notice's text, an address or a message."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.principal import Principal
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.files import check_output_file, write_private
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit
from dealvault.flows.incidents import _authorized, compute_impact
from dealvault.incidents import legal_notices as texts
from dealvault.incidents.models import Incident, IncidentNotice
from dealvault.incidents.notice_records import get_notice, legal_state, notice_view
from dealvault.incidents.notice_schemas import BatchOut, NoticeOut
from dealvault.incidents.service import get_incident as registry_incident
from dealvault.notices import render, sending
from dealvault.notices import service as bulk

_CHANNEL = re.compile(r"[a-z][a-z0-9_-]{0,31}")
CUSTOMER_NOTICE = {"zh": "pipl-customers", "en": "gdpr-subjects"}


def _late(s: Session, row: Incident, kind: str, now: datetime) -> bool:
    aware, _, _ = legal_state(s, row)
    return kind == "gdpr-authority" and now > aware + timedelta(hours=texts.GDPR_HOURS)


def _render(s: Session, row: Incident, n: IncidentNotice, *, now: datetime, draft: bool) -> None:
    facts, answers = json.loads(n.facts), json.loads(n.answers)
    late = _late(s, row, n.kind, now)
    n.missing = json.dumps(texts.missing(n.kind, facts=facts, answers=answers, late=late))
    n.body = texts.render_html(
        kind=n.kind,
        incident=row.id,
        deal=row.deal,
        facts=facts,
        answers=answers,
        late=late,
        aware_at=legal_state(s, row)[0],
        at=now,
        draft=draft,
    )
    n.sha256 = hashlib.sha256(n.body.encode("utf-8")).hexdigest()


def draft_notice(
    stores: AppStores,
    *,
    actor: Principal,
    incident_id: int,
    kind: str,
    answers: dict[str, str] | None = None,
) -> NoticeOut:
    """A new draft of a notice of ``kind``: the store's facts (the impact analysis now) and
    the team's answers; the fields still missing are listed (the draft is kept)."""
    texts.fields(kind, late=False)  # an unknown kind is refused before anything
    now = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.notice",
            event_action="incident.notice_draft",
        )
        facts = texts.facts_of(compute_impact(s, row).model_dump(), kind=kind)
        n = IncidentNotice(
            incident_id=row.id,
            kind=kind,
            status="draft",
            language=texts.language(kind),
            answers=json.dumps(answers or {}, ensure_ascii=False),
            facts=json.dumps(facts, ensure_ascii=False),
            created_by=actor.email,
            created_at=now,
        )
        s.add(n)
        s.flush()
        _render(s, row, n, now=now, draft=True)
        s.flush()
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects) | {"notice": n.id, "kind": kind},
                counts={"answers": len(answers or {}), "missing": len(json.loads(n.missing))},
            ),
        )
        return notice_view(s, n)


def finalise_notice(stores: AppStores, *, actor: Principal, notice_id: int) -> NoticeOut:
    """Make a draft final; refused, naming each missing field, while one is missing."""
    now = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        n = get_notice(s, notice_id=notice_id)
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=n.incident_id,
            action="incident.notice",
            event_action="incident.notice_finalise",
        )
        if n.status != "draft":
            raise Conflict(f"notice {n.id} is {n.status}, not a draft")
        _render(s, row, n, now=now, draft=False)
        gaps = json.loads(n.missing)
        if gaps:
            raise Invalid(
                f"notice {n.id} ({n.kind}) misses required field(s): {', '.join(gaps)}; "
                "give them in the answers file and draft again"
            )
        n.status, n.finalised_by, n.finalised_at = "final", actor.email, now
        s.flush()
        audit(
            stores,
            uow,
            replace(event, objects=dict(event.objects) | {"notice": n.id, "kind": n.kind}),
        )
        return notice_view(s, n, with_body=True)


def mark_sent(
    stores: AppStores, *, actor: Principal, notice_id: int, at: datetime, channel: str
) -> NoticeOut:
    """Record that a final notice was sent, when and how (this stops its clock)."""
    if at.tzinfo is None or at > utcnow() + timedelta(minutes=5):
        raise Invalid("--at: a time with its offset, not in the future")
    channel = channel.strip().lower()
    if not _CHANNEL.fullmatch(channel):  # recorded: one word, never an address
        raise Invalid("--channel: how it was sent, one word (e.g. portal, email, letter, sms)")
    with stores.unit_of_work() as uow:
        s = uow.records
        n = get_notice(s, notice_id=notice_id)
        _, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=n.incident_id,
            action="incident.notice",
            event_action="incident.notice_sent",
        )
        if n.status != "final" or n.kind == "partner":
            raise Conflict(f"notice {n.id} is {n.status}: only a final legal notice is sent")
        n.status, n.sent_by, n.sent_at, n.channel = "sent", actor.email, at, channel
        s.flush()
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects)
                | {"notice": n.id, "kind": n.kind, "sent_at": at.isoformat(), "channel": n.channel},
            ),
        )
        return notice_view(s, n)


def list_notices(stores: AppStores, *, actor: Principal, incident_id: int) -> list[NoticeOut]:
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.read",
            event_action="incident.notice_list",
        )
        rows = s.scalars(
            select(IncidentNotice)
            .where(IncidentNotice.incident_id == row.id)
            .order_by(IncidentNotice.id)
        )
        out = [notice_view(s, n) for n in rows]
        audit(stores, uow, replace(event, counts={"notices": len(out)}))
        return out


def show_notice(
    stores: AppStores, *, actor: Principal, notice_id: int, out: Path | None = None
) -> NoticeOut:
    """One notice with its text (HTML, or the signed note of a partner notice); with ``out``
    also written there (mode 0600): HTML, PDF (``.pdf``) or the signed note as it is."""
    if out is not None:
        check_output_file(out, what="notice file")
    with stores.unit_of_work() as uow:
        s = uow.records
        n = get_notice(s, notice_id=notice_id)
        _, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=n.incident_id,
            action="incident.read",
            event_action="incident.notice_show",
        )
        objects = dict(event.objects) | {"notice": n.id, "kind": n.kind}
        if out is not None:
            pdf = out.suffix.lower() == ".pdf" and n.kind != "partner"
            write_private(out, texts.html_to_pdf(n.body) if pdf else n.body)
            objects |= {"format": "pdf" if pdf else "text"}
        audit(stores, uow, replace(event, objects=objects))
        return notice_view(s, n, with_body=True)


def _context(s: Session, row: Incident) -> dict[str, dict[str, str]]:
    """Per language, the values of the newest final customer notice (facts and answers)."""
    out: dict[str, dict[str, str]] = {}
    for lang, kind in CUSTOMER_NOTICE.items():
        n = s.scalar(
            select(IncidentNotice)
            .where(
                IncidentNotice.incident_id == row.id,
                IncidentNotice.kind == kind,
                IncidentNotice.status.in_(("final", "sent")),
            )
            .order_by(IncidentNotice.id.desc())
            .limit(1)
        )
        if n is not None:
            out[lang] = {**json.loads(n.facts), **json.loads(n.answers)}
    return out


def customer_notices(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    incident_id: int,
    channel: str,
    out: Path,
    template_set: str = "incident",
) -> BatchOut:
    """Render each affected customer's message (the impact analysis's subjects; Chinese, or
    English for foreign customers, from the final customer notices) and write the delivery
    file for the gateway (CSV, mode 0600). The customers' contact points are decrypted per
    customer; the event records the batch, counts and the customers' subject ids."""
    check_output_file(out, what="delivery file")
    tset = render.template_set(template_set)
    if channel not in render.CHANNELS:
        raise Invalid(f"--channel: one of {', '.join(render.CHANNELS)}")
    now = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.notice",
            event_action="incident.notice_customers",
        )
        context = _context(s, row)
        if not context:
            raise Conflict("finalise the customers' notice (pipl-customers or gdpr-subjects) first")
        subjects = compute_impact(s, row).subject_ids
        deal = access.get_deal(s, code=row.deal)
        sent = sending.send(
            uow, keyring, deal=deal, ref=f"incident:{row.id}", tset=tset, channel=channel,
            context=context, subjects=subjects, by=actor.email, now=now, out=out,
        )  # fmt: skip
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects) | sent.objects(),
                counts=sent.event_counts(),
                subjects=sent.subjects,
            ),
        )
        return BatchOut.of(sent.batch, sent.counts)


def import_status(
    stores: AppStores, *, actor: Principal, incident_id: int, path: Path
) -> list[BatchOut]:
    """Import the gateway's status file for the incident's batches: every row checked (bad
    rows refused naming file, row and column; nothing is applied then); counts per status."""
    status = bulk.read_status_file(path)
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.notice",
            event_action="incident.notice_status",
        )
        batches = bulk.batches_of(s, ref=f"incident:{row.id}")
        if not batches:
            raise NotFound(f"incident {row.id} has no customer notice batch")
        counts = bulk.apply_status(
            s, batches=[b.id for b in batches], status=status, file=path.name
        )
        totals: dict[str, int] = {}
        for c in counts.values():
            for k, v in c.items():
                totals[k] = totals.get(k, 0) + v
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects) | {"batches": ",".join(str(b) for b in sorted(counts))},
                counts={"rows": status.height, **totals},
            ),
        )
        every = bulk.counts_of(s, batch_ids=[b.id for b in batches])
        return [BatchOut.of(b, every[b.id]) for b in batches]


def list_batches(stores: AppStores, *, actor: Principal, incident_id: int) -> list[BatchOut]:
    with stores.unit_of_work() as uow:
        s = uow.records
        row, event = _authorized(
            stores,
            s,
            actor=actor,
            incident_id=incident_id,
            action="incident.read",
            event_action="incident.notice_list",
        )
        batches = bulk.batches_of(s, ref=f"incident:{row.id}")
        every = bulk.counts_of(s, batch_ids=[b.id for b in batches])
        audit(stores, uow, replace(event, counts={"batches": len(batches)}))
        return [BatchOut.of(b, every[b.id]) for b in batches]


def draft_for_regimes(stores: AppStores, *, actor: Principal, incident_id: int) -> str:
    """Draft every notice the incident's regimes call for (a drill's "draft notices" step):
    each with the store's facts and no answers yet; says what was drafted and what is missing."""
    with stores.records_session() as s:
        _, regimes, _ = legal_state(s, registry_incident(s, incident_id=incident_id))
    kinds = [k for k in texts.TITLES if k.split("-")[0] in regimes]
    drafted = [draft_notice(stores, actor=actor, incident_id=incident_id, kind=k) for k in kinds]
    return "; ".join(f"{n.kind} #{n.id} (missing {len(n.missing)})" for n in drafted)
