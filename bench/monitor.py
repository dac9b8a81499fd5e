"""Monitoring benchmark: rule evaluation over the audit log, events per second.

Builds a fresh SQLite store in ``bench/out/monitor-*`` with a seller, two deals and 60 people
in five roles, and appends ``--events N`` events (default 200,000) spread over ``--days``
days (default 30) of working hours: pages of views, downloads, look-ups, sign-ins from a few
client addresses and devices, refusals (above the grant, on a frozen deal, after an agreement
lapsed), key rotations, with a few people reading far more on their last day. Then it times
``flows.monitoring.run_monitor`` over the whole log from the first event (every shipped
rule, the profiles rebuilt, the log's leaves and checkpoints checked, alerts written), and an
incremental run over the last ``--tail`` events (default 20,000) with the baselines in
place. Baseline, same run: reading and decoding the same events alone
(``monitor.events.load_after``). Prints one JSON line per job (``monitor_history``,
``monitor_incremental``); the target is 20,000 events/s on one core (issue 19).

Options: ``--events N``, ``--days D``, ``--tail N``, ``--batch N`` (events per transaction,
as DEALVAULT_MONITOR_BATCH; default 20,000), ``--keep`` (keep the scratch store).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, git_state, log, machine, remove_tree, scratch_dir

import dealvault.audit.service as audit_service
from dealvault.access.principal import local
from dealvault.audit.note import Signer, generate_signer
from dealvault.audit.service import AuditConfig, EventIn, record_many
from dealvault.audit.store import register_log_key
from dealvault.flows import admin
from dealvault.flows.context import AppStores
from dealvault.flows.monitoring import run_monitor
from dealvault.flows.store import OperatorIn, bootstrap
from dealvault.monitor import events

SELLER = "Seller Co"
OPERATOR = "op@seller.example"
ROLES = ("bidder_business", "bidder_clean_team", "counsel", "intermediary", "seller_steward")
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 at +08:00
TARGET = 20_000


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class _Clock:
    now = START

    def __call__(self) -> datetime:
        return self.now


def _world(stores: AppStores, people: list[tuple[str, str, str]]) -> None:
    seller = OperatorIn(email=OPERATOR, name="Op", organization=SELLER)
    op = bootstrap(stores, operator=seller, trial=True)
    for org in ("Bidder A", "Bidder B", "Law LLP", "Broker"):
        kind = {"Law LLP": "law_firm", "Broker": "intermediary"}.get(org, "bidder")
        admin.create_organization(stores, actor=op, name=org, kind=kind)
    for email, _, org in people:
        admin.create_person(stores, actor=op, email=email, name="P", organization=org)
    for deal in ("d1", "d2"):
        admin.create_deal(stores, actor=op, code=deal, name=deal, kind="asset", seller=SELLER,
                          bidders=["Bidder A", "Bidder B"], stewards=[])  # fmt: skip
        admin.add_party(stores, actor=op, deal=deal, organization="Law LLP", role="counsel")
        admin.add_party(stores, actor=op, deal=deal, organization="Broker", role="intermediary")
        for email, role, _ in people:
            admin.add_member(stores, actor=op, deal=deal, email=email, role=role)


def _people() -> list[tuple[str, str, str]]:
    org = {"bidder_business": "Bidder A", "bidder_clean_team": "Bidder B", "counsel": "Law LLP",
           "intermediary": "Broker", "seller_steward": SELLER}  # fmt: skip
    return [
        (f"p{i:02d}@{ROLES[i % 5]}.example", ROLES[i % 5], org[ROLES[i % 5]]) for i in range(60)
    ]


def _event(rng: random.Random, who: str, deal: str, heavy: bool) -> EventIn:
    home = int(who[1:3])  # each person's own address; now and then another one
    client = f"10.0.{home}.1" if rng.random() < 0.997 else f"10.9.{home}.{rng.randrange(250)}"
    # each person's own device (a hash, as recorded); now and then a new one
    device = f"dev:{home:016x}" if rng.random() < 0.999 else f"dev:{rng.getrandbits(64):016x}"
    roll = rng.random()
    base: dict[str, Any] = {"actor": who, "deal": deal, "authn": "password+totp",
                            "session": "s" + who[:3], "client": client,
                            "device": device}  # fmt: skip
    if roll < 0.55:  # a page of a view
        rows = 50 * (20 if heavy else 1)
        return EventIn(action="disclose", decision="allow",
                       objects={"dataset": "crm", "level": "masked", "recipient": "Bidder A"},
                       counts={"rows": rows, "customers": rows, "offset": 50}, **base)  # fmt: skip
    if roll < 0.70:  # a download
        what = {"dataset": "crm", "level": "pseudonymized", "recipient": "Bidder B"}
        return EventIn(action="disclose", decision="allow", objects=what,
                       counts={"rows": 400, "customers": 400, "canaries": 3}, **base)  # fmt: skip
    if roll < 0.89:
        return EventIn(action="deal.enter", decision="allow", **base)
    if roll < 0.99:
        return EventIn(action="auth.password", decision="allow", **{**base, "deal": None})
    reasons = rng.choice(
        [
            ("level full is above the ceiling masked for bidder_clean_team at stage clean_team",),
            ("deal d1 is frozen (temporary isolation)",),
            ("no NDA of Bidder A in force covering contact of dataset crm on 2026-03-02 "
             "(agreement #3 expired on 2026-02-28)",),
            ("confidentiality training of p00@bidder_business.example: none on record",),
        ]
    )  # fmt: skip
    return EventIn(action="disclose", decision="deny", reasons=reasons, **base)


def _append(stores: AppStores, clock: _Clock, day: int, evs: list[EventIn], start: int,
            per_day: int) -> None:  # fmt: skip
    """``evs`` in one transaction, stamped a few seconds apart (250 events a stamp) across the
    working day by their position ``start`` among the day's ``per_day``."""
    with stores.unit_of_work() as uow:
        for i in range(0, len(evs), 250):
            seconds = int(9 * 3600 * (start + i) / max(per_day, 1))
            clock.now = START + timedelta(days=day, seconds=seconds)
            record_many(uow.records, stores.audit, evs[i : i + 250])


def _fill(stores: AppStores, clock: _Clock, people: list[tuple[str, str, str]], n: int,
          days: int) -> None:  # fmt: skip
    rng = random.Random(7)
    per_day = n // days
    heavy = {people[3][0], people[8][0]}
    for day in range(days):
        last = day == days - 1
        for done in range(0, per_day, 5_000):
            size = min(5_000, per_day - done)
            evs = []
            for _ in range(size):
                who, _, _ = people[rng.randrange(len(people))]
                evs.append(_event(rng, who, rng.choice(("d1", "d2")), last and who in heavy))
            if day % 7 == 5 and done == 0:  # a key rotation on Saturdays at 09:00: outside
                evs.insert(
                    0, EventIn(action="keys.rotate_master", actor=OPERATOR, decision="allow")
                )
            _append(stores, clock, day, evs, done, per_day)


def _line(name: str, size: str, n: int, seconds: float, base: dict[str, Any],
          extra: dict[str, Any]) -> None:  # fmt: skip
    rate = n / seconds if seconds else 0.0
    rec: dict[str, Any] = {
        "name": name,
        "input": size,
        "n": n,
        "seconds": round(seconds, 3),
        "rate": round(rate, 1),
        "unit": "events/s",
        "peak_rss_mib": _rss_mib(),
        "target": {"rate": TARGET},
        "meets_target": rate >= TARGET,
        "baseline": base,
        "ratio_to_baseline": round(rate / base["rate"], 2) if base.get("rate") else None,
        "cores": 1,
        **extra,
        **git_state(),
        "machine": machine(),
    }
    emit(rec)


def _decode_only(stores: AppStores, after: int, limit: int, batch: int) -> dict[str, Any]:
    """Reading and decoding the same events, in the monitor's batches, and nothing else."""
    n, dt = 0, 0.0
    with stores.records_session() as s:
        while n < limit:
            t0 = time.perf_counter()
            frame, _ = events.load_after(s, after=after, limit=min(batch, limit - n))
            dt += time.perf_counter() - t0
            if frame.is_empty():
                break
            n += frame.height
            after = int(frame.get_column("seq")[-1])
    return {
        "what": "reading and decoding the same events alone (monitor.events.load_after)",
        "seconds": round(dt, 3),
        "rate": round(n / dt, 1) if dt else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--tail", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=20_000, help="events per transaction")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    os.sched_setaffinity(0, {0})
    work = scratch_dir("monitor")
    try:
        skey, _ = generate_signer("bench.invalid/log")
        cfg = AuditConfig(signer=Signer.from_key(skey), checkpoint_every=10_000)
        stores = AppStores.connect(
            records_url=f"sqlite:///{work / 'r.sqlite'}",
            keystore_url=f"sqlite:///{work / 'k.sqlite'}",
            audit=cfg,
        )
        clock = _Clock()
        audit_service.utcnow = clock  # type: ignore[assignment]  # the events' times
        with stores.unit_of_work() as uow:
            register_log_key(uow.records, cfg)
        people = _people()
        _world(stores, people)
        log(f"appending {args.events:,} events over {args.days} days ...")
        t0 = time.perf_counter()
        _fill(stores, clock, people, args.events - args.tail, args.days - 1)
        log(f"appended in {time.perf_counter() - t0:.1f} s; evaluating history ...")
        op = local(OPERATOR)
        t0 = time.perf_counter()
        rss = _rss_mib()
        hist = run_monitor(stores, actor=op, from_seq=0, batch=args.batch)
        dt = time.perf_counter() - t0
        _line(
            "monitor_history",
            f"{hist.events:,} events over {args.days - 1} days, every shipped rule, SQLite",
            hist.events,
            dt,
            _decode_only(stores, -1, hist.events, args.batch),
            {"alerts": len(hist.alerts_new), "batches": hist.batches, "rss_before_mib": rss},
        )
        # the last day: the baselines are in place, the monitor reads what is new
        clock.now = START + timedelta(days=args.days - 1)
        start = hist.to_seq or 0
        _fill_tail(stores, clock, people, args.tail, args.days - 1)
        t0 = time.perf_counter()
        inc = run_monitor(stores, actor=op, batch=args.batch)
        dt = time.perf_counter() - t0
        _line(
            "monitor_incremental",
            f"{inc.events:,} new events after {hist.events:,}, baselines stored, SQLite",
            inc.events,
            dt,
            _decode_only(stores, start, inc.events, args.batch),
            {"alerts": len(inc.alerts_new), "alerts_grown": len(inc.alerts_grown)},
        )
        stores.dispose()
    finally:
        if not args.keep:
            remove_tree(work)
    return 0


def _fill_tail(stores: AppStores, clock: _Clock, people: list[tuple[str, str, str]], n: int,
               day: int) -> None:  # fmt: skip
    """``n`` events on one more day, two people reading far more than they do."""
    rng = random.Random(11)
    heavy = {people[3][0], people[8][0]}
    for done in range(0, n, 5_000):
        evs = [
            _event(rng, who, rng.choice(("d1", "d2")), who in heavy)
            for who in (people[rng.randrange(len(people))][0] for _ in range(min(5_000, n - done)))
        ]
        _append(stores, clock, day, evs, done, n)


if __name__ == "__main__":
    sys.exit(main())
