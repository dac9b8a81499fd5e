"""Benchmark: import N customers (CSV, GBK, 12 columns) into a fresh dealvault store.

DESIGN.md section 8, first row: import 1M customers -> classified, encrypted, stored at
>= 100k rows/s with peak RSS <= 1 GiB, and within 3x the time of the baseline, the
``sqlite3`` command-line tool's ``.import`` of the same file into a plain, unencrypted
table, measured in the same run. The targets are stated "on one core of a 2-core
machine", so by default both the baseline and the import run pinned to core 0 with
``taskset -c 0`` (``--cpus 0`` lifts the pinning, ``--cpus 2`` allows two cores).

Steps:

1. Generate N customers with the synth API (``write_export(..., seed=1, fmt="csv",
   encoding="gbk", tables=("customers",))``) into ``bench/out/cache/`` and reuse the file
   on later runs when its recorded size still matches (cache keyed by rows and seed;
   ``--regen`` forces a fresh file).
2. Baseline: ``sqlite3 base.sqlite ".mode csv" ".import FILE t"`` into a fresh database,
   timed as a subprocess; the row count is checked afterwards.
3. dealvault: a fresh store in a scratch directory (``DEALVAULT_HOME``, env key provider,
   random master key), set up with the CLI (init with its operator and the seller, steward, deal);
   then ONLY ``dealvault import FILE --deal d --dataset crm --json`` is timed, with its
   peak RSS (``os.wait4``; see ``common.run_measured``). Its JSON must report
   ``rows_imported == N``, or the benchmark fails (exit 1).
4. One JSON line on stdout (progress goes to stderr); see ``docs/benchmarks.md``.

Usage::

    .venv/bin/python bench/import.py                 # 1,000,000 rows, one core
    .venv/bin/python bench/import.py --rows 100000   # quick run
    .venv/bin/python bench/import.py --keep          # keep bench/out/import-*/ for a look

Exit codes: 0 measured (whether or not the targets are met, unless ``--strict``), 1 a step
failed or the row counts are wrong, 2 bad arguments or missing tools, 3 ``--strict`` and a
target was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    VENV_BIN,
    Measured,
    cache_dir,
    cores_used,
    emit,
    git_state,
    log,
    machine,
    pin_command,
    remove_tree,
    run_measured,
    run_quiet,
    scratch_dir,
)

NAME = "import"
SEED = 1
COLUMNS = 12
TARGET_RATE = 100_000  # rows/s
TARGET_RSS_MIB = 1024  # 1 GiB
TARGET_RATIO = 3.0  # dealvault seconds / sqlite3 .import seconds
ACTOR = "steward@seller.example"
OPERATOR = "it@seller.example"  # runs the store, holds the master key

GENERATE = """
import json, sys
from pathlib import Path
from dealvault.synth import write_export
out_dir, rows, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
written = write_export(
    out_dir=out_dir, rows=rows, seed=seed, fmt="csv", encoding="gbk", tables=("customers",)
)
print(json.dumps({t: str(p) for t, p in written.items()}))
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="customers (default 1000000)")
    p.add_argument(
        "--cpus",
        type=int,
        default=1,
        help="pin baseline and import to cores 0..N-1 with taskset (default 1; 0 = unpinned)",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--regen", action="store_true", help="regenerate the cached input file")
    p.add_argument("--strict", action="store_true", help="exit 3 if a target is missed")
    p.add_argument(
        "--compare-python",
        action="store_true",
        help="also import with the Python kernels (DEALVAULT_NATIVE=0) into a fresh store",
    )
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="also import into two fresh PostgreSQL databases made on this server "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres); dropped afterwards",
    )
    args = p.parse_args()
    if args.rows <= 0:
        p.error("--rows must be positive")
    if not 0 <= args.cpus <= (os.cpu_count() or 1):
        p.error(f"--cpus must be between 0 and the {os.cpu_count()} cores here")
    return args


# --------------------------------------------------------------------------- input


def input_file(rows: int, seed: int, regen: bool) -> Path:
    """The cached GBK customers CSV for ``rows``/``seed``, generated when needed."""
    target = cache_dir(f"customers-gbk-n{rows}-s{seed}")
    csv_path = target / "customers.csv"
    meta_path = target / "meta.json"
    if not regen and meta_path.is_file() and csv_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("rows") == rows and meta.get("bytes") == csv_path.stat().st_size:
            log(f"reusing {csv_path} ({meta['bytes'] / 1e6:.1f} MB)")
            return csv_path
        log(f"cached {csv_path} does not match its meta.json; regenerating")

    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log(f"generating {rows:,} customers (GBK CSV, seed {seed}) ...")
    start = time.perf_counter()
    # In a subprocess, so this process stays small: a child's ru_maxrss starts from its
    # parent's peak RSS (see common.run_measured).
    out = run_quiet(
        [sys.executable, "-c", GENERATE, tmp, str(rows), str(seed)], what="synth write_export"
    )
    generated = Path(json.loads(out)["customers"])
    with generated.open("rb") as fh:
        header = fh.readline().decode("gbk").rstrip("\r\n").split(",")
    if len(header) != COLUMNS:
        log(f"synth wrote {len(header)} columns, expected {COLUMNS}: {header}")
        sys.exit(1)
    size = generated.stat().st_size
    if generated.name != "customers.csv":
        generated.rename(tmp / "customers.csv")
    meta = {"rows": rows, "seed": seed, "bytes": size, "encoding": "gbk", "columns": COLUMNS}
    (tmp / "meta.json").write_text(json.dumps(meta) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    log(f"generated {size / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s")
    return csv_path


# --------------------------------------------------------------------------- baseline


def baseline(csv_path: Path, work: Path, rows: int, cpus: int) -> tuple[Measured, str]:
    """Time ``sqlite3 .import`` of the file into a fresh database; check the row count."""
    sqlite3 = shutil.which("sqlite3")
    if sqlite3 is None:
        log("the sqlite3 command-line tool is needed for the baseline (apt-get install sqlite3)")
        sys.exit(2)
    version = run_quiet([sqlite3, "--version"], what="sqlite3 --version").split()[0]
    db = work / "baseline.sqlite"
    log(f"baseline: sqlite3 {version} .import ...")
    res = run_measured(
        pin_command([sqlite3, db, ".mode csv", f".import {csv_path} t"], cpus)
    ).check("sqlite3 .import")
    if res.stderr.strip():  # .import reports malformed lines on stderr but exits 0
        log(f"sqlite3 .import said: {res.stderr.strip()[:500]}")
    count = int(run_quiet([sqlite3, db, "SELECT count(*) FROM t"], what="sqlite3 count"))
    if count != rows:
        log(f"baseline imported {count} rows, expected {rows}")
        sys.exit(1)
    log(f"baseline: {res.seconds:.2f} s, peak RSS {res.peak_rss_mib:.0f} MiB")
    return res, version


# --------------------------------------------------------------------------- dealvault


def dealvault_bin() -> str:
    exe = VENV_BIN / "dealvault"
    if exe.is_file():
        return str(exe)
    found = shutil.which("dealvault")
    if found is None:
        log("dealvault console script not found; run `make venv` first")
        sys.exit(2)
    return found


def store_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any DEALVAULT_* setting, plus a fresh store's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALVAULT_")}
    env.update(
        DEALVAULT_HOME=str(home),
        DEALVAULT_KEY_PROVIDER="env",
        DEALVAULT_MASTER_KEY=secrets.token_hex(32),
        DEALVAULT_ACTOR=ACTOR,
        **extra,
    )
    return env


def store_bytes(home: Path) -> int:
    """Bytes of the store's files (both SQLite databases with their WAL files)."""
    return sum(f.stat().st_size for f in home.rglob("*") if f.is_file())


class PgDatabases:
    """Two fresh PostgreSQL databases (records, keys) for one run; dropped by ``drop``."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.base = make_url(url)
        self.admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def make(self, what: str) -> str:
        from sqlalchemy import text

        name = f"dv_bench_import_{what}_{secrets.token_hex(4)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return self.base.set(database=name).render_as_string(hide_password=False)

    def size(self) -> int:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            return sum(
                int(conn.execute(text("SELECT pg_database_size(:n)"), {"n": n}).scalar() or 0)
                for n in self.names
            )

    def drop(self) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def run_import(
    csv_path: Path, work: Path, rows: int, cpus: int, **extra: str
) -> tuple[Measured, dict[str, Any]]:
    """Set up a fresh store with the CLI (``extra``: more DEALVAULT_* settings), then time
    only the import."""
    dv = dealvault_bin()
    env = store_env(work / "home", **extra)
    op = ["--as", OPERATOR]
    setup = [
        ["init", "--operator", OPERATOR, "--operator-name", "Op", "--org", "S"],
        [*op, "person", "add", ACTOR, "--name", "S", "--org", "S"],
        [*op, "deal", "create", "d", "--name", "d", "--seller", "S", "--steward", ACTOR],
    ]
    for cmd in setup:
        run_quiet([dv, *cmd], env=env, what="dealvault " + " ".join(cmd[:3]))
    # The working directory is the scratch dir so that no dealvault.toml is picked up.
    log("dealvault import ...")
    argv: list[str | os.PathLike[str]] = [
        dv,
        "import",
        csv_path,
        "--deal",
        "d",
        "--dataset",
        "crm",
        "--json",
    ]
    res = run_measured(pin_command(argv, cpus), env=env, cwd=work).check("dealvault import")
    try:
        report = json.loads(res.stdout[res.stdout.index("{") : res.stdout.rindex("}") + 1])
    except ValueError:
        log("dealvault import --json printed no JSON object:\n" + res.stdout[-2000:])
        sys.exit(1)
    if report.get("rows_imported") != rows:
        log(
            f"dealvault imported {report.get('rows_imported')} rows, expected {rows} "
            f"(read {report.get('rows_read')}, rejected {report.get('rows_rejected')}, "
            f"merged {report.get('rows_merged')})"
        )
        sys.exit(1)
    log(f"dealvault: {res.seconds:.2f} s, peak RSS {res.peak_rss_mib:.0f} MiB")
    report["store_bytes"] = store_bytes(work / "home")
    return res, report


# --------------------------------------------------------------------------- main


def postgres_import(csv_path: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The same import into two fresh PostgreSQL databases (COPY for the bulk rows)."""
    dbs = PgDatabases(args.postgres)
    try:
        urls = {
            "DEALVAULT_DATABASE_URL": dbs.make("records"),
            "DEALVAULT_KEYSTORE_URL": dbs.make("keys"),
        }
        log("the same import into PostgreSQL ...")
        res, _ = run_import(csv_path, work, args.rows, args.cpus, **urls)
        size = dbs.size()
    finally:
        dbs.drop()
    return {
        "seconds": round(res.seconds, 3),
        "rate": round(args.rows / res.seconds),
        "peak_rss_mib": round(res.peak_rss_mib, 1),
        "cpu_seconds_client": round(res.cpu_seconds, 2),
        "database_bytes": size,
        "database_bytes_per_customer": round(size / args.rows),
        "note": "server on the same machine, outside the taskset pinning",
    }


def main() -> int:
    args = parse_args()
    csv_path = input_file(args.rows, SEED, args.regen)
    size = csv_path.stat().st_size
    work = scratch_dir(NAME)
    extra: dict[str, Any] = {}
    try:
        base, sqlite_version = baseline(csv_path, work, args.rows, args.cpus)
        imp, report = run_import(csv_path, work, args.rows, args.cpus)
        if args.compare_python:
            log("the same import with the Python kernels (DEALVAULT_NATIVE=0) ...")
            py, _ = run_import(csv_path, work / "py", args.rows, args.cpus, DEALVAULT_NATIVE="0")
            extra["python_kernels"] = {
                "seconds": round(py.seconds, 3),
                "rate": round(args.rows / py.seconds),
                "peak_rss_mib": round(py.peak_rss_mib, 1),
                "native_speed_up": round(py.seconds / imp.seconds, 2),
            }
        if args.postgres:
            extra["postgres"] = postgres_import(csv_path, work / "pg", args)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            remove_tree(work)

    rate = args.rows / imp.seconds
    ratio = imp.seconds / base.seconds
    meets = {
        "rate": rate >= TARGET_RATE,
        "peak_rss": imp.peak_rss_mib <= TARGET_RSS_MIB,
        "ratio_to_baseline": ratio <= TARGET_RATIO,
    }
    record: dict[str, Any] = {
        "name": NAME,
        "input": f"{args.rows:,} customers, CSV GBK, {COLUMNS} columns, {size / 1e6:.1f} MB",
        "rows": args.rows,
        "bytes": size,
        "seconds": round(imp.seconds, 3),
        "rate": round(rate),
        "unit": "rows/s",
        "mb_per_s": round(size / imp.seconds / 1e6, 2),
        "peak_rss_mib": round(imp.peak_rss_mib, 1),
        "peak_rss_method": imp.rss_method,
        "cpu_seconds": round(imp.cpu_seconds, 2),
        "baseline": f"sqlite3 {sqlite_version} CLI .import (csv mode, plain table)",
        "baseline_seconds": round(base.seconds, 3),
        "baseline_peak_rss_mib": round(base.peak_rss_mib, 1),
        "ratio_to_baseline": round(ratio, 2),
        "target": {
            "rate": TARGET_RATE,
            "peak_rss_mib": TARGET_RSS_MIB,
            "ratio_to_baseline": TARGET_RATIO,
        },
        "meets": meets,
        "meets_target": all(meets.values()),
        "cores": cores_used(args.cpus),
        "pinned": args.cpus > 0,
        "store_bytes": report["store_bytes"],
        "store_bytes_per_customer": round(report["store_bytes"] / args.rows),
        **extra,
        "rows_rejected": report.get("rows_rejected"),
        "rows_merged": report.get("rows_merged"),
        **git_state(),
        "machine": machine(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    emit(record)
    if args.strict and not record["meets_target"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
