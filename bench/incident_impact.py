"""Incident benchmark: the impact analysis (``dealvault incident impact``) over a large audit log.

Builds a fresh SQLite store in ``bench/out/incident-*`` with a seller, two bidders, two deals
and 60 people in five roles, a dataset's columns (categories, one sensitive) and ``--events N``
audit events (default 1,000,000) appended through the log's own path (``record_many``: the
Merkle tree and checkpoints as in use) over ``--days`` days (default 30): 40% pages of a view
(25 customers each, released to the reader's organisation), 5% downloads (200 customers),
the rest entries, sign-ins and refusals; customers drawn from a pool of ``--customers``
(default 200,000) subject ids. Then it opens two incidents and times
``flows.incidents.impact`` end to end (decision, reading and decoding the events, unpacking
the subject lists, the counts, the audit event):

- ``incident_impact_person``: an alert-like incident about one Bidder A person over the last
  7 days (what reached them or their organisation);
- ``incident_impact_deal``: every disclosure of deal d1 over the whole log (the worst case).

Prints one JSON line per job; the target is 2 s over 1M audit events (issue 19).
Options: ``--events N``, ``--days D``, ``--customers N``, ``--keep``.
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
from dealvault.flows import admin, incidents
from dealvault.flows.context import AppStores
from dealvault.flows.store import OperatorIn, bootstrap
from dealvault.vault.models import Dataset, DatasetColumn, DatasetTable

SELLER = "Seller Co"
OPERATOR = "op@seller.example"
SECURITY = "security@seller.example"
ROLES = ("bidder_business", "bidder_clean_team", "counsel", "intermediary", "seller_steward")
ORG = {"bidder_business": "Bidder A", "bidder_clean_team": "Bidder B", "counsel": "Law LLP",
       "intermediary": "Broker", "seller_steward": SELLER}  # fmt: skip
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
TARGET_SECONDS = 2.0
COLUMNS = (("name", "identity", False), ("phone", "contact", False),
           ("id_number", "sensitive", True), ("product", "preference", False))  # fmt: skip


class _Clock:
    now = START

    def __call__(self) -> datetime:
        return self.now


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _people() -> list[tuple[str, str]]:
    return [(f"p{i:02d}@{ROLES[i % 5]}.example", ROLES[i % 5]) for i in range(60)]


def _world(stores: AppStores, people: list[tuple[str, str]]) -> None:
    op = bootstrap(stores, operator=OperatorIn(email=OPERATOR, name="Op", organization=SELLER),
                   trial=True)  # fmt: skip
    for org in ("Bidder A", "Bidder B", "Law LLP", "Broker"):
        kind = {"Law LLP": "law_firm", "Broker": "intermediary"}.get(org, "bidder")
        admin.create_organization(stores, actor=op, name=org, kind=kind)
    admin.create_person(stores, actor=op, email=SECURITY, name="S", organization=SELLER)
    for email, role in people:
        admin.create_person(stores, actor=op, email=email, name="P", organization=ORG[role])
    for deal in ("d1", "d2"):
        admin.create_deal(stores, actor=op, code=deal, name=deal, kind="asset", seller=SELLER,
                          bidders=["Bidder A", "Bidder B"], stewards=[])  # fmt: skip
        admin.add_party(stores, actor=op, deal=deal, organization="Law LLP", role="counsel")
        admin.add_party(stores, actor=op, deal=deal, organization="Broker", role="intermediary")
        admin.add_member(stores, actor=op, deal=deal, email=SECURITY, role="security_officer")
        for email, role in people:
            admin.add_member(stores, actor=op, deal=deal, email=email, role=role)
    with stores.unit_of_work() as uow:  # the dataset's columns: what a release's categories are
        from dealvault.access.service import get_deal

        for code in ("d1", "d2"):
            ds = Dataset(deal_id=get_deal(uow.records, code=code).id, name="crm")
            uow.records.add(ds)
            uow.records.flush()
            table = DatasetTable(dataset_id=ds.id, name="customers", role="customers")
            uow.records.add(table)
            uow.records.flush()
            for name, category, sensitive in COLUMNS:
                uow.records.add(DatasetColumn(table_id=table.id, source_name=name, field=name,
                                              category=category, sensitive=sensitive))  # fmt: skip


def _fill(stores: AppStores, clock: _Clock, people: list[tuple[str, str]], n: int, days: int,
          pool: list[str]) -> None:  # fmt: skip
    rng = random.Random(7)
    per_day = n // days
    for day in range(days):
        for done in range(0, per_day, 5_000):
            evs = []
            for _ in range(min(5_000, per_day - done)):
                who, role = people[rng.randrange(len(people))]
                deal = rng.choice(("d1", "d2"))
                base: dict[str, Any] = {"actor": who, "deal": deal, "client": "10.0.0.1"}
                roll = rng.random()
                if roll < 0.45:
                    size, level = (25, "masked") if roll < 0.40 else (200, "pseudonymized")
                    at = rng.randrange(len(pool) - size)
                    evs.append(EventIn(
                        action="disclose", decision="allow", subjects=pool[at : at + size],
                        objects={"dataset": "crm", "level": level, "recipient": ORG[role]},
                        counts={"rows": size, "customers": size}, **base,
                    ))  # fmt: skip
                elif roll < 0.80:
                    evs.append(EventIn(action="deal.enter", decision="allow", **base))
                elif roll < 0.98:
                    evs.append(EventIn(action="auth.password", decision="allow",
                                       **{**base, "deal": None}))  # fmt: skip
                else:
                    evs.append(EventIn(action="disclose", decision="deny",
                                       reasons=("no policy permits it",), **base))  # fmt: skip
            with stores.unit_of_work() as uow:
                for i in range(0, len(evs), 500):
                    clock.now = START + timedelta(
                        days=day, seconds=int(9 * 3600 * (done + i) / max(per_day, 1))
                    )
                    record_many(uow.records, stores.audit, evs[i : i + 500])


def _line(name: str, size: str, seconds: float, out: Any, log_events: int) -> None:
    emit({
        "name": name, "input": size, "n": log_events, "seconds": round(seconds, 3),
        "rate": round(log_events / seconds, 1) if seconds else None, "unit": "log events/s",
        "disclosure_events": out.events, "customers": out.customers,
        "recipients": len(out.recipients), "analysis_seconds": out.seconds,
        "peak_rss_mib": _rss_mib(), "target": {"seconds": TARGET_SECONDS},
        "meets_target": seconds <= TARGET_SECONDS, "cores": 1, **git_state(),
        "machine": machine(),
    })  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    os.sched_setaffinity(0, {0})
    work = scratch_dir("incident")
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
        rng = random.Random(3)
        pool = sorted(f"{rng.getrandbits(96):024x}" for _ in range(args.customers))
        log(f"appending {args.events:,} events over {args.days} days ...")
        t0 = time.perf_counter()
        _fill(stores, clock, people, args.events, args.days, pool)
        log(f"appended in {time.perf_counter() - t0:.1f} s; analysing ...")
        with stores.records_session() as s:
            from sqlalchemy import func, select

            from dealvault.audit.models import AuditEvent

            total = int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)
        sec = local(SECURITY)
        end = START + timedelta(days=args.days)
        person = next(e for e, r in people if r == "bidder_business")
        jobs = (
            ("incident_impact_person", dict(people=[person], since=end - timedelta(days=7)),
             f"one Bidder A person over 7 days, {total:,} events in the log, SQLite"),
            ("incident_impact_deal", dict(since=START),
             f"every disclosure of deal d1 over {args.days} days, {total:,} events, SQLite"),
        )  # fmt: skip
        for name, kw, size in jobs:
            clock.now = end
            inc = incidents.open_incident(stores, actor=sec, deal="d1", title=name, **kw)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            out = incidents.impact(stores, actor=sec, incident_id=inc.id)
            _line(name, size, time.perf_counter() - t0, out, total)
        stores.dispose()
    finally:
        if not args.keep:
            remove_tree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
