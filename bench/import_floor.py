"""Benchmark: the floor of the import's own database work, with no dealvault code.

Issue 21 asks why the import stays far from ``sqlite3 .import``. This script times what the
database alone costs for the layout the import writes, in one process pinned to one core,
through Python's ``sqlite3`` (the driver the import uses) with the store's pragmas (4 KiB
pages, WAL, ``synchronous=NORMAL``, 64 MiB cache), in one transaction as the import does:

1. ``customer_records``: N rows of 13 columns with four random blobs of the sizes a real
   import stores per customer (124, 172, 137 and 101 bytes: the mean envelope sizes of the
   1M-customer benchmark file), its primary key, the unique subject id and the
   (dataset, status, id) index;
2. ``blind_indexes`` (``WITHOUT ROWID``, primary key dataset, field, value, record): 3N random
   16-byte values, either sorted per batch of 20,000 customers (``per_batch``) or held and
   written in sorted runs of 600,000 rows (``runs``, what the import does since issue 21);
3. the commit and a WAL checkpoint.

The rows are made before the clock starts, in batches, so only the driver and SQLite are
timed. The baseline, in the same run, is the ``sqlite3`` tool's ``.import`` of a CSV of the
same N rows of 168 bytes (the benchmark file's mean row). One JSON line on stdout.

    .venv/bin/python bench/import_floor.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import emit, git_state, log, machine, remove_tree, scratch_dir

NAME = "import_floor"
SIZES = (124, 172, 137, 101)
BATCH = 20_000
RUN_ROWS = 600_000
RECORDS = """CREATE TABLE customer_records (id INTEGER NOT NULL PRIMARY KEY, dataset_id INTEGER
NOT NULL, subject_id VARCHAR(32) NOT NULL UNIQUE, status VARCHAR(16) NOT NULL, key_version
INTEGER NOT NULL, import_id INTEGER, enc_identity BLOB, enc_contact BLOB, enc_transaction BLOB,
enc_preference BLOB, enc_sensitive BLOB, enc_free_text BLOB, flags INTEGER)"""
BLIND = """CREATE TABLE blind_indexes (dataset_id INTEGER NOT NULL, field INTEGER NOT NULL,
value BLOB NOT NULL, record_id INTEGER NOT NULL, PRIMARY KEY (dataset_id, field, value,
record_id)) WITHOUT ROWID"""


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "page_size=4096",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "cache_size=-65536",
        "temp_store=MEMORY",
    ):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(RECORDS)
    conn.execute("CREATE INDEX ix ON customer_records (dataset_id, status, id)")
    conn.execute(BLIND)
    return conn


def run(path: Path, rows: int, blind: str) -> dict[str, float]:
    rng = random.Random(21)
    pool = rng.randbytes(1 << 20)
    conn = connect(path)
    took = {"records_s": 0.0, "blind_s": 0.0}
    held: list[tuple[int, int, bytes, int]] = []
    conn.execute("BEGIN")
    for start in range(1, rows + 1, BATCH):
        n = min(BATCH, rows + 1 - start)
        batch = []
        for i in range(n):
            at = rng.randrange(len(pool) - 200)
            blobs = [pool[at + k : at + k + s] for k, s in enumerate(SIZES)]
            sid = f"{start + i:08x}{rng.getrandbits(64):016x}"
            batch.append((start + i, 1, sid, "active", 1, 1, *blobs, None, None, 0))
        blinds = [(1, f, rng.randbytes(16), start + i) for i in range(n) for f in (1, 2, 4)]
        t = time.perf_counter()
        conn.executemany(f"INSERT INTO customer_records VALUES ({','.join('?' * 13)})", batch)
        took["records_s"] += time.perf_counter() - t
        held.extend(blinds)
        if blind == "per_batch" or len(held) >= RUN_ROWS or start + n > rows:
            held.sort()
            t = time.perf_counter()
            conn.executemany("INSERT INTO blind_indexes VALUES (?,?,?,?)", held)
            took["blind_s"] += time.perf_counter() - t
            held = []
    t = time.perf_counter()
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    took["commit_s"] = time.perf_counter() - t
    conn.close()
    took["total_s"] = took["records_s"] + took["blind_s"] + took["commit_s"]
    took["bytes"] = path.stat().st_size
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in took.items()}


def baseline(work: Path, rows: int) -> float:
    exe = shutil.which("sqlite3")
    if exe is None:
        log("the sqlite3 command-line tool is missing (apt-get install sqlite3)")
        sys.exit(2)
    csv = work / "rows.csv"
    rng = random.Random(7)
    with csv.open("w") as fh:
        for i in range(rows):
            fh.write(f"{i},{rng.getrandbits(640):0160x}\n")  # 168 bytes a row
    t = time.perf_counter()
    subprocess.run([exe, str(work / "base.sqlite"), ".mode csv", f".import {csv} t"], check=True)
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    work = scratch_dir(NAME)
    try:
        base = baseline(work, args.rows)
        log(f"sqlite3 .import: {base:.2f} s")
        out: dict[str, Any] = {}
        for blind in ("per_batch", "runs"):
            out[blind] = run(work / f"{blind}.sqlite", args.rows, blind)
            log(f"{blind}: {out[blind]}")
    finally:
        remove_tree(work)
    emit(
        {
            "name": NAME,
            "rows": args.rows,
            "baseline_s": round(base, 3),
            **out,
            "ratio_runs_to_baseline": round(out["runs"]["total_s"] / base, 2),
            **git_state(),
            "machine": machine(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
