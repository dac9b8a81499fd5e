"""Running the monitor: the rules over the audit events after the last one evaluated (or over
history from a seq), alerts raised and de-duplicated, deals frozen by critical alerts whose
rule says so, new alerts delivered after the commit."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import polars as pl
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import decide
from dealvault.access.governance_models import Grant
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.db.stores import UnitOfWork
from dealvault.flows.admin import apply_freeze
from dealvault.flows.alert_delivery import Delivery, deliver_pending
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, person_of
from dealvault.flows.legal_clocks import clock_alerts
from dealvault.flows.retention_alerts import review_alerts
from dealvault.monitor import engine, events, integrity, profiles
from dealvault.monitor.alerts import record_hits
from dealvault.monitor.hits import HITS, Context, day_start, local_day
from dealvault.monitor.models import Alert, MonitorState
from dealvault.monitor.rules import RuleSet, active_rules

STATE = "events"


class RunOut(BaseModel):
    """What one run did."""

    from_seq: int | None = Field(description="The first event evaluated (None: none new).")
    to_seq: int | None = Field(description="The last event evaluated.")
    events: int
    batches: int
    rules_version: int
    alerts_new: list[int] = Field(default_factory=list)
    alerts_grown: list[int] = Field(default_factory=list)
    frozen: list[str] = Field(default_factory=list, description="Deals frozen by this run.")
    delivered: int = 0
    delivery_failed: int = 0
    seconds: float = 0.0


@dataclass
class _Progress:
    events: int = 0
    batches: int = 0
    first: int | None = None
    last: int | None = None
    new: list[int] = field(default_factory=list)
    grown: list[int] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)
    version: int = 0
    #: the monitor's last_seq before a run over history rewound the baselines
    rewound: int | None = None
    #: the last_seq this run wrote: another value at the next batch means another run went on
    written: int | None = None
    #: the stored activity as of this run's last batch, and the first day it holds
    activity: pl.DataFrame | None = None
    since: date | None = None


def lock_state(session: Session) -> MonitorState:
    """The monitor's progress row, locked to the end of the transaction: runs queue on it."""
    if session.connection().dialect.name == "postgresql":
        row = session.scalar(
            select(MonitorState).where(MonitorState.name == STATE).with_for_update()
        )
    else:  # SQLite: a write takes the database's writer lock now, not at the first insert
        session.execute(
            update(MonitorState).where(MonitorState.name == STATE).values(updated_at=utcnow())
        )
        row = session.get(MonitorState, STATE)
    if row is None:
        row = MonitorState(name=STATE, last_seq=-1, last_checkpoint=0, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def run_monitor(
    stores: AppStores,
    *,
    actor: Principal,
    from_seq: int | None = None,
    delivery: Delivery | None = None,
    batch: int = 20_000,
    max_batches: int | None = None,
) -> RunOut:
    """Evaluate the rules over the events after the last one evaluated, or, with
    ``from_seq``, again over history from that event (what the baselines learnt from its
    local day on is forgotten and learnt again; alerts already counting an event do not count
    it twice). Decided as ``monitor.run``; a run that raised or grew alerts is recorded."""
    started = time.perf_counter()
    with stores.unit_of_work() as uow:
        _, allowed = authorize(
            stores,
            uow.records,
            actor=actor,
            action="monitor.run",
            event=EventIn(action="monitor.run", objects={"from_seq": from_seq}),
        )
    progress = _Progress()
    after: int | None = None
    emit_from = 0
    if from_seq is not None:
        after, emit_from, progress.rewound = _rewind(stores, from_seq)
    while max_batches is None or progress.batches < max_batches:
        with stores.unit_of_work() as uow:
            done = _batch(stores, uow, actor=actor, allowed=allowed, after=after,
                          emit_from=emit_from, limit=batch, progress=progress)  # fmt: skip
        after = None if after is None else (progress.last if progress.last is not None else after)
        if done:
            break
    with stores.unit_of_work() as uow:  # legal clocks, retention reviews (flows/retention_alerts)
        lock_state(uow.records)  # runs queue here too: a clock's alert is raised once
        clocks = clock_alerts(uow, rules=active_rules(uow.records), now=utcnow())
        clocks += review_alerts(uow, rules=active_rules(uow.records), now=utcnow())
        if clocks:
            progress.new += [a.id for a in clocks]
            audit(
                stores,
                uow,
                replace(allowed, objects={"clocks": "legal"}, counts={"alerts_new": len(clocks)}),
            )
    delivered = failed = 0
    if delivery is not None and progress.new:
        delivered, failed = deliver_pending(stores, delivery, ids=progress.new)
    return RunOut(
        from_seq=progress.first,
        to_seq=progress.last,
        events=progress.events,
        batches=progress.batches,
        rules_version=progress.version,
        alerts_new=progress.new,
        alerts_grown=sorted(set(progress.grown) - set(progress.new)),
        frozen=progress.frozen,
        delivered=delivered,
        delivery_failed=failed,
        seconds=round(time.perf_counter() - started, 3),
    )


def _rewind(stores: AppStores, from_seq: int) -> tuple[int, int, int]:
    """Forget the baselines from ``from_seq``'s local day on; the run then reads from that
    day's first event, raising alerts from ``from_seq`` on. Returns (the seq to read after,
    the first seq to raise alerts for, the monitor's last_seq when it rewound)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        state = lock_state(s)
        rules = active_rules(s)
        first, _ = events.load_after(s, after=max(from_seq, 0) - 1, limit=1)
        if first.is_empty():
            return from_seq - 1, from_seq, state.last_seq
        day = local_day(first.get_column("ts")[0], rules.utc_offset_minutes)
        start = events.first_seq_since(s, since=day_start(day, rules.utc_offset_minutes))
        start = min(start if start is not None else from_seq, from_seq)
        profiles.forget_from(s, day=day, seq=start)
        return start - 1, from_seq, state.last_seq


def _batch(
    stores: AppStores,
    uow: UnitOfWork,
    *,
    actor: Principal,
    allowed: EventIn,
    after: int | None,
    emit_from: int,
    limit: int,
    progress: _Progress,
) -> bool:
    """Evaluate one batch in ``uow``; True when the log is read to its end."""
    s = uow.records
    state = lock_state(s)
    start = state.last_seq if after is None else after
    rules = active_rules(s)
    progress.version = rules.version
    frame, bodies = events.load_after(s, after=start, limit=limit)
    seqs = frame.get_column("seq").to_list()
    findings = integrity.check_events(s, after=start, seqs=seqs, bodies=bodies)
    checked, last_cp = integrity.check_checkpoints(s, after=state.last_checkpoint)
    hits = _integrity_hits([*findings, *checked], rules)
    if progress.written is not None and state.last_seq != progress.written:
        progress.activity = None  # another run went on meanwhile: read what it stored
    if seqs:
        # a run over history learns again only what no other run learnt since its rewind
        learnt = (
            (progress.rewound, state.last_seq)
            if after is not None and progress.rewound is not None
            else None
        )
        hits = pl.concat(
            [hits, _event_hits(s, frame, rules, after=start, progress=progress, learnt=learnt)]
        )
        hits = hits.filter(pl.col("seq").is_null() | (pl.col("seq") >= emit_from))
    new, grown = record_hits(s, hits, rules=rules)
    frozen = _freezes(stores, uow, actor=actor, rules=rules, alerts=[*new, *grown])
    state.last_checkpoint = max(state.last_checkpoint, last_cp)
    if seqs:
        state.last_seq = max(state.last_seq, seqs[-1])
        progress.written = state.last_seq
        progress.first = seqs[0] if progress.first is None else progress.first
        progress.last = seqs[-1]
        progress.events += len(seqs)
        progress.batches += 1
    state.updated_at = utcnow()
    progress.new += [a.id for a in new]
    progress.grown += [a.id for a in grown]
    progress.frozen += frozen
    if new or grown:
        audit(
            stores,
            uow,
            replace(
                allowed,
                objects={
                    "from_seq": seqs[0] if seqs else None,
                    "to_seq": seqs[-1] if seqs else None,
                    "rules_version": rules.version,
                },
                counts={
                    "events": len(seqs),
                    "alerts_new": len(new),
                    "alerts_grown": len(grown),
                    "frozen": len(frozen),
                },
            ),
        )
    return len(seqs) < limit


def _event_hits(
    s: Session,
    frame: pl.DataFrame,
    rules: RuleSet,
    *,
    after: int,
    progress: _Progress,
    learnt: tuple[int, int] | None,
) -> pl.DataFrame:
    """The rules' hits over a batch, with the recent past its windows need and its context;
    then what the batch teaches the baselines is stored (except events in ``learnt``, a
    range another run stored already)."""
    minutes = engine.lookback_minutes(rules)
    batch_start = int(frame.get_column("seq")[0])
    if minutes:
        since = frame.get_column("ts").min() - timedelta(minutes=minutes)  # type: ignore[operator]
        past = events.load_window(s, since=since, upto=after)  # type: ignore[arg-type]
        frame = pl.concat([past, frame]) if not past.is_empty() else frame
    prepared = engine.prepare(frame, rules)
    batch = prepared.filter(pl.col("seq") >= batch_start)
    activity = _activity(s, batch, rules, progress)
    actors = batch.filter(pl.col("client").is_not_null()).get_column("actor").drop_nulls()
    on_devices = batch.filter(pl.col("device").is_not_null()).get_column("actor").drop_nulls()
    ctx = Context(
        start_seq=batch_start,
        offset_minutes=rules.utc_offset_minutes,
        roles=events.roles(s),
        activity=activity,
        clients=profiles.load_clients(s, actors=actors.unique().to_list()),
        devices=profiles.load_devices(s, actors=on_devices.unique().to_list()),
        grants=_grants(s, batch.get_column("grant").drop_nulls().unique().to_list()),
    )
    hits = engine.evaluate(prepared, ctx, rules)
    if learnt is not None:
        batch = batch.filter(~pl.col("seq").is_between(learnt[0] + 1, learnt[1]))
    added = profiles.activity_of(batch)
    profiles.add_activity(s, added)
    profiles.add_clients(s, batch)
    profiles.add_devices(s, batch)
    if progress.activity is not None:
        progress.activity = pl.concat([progress.activity, added])
    return hits


def _activity(s: Session, batch: pl.DataFrame, rules: RuleSet, progress: _Progress) -> pl.DataFrame:
    """The stored activity the baselines of ``batch`` need: read once per run, then kept up
    to date with each batch (a run over a month reads the table once, not once a batch)."""
    days = engine.baseline_days(rules)
    if not days:
        return pl.DataFrame(schema=profiles.ACTIVITY)
    first_day = batch.get_column("day").min()
    assert isinstance(first_day, date)
    since = first_day - timedelta(days=days)
    if progress.activity is None or progress.since is None or since < progress.since:
        progress.activity = profiles.load_activity(s, since=since)
        progress.since = since
    elif since > progress.since:
        progress.activity = progress.activity.filter(pl.col("day") >= since)
        progress.since = since
    return progress.activity


def _grants(s: Session, ids: list[int]) -> pl.DataFrame:
    rows = (
        s.execute(select(Grant.id, Grant.row_cap, Grant.granted_at).where(Grant.id.in_(ids))).all()
        if ids
        else []
    )
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"grant": pl.Int64, "row_cap": pl.Int64, "granted_at": pl.Datetime("us", "UTC")},
        orient="row",
    )


def verification_failed(stores: AppStores, *, actor: Principal, problems: list[str]) -> list[int]:
    """Raise the audit_integrity alert of a failed ``audit verify`` (by ``actor``, whose
    verify was decided already). Only the alert is written: nothing is appended to a log
    that failed verification. Returns the alert ids."""
    shown = "; ".join(problems[:3]) + (
        f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    )
    what = f"'audit verify' by {actor.email} failed: {shown or 'no detail'}"
    with stores.unit_of_work() as uow:
        rules = active_rules(uow.records)
        hits = _integrity_hits([integrity.Finding("audit_integrity", None, what)], rules)
        new, grown = record_hits(uow.records, hits, rules=rules)
        return [a.id for a in [*new, *grown]]


def _integrity_hits(findings: list[integrity.Finding], rules: RuleSet) -> pl.DataFrame:
    """Hits of the log's integrity rules (store alerts, subject: the audit log)."""
    now = utcnow()
    rows = [
        {
            "rule": rule.id,
            "seq": f.seq,
            "ts": now,
            "deal": None,
            "subject": "audit log",
            "title": "the audit log does not verify"
            if f.kind == "audit_integrity"
            else "a checkpoint does not extend the previous one",
            "explanation": f.what,
            "details": "{}",
        }
        for f in findings
        for rule in rules.of_kind(f.kind)
    ]
    return pl.DataFrame(rows, schema=HITS) if rows else pl.DataFrame(schema=HITS)


def _freezes(
    stores: AppStores,
    uow: UnitOfWork,
    *,
    actor: Principal,
    rules: RuleSet,
    alerts: list[Alert],
) -> list[str]:
    """Freeze the deal of every critical alert whose rule says so (once per deal)."""
    wanted = [
        a
        for a in alerts
        if a.deal is not None
        and a.severity == "critical"
        and not a.froze
        and (rule := rules.get(a.rule)) is not None
        and rule.freeze
    ]
    frozen: list[str] = []
    for alert in wanted:
        if freeze_for_alert(stores, uow, actor=actor, alert=alert):
            frozen.append(str(alert.deal))
    return frozen


def freeze_for_alert(stores: AppStores, uow: UnitOfWork, *, actor: Principal, alert: Alert) -> bool:
    """Freeze ``alert``'s deal as ``dealvault deal freeze`` does (the same change, a
    ``deal.freeze`` event naming the alert and its rule, a signed checkpoint), decided as
    ``monitor.freeze`` for the acting principal. False when the deal already is frozen (the
    alert still says so) or the freeze was refused (the refusal is recorded)."""
    s = uow.records
    deal = access.get_deal(s, code=str(alert.deal))
    person = person_of(s, actor)
    decision = decide(s, actor=person, deal=None, action="monitor.freeze")
    event = EventIn(
        action="deal.freeze",
        actor=actor.email,
        authn=actor.authn.value,
        session=actor.session_id,
        client=actor.client,
        device=actor.device,
        deal=deal.code,
        purpose=f"automatic: critical alert #{alert.id} ({alert.rule})",
        objects={"stage": deal.stage, "alert": alert.id, "rule": alert.rule, "by": "monitor"},
    )
    if not decision.allowed:  # recorded with the alert it concerns, in this transaction
        audit(stores, uow, replace(event, decision="deny", reasons=tuple(decision.reasons)))
        return False
    if deal.frozen:
        return False
    reasons = (*decision.reasons[:1], f"rule {alert.rule} freezes its deal on a critical alert")
    apply_freeze(
        stores,
        uow,
        deal=deal,
        frozen=True,
        event=replace(event, decision="allow", reasons=reasons),
    )
    alert.froze = True
    alert.explanation += f" The deal {deal.code} was frozen automatically (rule {alert.rule})."
    s.flush()
    return True
