"""Use cases on the audit log: verify, export, prove, query, checkpoint, cosign."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.models import Person
from dealvault.access.principal import Principal
from dealvault.audit import bundle, store
from dealvault.audit.models import AuditCosignature
from dealvault.audit.note import Signer
from dealvault.audit.report import ReportInput, render_html, render_pdf
from dealvault.audit.service import EventIn, ensure_checkpoint, make_checkpoint
from dealvault.audit.verify import Anchors, VerifyReport
from dealvault.db.base import utcnow
from dealvault.errors import DealvaultError, Invalid
from dealvault.files import write_private
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.flows.store import is_trial


class VerifyOut(BaseModel):
    ok: bool
    events: int
    root: str
    first_bad: int | None
    problems: list[str]
    checkpoints: list[dict[str, Any]]
    covered: int
    """Events covered by a checkpoint whose signature and root verified."""
    trust: str
    """``pinned-key`` or ``internal-consistency-only``."""
    trust_note: str
    pinned_key: str | None
    witnesses: list[str]
    witnessed: int | None
    """Events covered by a checkpoint every required witness cosigned (None: none required)."""


UNPINNED = (
    "only internal consistency was checked: the checkpoints were verified with the log key "
    "that the {what} names itself, so a log rewritten and re-signed under another key passes; "
    "pin the log's verifier key (--verifier-key, --verifier-key-file or "
    "DEALVAULT_AUDIT_VERIFIER_KEY) to detect that"
)


def _out(report: VerifyReport, anchors: Anchors, what: str) -> VerifyOut:
    pinned = anchors.pinned
    if pinned is None:
        note = UNPINNED.format(what=what)
    else:
        note = f"checkpoints verified with the pinned log key {pinned.name}+{pinned.key_id:08x}"
    if anchors.witnesses:
        since = anchors.witness_since.isoformat() if anchors.witness_since else "the start"
        note += f"; events from {since} on must be covered by a witnessed checkpoint"
    return VerifyOut(
        ok=report.ok,
        events=report.events,
        root=report.root,
        first_bad=report.first_bad,
        problems=report.problems,
        checkpoints=report.checkpoints,
        covered=report.covered,
        trust="internal-consistency-only" if pinned is None else "pinned-key",
        trust_note=note,
        pinned_key=None if pinned is None else pinned.key_string(),
        witnesses=[w.key_string() for w in anchors.witnesses],
        witnessed=report.witnessed if anchors.witnesses else None,
    )


def _decided(
    stores: AppStores,
    *,
    actor: Principal,
    action: str,
    event: EventIn,
    deal: str | None = None,
    record_now: bool = True,
) -> EventIn:
    """Decide an audit-log use case (store-wide, or ``audit_log`` of one deal); a denial is
    recorded by ``authorize``, the allow event now (``record_now``) or by the caller once it
    has looked at the log (reading and verifying first, so a check of a damaged log does not
    append to it)."""
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal) if deal is not None else None
        _, allowed = authorize(stores, uow.records, actor=actor, action=action, deal=d, event=event)
        if record_now:
            audit(stores, uow, allowed)
        return allowed


def _record_after(stores: AppStores, event: EventIn, *, ok: bool) -> None:
    """The allow event of a read of the log, once the log was found intact (appending to a
    log that failed verification would only bury the damage under new leaves)."""
    if ok:
        with stores.unit_of_work() as uow:
            audit(stores, uow, event)


def _log_action(deal: str | None) -> str:
    """Reading one deal's log is that deal's ``audit_log``; every deal's, ``audit.search``."""
    return "audit_log" if deal is not None else "audit.search"


def verify(stores: AppStores, *, actor: Principal, anchors: Anchors | None = None) -> VerifyOut:
    """Recompute the whole log from the database; changes nothing but its own event. Without a
    pinned key (``anchors``) only internal consistency is checked, and the result says so."""
    allowed = _decided(
        stores,
        actor=actor,
        action="audit.verify",
        record_now=False,
        event=EventIn(action="audit.verify"),
    )
    out = _verify(stores, anchors=anchors)
    _record_after(stores, allowed, ok=out.ok)
    if not out.ok:  # an alert for the people who act on it (docs/monitoring.md)
        from dealvault.flows.monitoring import verification_failed

        with contextlib.suppress(DealvaultError, SQLAlchemyError):  # the verdict stands
            verification_failed(stores, actor=actor, problems=out.problems)
    return out


def _verify(stores: AppStores, *, anchors: Anchors | None = None) -> VerifyOut:
    anchors = anchors or Anchors()
    with stores.records_session() as s, stores.records_session() as leaves:
        return _out(store.verify_store(s, leaves, anchors=anchors), anchors, "store")


def verify_bundle(*, path: Path, anchors: Anchors | None = None) -> VerifyOut:
    anchors = anchors or Anchors()
    return _out(bundle.verify_bundle(bundle=path, anchors=anchors), anchors, "bundle")


def export(stores: AppStores, *, out_dir: Path, actor: Principal) -> dict[str, object]:
    _decided(
        stores,
        actor=actor,
        action="audit.export",
        event=EventIn(action="audit.export", objects={"bundle": out_dir.name}),
    )
    with stores.unit_of_work() as uow:
        if stores.audit.can_sign:
            ensure_checkpoint(uow.records, stores.audit, reason="export")
    with stores.records_session() as s:
        return bundle.export_bundle(s, out_dir=out_dir)


def prove(stores: AppStores, *, seq: int, out: Path, actor: Principal) -> dict[str, object]:
    """Write a C2SP tlog-proof for event ``seq`` and the event itself next to it."""
    _decided(
        stores,
        actor=actor,
        action="audit.prove",
        event=EventIn(action="audit.prove", objects={"event": seq}),
    )
    with stores.records_session() as s:
        text = store.prove(s, stores.audit, seq=seq)
        body = store.event_body(s, seq=seq)
    from dealvault.flows.deal_audit import write_proof

    return write_proof(out=out, proof=text, event=body, index=seq)


def log(stores: AppStores, *, actor: Principal, flt: store.LogFilter) -> list[dict[str, Any]]:
    """Events matching ``flt``: one deal's (its ``audit_log`` roles) or every deal's
    (``audit.search``: operators). The read is recorded after the query."""
    allowed = _decided(
        stores,
        actor=actor,
        action=_log_action(flt.deal),
        deal=flt.deal,
        record_now=False,
        event=EventIn(action="audit.log", objects={"filter_action": flt.action}),
    )
    with stores.records_session() as s:
        found = store.query(s, flt=flt)
    with contextlib.suppress(DealvaultError):  # a damaged tree refuses new leaves
        _record_after(stores, allowed, ok=True)
    return found


def checkpoint(stores: AppStores, *, actor: Principal) -> dict[str, object]:
    if not stores.audit.can_sign:
        raise Invalid("this store has no audit signing key; run 'dealvault init'")
    with stores.unit_of_work() as uow:
        _, allowed = authorize(
            stores,
            uow.records,
            actor=actor,
            action="audit.checkpoint",
            event=EventIn(action="audit.checkpoint"),
        )
        audit(stores, uow, allowed)
        cp = make_checkpoint(uow.records, stores.audit, reason="on demand")
        return {"id": cp.id, "size": cp.size, "root": cp.root.hex(), "note": cp.note}


def cosign(
    stores: AppStores, *, cosigner_key: str, checkpoint_id: int | None, actor: Principal
) -> dict[str, object]:
    signer = Signer.from_key(cosigner_key)
    with stores.unit_of_work() as uow:
        _, allowed = authorize(
            stores,
            uow.records,
            actor=actor,
            action="audit.cosign",
            event=EventIn(action="audit.cosign"),
        )
        row = store.cosign(uow.records, cosigner=signer, checkpoint_id=checkpoint_id)
        audit(
            stores,
            uow,
            replace(allowed, objects={"checkpoint": row.checkpoint_id, "cosigner": signer.name}),
        )
        return {"checkpoint": row.checkpoint_id, "cosigner": signer.name, "line": row.line.strip()}


def report(
    stores: AppStores, *, out: Path, deal: str | None, actor: Principal
) -> dict[str, object]:
    """The auditor's report (HTML, or PDF when ``out`` ends in .pdf), with a fresh verification:
    of one deal (its ``audit_log`` roles) or of every deal (``audit.search``)."""
    allowed = _decided(
        stores,
        actor=actor,
        action=_log_action(deal),
        deal=deal,
        event=EventIn(action="audit.report.start", objects={"file": out.name}),
    )
    verification = _verify(stores)
    with stores.records_session() as s:
        events = store.query(s, flt=store.LogFilter(deal=deal, limit=10**9))
        people = {p.email: p.organization.name for p in s.scalars(select(Person)).all()}
        cps = []
        for cp in store.checkpoints(s):
            cosigners = s.scalars(
                select(AuditCosignature.name).where(AuditCosignature.checkpoint_id == cp.id)
            ).all()
            cps.append(
                {
                    "id": cp.id,
                    "size": cp.size,
                    "root": cp.root.hex(),
                    "reason": cp.reason,
                    "at": cp.at.isoformat(),
                    "cosigners": list(cosigners),
                }
            )
    data = ReportInput(
        title=f"Audit report — deal {deal}" if deal else "Audit report — all deals",
        generated_at=utcnow(),
        origin=stores.audit.origin,
        events=events,
        people=people,
        verification=verification.model_dump(),
        checkpoints=cps,
        trial=is_trial(stores),
    )
    if out.suffix.lower() == ".pdf":
        write_private(out, render_pdf(data=data))
    else:
        write_private(out, render_html(data=data))
    with stores.unit_of_work() as uow:
        audit(
            stores,
            uow,
            replace(
                allowed,
                action="audit.report",
                objects={"file": out.name},
                counts={"events": len(events)},
            ),
        )
    return {"report": str(out), "events": len(events), "verified": verification.ok}


class PersonChoice(BaseModel):
    """A person who acted in a deal's log, with a key that stands for their e-mail where an
    e-mail should not go (a page's address)."""

    key: str
    email: str


def person_key(email: str) -> str:
    return hashlib.sha256(b"dealvault/audit-person\n" + email.encode("utf-8")).hexdigest()[:16]


class LogPage(BaseModel):
    """One page of a deal's audit log as the explorer shows it, newest first."""

    events: list[dict[str, Any]]
    #: the position to go on from for newer events (``after``) and older ones (``before``);
    #: None when there are none matching the filter
    newer: int | None
    older: int | None
    #: who acted and what was done in the deal's log (the choices of the search form)
    people: list[PersonChoice]
    actions: list[str]
    #: the log's public key (C2SP verifier key), to pin when verifying offline
    log_key: str | None


def explore(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str,
    flt: store.LogFilter,
    person: str | None = None,
    page: int = 50,
) -> LogPage:
    """A page of ``deal``'s events matching ``flt`` (its deal is this one) and ``person`` (an
    e-mail, or the key of one of the page's ``people``), newest first, at most ``page``:
    indexed queries only (the filters, then the sequence number), whatever the size of the
    log. Decided and recorded as ``log`` is, with the filters used."""
    allowed = _decided(
        stores,
        actor=actor,
        action="audit_log",
        deal=deal,
        record_now=False,
        event=EventIn(action="audit.log"),
    )
    with stores.records_session() as s:
        emails = store.distinct_values(s, deal=deal, column="actor")
        people = [PersonChoice(key=person_key(e), email=e) for e in emails]
        if person:
            chosen = next((p.email for p in people if person in (p.key, p.email)), None)
            # nobody of this log: a filter that matches nothing (never an error naming it)
            flt = replace(flt, actor=chosen or person_key(person))
        flt = replace(flt, deal=deal, newest_first=True, limit=page + 1, subject=None)
        found = store.query(s, flt=flt)
        forwards = flt.after is not None
        more = len(found) > page
        events = found[1:] if forwards and more else found[:page]
        newer = older = None
        if events:
            first, last = events[0]["seq"], events[-1]["seq"]
            if forwards:
                newer = first if more else None
                older = last if _any(s, replace(flt, after=None, before=last)) else None
            else:
                older = last if more else None
                newer = first if _any(s, replace(flt, before=None, after=first)) else None
        actions = store.distinct_values(s, deal=deal, column="action")
    used = {
        "filter_action": flt.action,
        "filter_actor": flt.actor,
        "filter_authn": flt.authn,
        "since": flt.since.isoformat() if flt.since else None,
        "until": flt.until.isoformat() if flt.until else None,
    }
    done = replace(
        allowed,
        objects={k: v for k, v in used.items() if v},
        counts={"events": len(events)},
    )
    with contextlib.suppress(DealvaultError):  # a damaged tree refuses new leaves
        _record_after(stores, done, ok=True)
    verifier = stores.audit.verifier
    return LogPage(
        events=events,
        newer=newer,
        older=older,
        people=people,
        actions=actions,
        log_key=None if verifier is None else verifier.key_string(),
    )


def _any(session: Session, flt: store.LogFilter) -> bool:
    return bool(store.query(session, flt=replace(flt, limit=1, newest_first=False)))
