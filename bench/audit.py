"""Audit-log benchmarks: append (batched / one commit each), verify, inclusion proof at size.

Prints one JSON line per job (``audit_append_batched``, ``audit_append_each``,
``audit_verify``, ``audit_proof``), each with its target from DESIGN.md §8 and, where one
exists, a baseline measured in the same run: pymerkle 7 (``pip install pymerkle``; the
baseline is skipped with a note when it is not installed) for appends and proofs; for
verification, the same verification reading rows into Python instead of SQLite's native
scan (``audit/scan.py``).

Runs in-process on one core (``os.sched_setaffinity``) against a fresh SQLite store in
``bench/out/audit-*``. Options: ``--events N`` (batched append and verify, default 200,000),
``--each N`` (one-commit appends, default 3,000), ``--proof-size N`` (tree size for the proof
timing, default 10,000,000; the tree's nodes are built directly from synthetic leaves),
``--proofs N`` (how many proofs to time, default 2,000), ``--keep``. The append and verify
lines also carry ``cpu_seconds`` and ``cpu_rate``: the process's own CPU time, which others'
work on the same core does not inflate as it does the wall-clock ``rate`` (the target's).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, git_state, log, machine, remove_tree, scratch_dir

from dealvault.audit import merkle, scan
from dealvault.audit.note import Signer, generate_signer
from dealvault.audit.service import AuditConfig, DbNodeStore, EventIn, record, record_many
from dealvault.audit.store import register_log_key, verify_store
from dealvault.flows.context import AppStores


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _line(
    name: str,
    size: str,
    n: int,
    seconds: float,
    unit: str,
    target: dict[str, Any],
    meets: bool,
    baseline: dict[str, Any] | None,
    extra: dict[str, Any] | None = None,
) -> None:
    rec: dict[str, Any] = {
        "name": name,
        "input": size,
        "n": n,
        "seconds": round(seconds, 4),
        "rate": round(n / seconds, 1) if seconds else None,
        "unit": unit,
        "peak_rss_mib": _rss_mib(),
        "target": target,
        "meets_target": meets,
        "baseline": baseline,
        "cores": 1,
        **(extra or {}),
        **git_state(),
        "machine": machine(),
    }
    if baseline and baseline.get("rate") and rec["rate"]:
        rec["ratio_to_baseline"] = round(rec["rate"] / baseline["rate"], 2)
    emit(rec)


def _cpu(n: int, since: float) -> dict[str, Any]:
    """This process's CPU time since ``since`` and the rate it gives: on a busy machine the
    wall-clock rate also counts the time others held the core."""
    cpu = time.process_time() - since
    return {"cpu_seconds": round(cpu, 4), "cpu_rate": round(n / cpu, 1) if cpu else None}


@contextmanager
def _no_native_scan(_session: Any) -> Iterator[None]:
    yield None


def _rows_baseline(stores: AppStores, total: int) -> dict[str, Any]:
    """The same verification reading rows into Python (PostgreSQL's path, and SQLite's
    from a damaged chunk on), in the same run."""
    native_scan = scan.native_scan
    scan.native_scan = _no_native_scan
    try:
        with stores.records_session() as s, stores.records_session() as leaves:
            t0, c0 = time.perf_counter(), time.process_time()
            rep = verify_store(s, leaves)
            dt, cpu = time.perf_counter() - t0, _cpu(total, c0)
    finally:
        scan.native_scan = native_scan
    assert rep.ok, rep.problems[:3]
    return {
        "what": "the same verification reading rows into Python (no native scan)",
        "seconds": round(dt, 3),
        "rate": round(total / dt, 1),
        **cpu,
    }


def _pymerkle() -> Any:
    try:
        import pymerkle
    except ImportError:
        return None
    return pymerkle


def _event(i: int) -> EventIn:
    return EventIn(
        action="disclose",
        actor=f"analyst{i % 50}@bidder.example",
        deal="bench",
        objects={"dataset": "crm", "level": "aggregate", "stage": "due_diligence"},
        purpose="valuation",
        decision="allow",
        counts={"customers": 1},
        subjects=[f"{i:08x}{'ab' * 8}"],
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--each", type=int, default=3_000)
    ap.add_argument("--proof-size", type=int, default=10_000_000)
    ap.add_argument("--proofs", type=int, default=2_000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    os.sched_setaffinity(0, {0})
    work = scratch_dir("audit")
    pm = _pymerkle()
    try:
        skey, _ = generate_signer("bench.invalid/log")
        cfg = AuditConfig(
            origin="bench.invalid/log", signer=Signer.from_key(skey), checkpoint_every=10_000
        )
        stores = AppStores.connect(
            records_url=f"sqlite:///{work / 'r.sqlite'}",
            keystore_url=f"sqlite:///{work / 'k.sqlite'}",
            audit=cfg,
        )
        with stores.unit_of_work() as uow:
            register_log_key(uow.records, cfg)
        # 1. batched appends: 10,000 events per committed transaction
        n, batch = args.events, 10_000
        events = [_event(i) for i in range(batch)]
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(0, n, batch):
            with stores.unit_of_work() as uow:
                record_many(uow.records, cfg, events)
        dt, cpu = time.perf_counter() - t0, _cpu(n, c0)
        base = None
        if pm is not None:
            tree = pm.InmemoryTree(algorithm="sha256")
            bodies = [f"event {i}".encode() * 20 for i in range(n)]
            b0 = time.perf_counter()
            for b in bodies:
                tree.append_entry(b)
            bdt = time.perf_counter() - b0
            base = {
                "what": "pymerkle 7 InmemoryTree.append_entry",
                "seconds": round(bdt, 3),
                "rate": round(n / bdt, 1),
            }
        _line(
            "audit_append_batched",
            f"{n:,} events, 10,000 per commit, SQLite",
            n,
            dt,
            "events/s",
            {"rate": 50_000},
            n / dt >= 50_000,
            base,
            cpu,
        )
        # 2. one commit per event
        m = args.each
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(m):
            with stores.unit_of_work() as uow:
                record(uow.records, cfg, _event(i))
        dt, cpu = time.perf_counter() - t0, _cpu(m, c0)
        base = None
        if pm is not None:
            st = pm.SqliteTree(str(work / "pymerkle.sqlite"), algorithm="sha256")
            b0 = time.perf_counter()
            for i in range(m):
                st.append_entry(f"event {i}".encode() * 20)
            bdt = time.perf_counter() - b0
            base = {
                "what": "pymerkle 7 SqliteTree.append_entry (commits each)",
                "seconds": round(bdt, 3),
                "rate": round(m / bdt, 1),
            }
        _line(
            "audit_append_each",
            f"{m:,} events, one commit each, SQLite",
            m,
            dt,
            "events/s",
            {"rate": 2_000},
            m / dt >= 2_000,
            base,
            cpu,
        )
        # 3. verify everything
        total = n + m
        with stores.records_session() as s, stores.records_session() as leaves:
            t0, c0 = time.perf_counter(), time.process_time()
            rep = verify_store(s, leaves)
            dt, cpu = time.perf_counter() - t0, _cpu(total, c0)
        if not rep.ok:
            log(f"verification failed: {rep.problems[:3]}")
            return 1
        base = _rows_baseline(stores, total)
        _line(
            "audit_verify",
            f"{total:,} events, {len(rep.checkpoints)} checkpoints",
            total,
            dt,
            "events/s",
            {"rate": 500_000},
            total / dt >= 500_000,
            base,
            cpu,
        )
        stores.dispose()
        # 4. inclusion proofs at a large size, nodes built from synthetic leaves
        size = args.proof_size
        pstores = AppStores.connect(
            records_url=f"sqlite:///{work / 'p.sqlite'}",
            keystore_url=f"sqlite:///{work / 'pk.sqlite'}",
            audit=cfg,
        )
        log(f"building a {size:,}-leaf tree ...")
        chunk = 200_000
        b0 = time.perf_counter()
        for start in range(0, size, chunk):
            leaves_ = [
                hashlib.sha256(b"%d" % i).digest() for i in range(start, min(size, start + chunk))
            ]
            with pstores.unit_of_work() as uow:
                merkle.append_leaves(DbNodeStore(uow.records), leaves_)
        log(f"built in {time.perf_counter() - b0:.1f} s")
        rng = random.Random(1)
        with pstores.records_session() as s:
            store = DbNodeStore(s)
            picks = [rng.randrange(size) for _ in range(args.proofs)]
            merkle.inclusion_proof(store, picks[0], size)  # warm the connection
            t0 = time.perf_counter()
            for idx in picks:
                merkle.inclusion_proof(store, idx, size)
            dt = time.perf_counter() - t0
        per_ms = dt / args.proofs * 1000
        base = None
        if pm is not None:
            st = pm.SqliteTree(str(work / "pymerkle-proofs.sqlite"), algorithm="sha256")
            st.append_entries([b"%d" % i for i in range(100_000)])
            b0 = time.perf_counter()
            for idx in [rng.randrange(1, 100_001) for _ in range(args.proofs)]:
                st.prove_inclusion(idx)
            bms = (time.perf_counter() - b0) / args.proofs * 1000
            base = {
                "what": "pymerkle 7 SqliteTree.prove_inclusion at 100,000 entries",
                "ms_per_proof": round(bms, 4),
            }
        _line(
            "audit_proof",
            f"tree of {size:,} leaves in SQLite, {args.proofs} random proofs",
            args.proofs,
            dt,
            "proofs/s",
            {"ms_per_proof": 0.5},
            per_ms <= 0.5,
            base,
            {"ms_per_proof": round(per_ms, 4)},
        )
        pstores.dispose()
    finally:
        if not args.keep:
            remove_tree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
