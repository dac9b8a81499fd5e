"""Benchmark: free-text PII scanning of Chinese customer-service notes on one core.

DESIGN.md section 8: scan free text at >= 10 MB/s on one core of a 2-core machine
(reference: Presidio manages about 110 KB/s here; it is not run by this script).

Steps:

1. Pin this process to core 0 (``os.sched_setaffinity``) BEFORE importing Polars, so its
   thread pool has one thread and everything below runs on one core.
2. Generate notes with ``dealvault.synth.generate_tables(rows=..., seed=1,
   notes_per_customer=...)`` (the ``备注`` column: complaints, requests, enquiries with the
   customer's own mobile number, ID number or e-mail address embedded) and repeat the
   column until it holds ``--mb`` megabytes of UTF-8 (default 50).
3. Time ``scan_series`` over the whole column ``--runs`` times (default 3) after one
   warm-up call on a small slice; report the median. ``mask_series`` is timed once.
4. Score the spans of the generated (not repeated) notes against the values the
   generator planted, located independently with the generator's own phrase list
   (``dealvault.synth.vocab``): precision and recall per type, exact offsets required.
   These notes are easy (three types, fixed phrases); ``--corpus dense`` builds harder
   records instead (a name, an address, a mobile and a card in every record, among
   dates, order numbers and amounts), scored against the planted offsets.
5. One JSON line on stdout (progress goes to stderr).

Usage::

    .venv/bin/python bench/freetext.py                  # ~50 MB of notes, one core
    .venv/bin/python bench/freetext.py --mb 5           # quick run
    .venv/bin/python bench/freetext.py --corpus dense   # PII-dense stress records
"""

from __future__ import annotations

import os

if hasattr(os, "sched_setaffinity"):  # before Polars starts its thread pool
    os.sched_setaffinity(0, {0})

import argparse
import math
import re
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl
from common import emit, git_state, log, machine

from dealvault.classify.freetext import mask_series, scan_series
from dealvault.synth import generate_tables, vocab

NAME = "freetext_scan"
TARGET_MB_S = 10.0
PRESIDIO_MB_S = 0.110  # DESIGN.md section 8, measured elsewhere on this kind of machine
SEED = 1
NOTES_PER_CUSTOMER = 2.0
BYTES_PER_CUSTOMER = 186  # about 2 notes of 93 bytes
DENSE_BYTES_PER_CUSTOMER = 260


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--mb", type=float, default=50.0, help="megabytes of text (default 50)")
    p.add_argument(
        "--customers",
        type=int,
        default=None,
        help="customers to generate notes for (default: enough for --mb; repeated if short)",
    )
    p.add_argument("--runs", type=int, default=3, help="timed scans (default 3)")
    p.add_argument(
        "--corpus",
        choices=("notes", "dense"),
        default="notes",
        help="notes: the generator's service notes (default); dense: stress records with a"
        " name, address, mobile and card each, plus dates, order numbers and amounts",
    )
    p.add_argument("--strict", action="store_true", help="exit 3 when the target is missed")
    p.add_argument(
        "--no-model",
        dest="model",
        action="store_false",
        help="patterns and cues only (without the statistical name and address model)",
    )
    return p.parse_args()


def generate(customers: int) -> pl.Series:
    batches = generate_tables(
        rows=customers,
        seed=SEED,
        notes_per_customer=NOTES_PER_CUSTOMER,
        tables=("customers", "notes"),
    )
    return pl.concat([b.notes["备注"] for b in batches]).rechunk()


def dense_record(
    i: int, name: str, address: str | None, mobile: str, card: str | None
) -> tuple[str, list[tuple[int, int, str]]]:
    """One stress record and the spans of its planted values."""
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []

    def put(value: str, pii_type: str | None = None) -> None:
        start = sum(len(p) for p in parts)
        if pii_type is not None:
            spans.append((start, start + len(value), pii_type))
        parts.append(value)

    put(f"2024-03-{i % 28 + 1:02d} 10:{i % 60:02d} 客户")
    put(name, "cn_name")
    put(f"来电，订单号2024{i:010d}，金额128.50元，数量3件，收货地址")
    if address is None:
        put("不变")
    else:
        put(address, "cn_address")
    put("，手机")
    put(mobile, "cn_mobile")
    if card is not None:
        put("，银行卡")
        put(card, "bank_card")
    put("。处理人工号A1023，已回访。")
    return "".join(parts), spans


def dense_corpus(customers: int) -> tuple[pl.Series, pl.DataFrame]:
    """Stress text: every record holds a name, an address, a mobile and often a card.

    Each record also carries a date, a time, a 14-digit order number, an amount and a
    staff number (numbers that must NOT be reported). Returns the texts and the exact
    spans of the planted values.
    """
    frame = pl.concat(
        [b.customers for b in generate_tables(rows=customers, seed=SEED, tables=("customers",))]
    )
    texts: list[str] = []
    truth: list[tuple[int, int, int, str]] = []
    columns = ("姓名", "地址", "手机号", "银行卡号")
    for i, values in enumerate(frame.select(columns).iter_rows()):
        text, spans = dense_record(i, *values)
        texts.append(text)
        truth.extend((i, start, end, pii_type) for start, end, pii_type in spans)
    planted = pl.DataFrame(
        truth,
        schema={"row": pl.Int64, "start": pl.Int64, "end": pl.Int64, "pii_type": pl.String},
        orient="row",
    )
    return pl.Series("备注", texts, dtype=pl.String), planted


def planted_spans(notes: pl.Series) -> pl.DataFrame:
    """Where the generator put a mobile number, ID number or e-mail address (exact)."""

    def alternatives(pairs: tuple[tuple[str, str], ...]) -> str:
        return "|".join(re.escape(before) for before, _ in pairs)

    patterns = {
        "cn_mobile": re.compile(
            f"(?:{alternatives(vocab.NOTE_PHONE)})(1[0-9]{{2}}(?:[0-9]{{8}}|-[0-9]{{4}}-[0-9]{{4}}"
            r"| [0-9]{4} [0-9]{4}))"
        ),
        "cn_ric": re.compile(f"(?:{alternatives(vocab.NOTE_ID)})([0-9]{{17}}[0-9X])"),
        "email": re.compile(f"(?:{alternatives(vocab.NOTE_EMAIL)})([^，。\\s]+@[^，。\\s]+)"),
    }
    rows: list[tuple[int, int, int, str]] = []
    for i, text in enumerate(notes.to_list()):
        if text is None:
            continue
        for pii_type, pattern in patterns.items():
            for m in pattern.finditer(text):
                rows.append((i, m.start(1), m.end(1), pii_type))
    return pl.DataFrame(
        rows,
        schema={"row": pl.Int64, "start": pl.Int64, "end": pl.Int64, "pii_type": pl.String},
        orient="row",
    )


def score(found: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    keys = ["row", "start", "end", "pii_type"]
    hits = found.select(keys).join(truth, on=keys, how="semi")

    def counts(frame: pl.DataFrame) -> dict[str, int]:
        return {str(t): int(n) for t, n in frame.group_by("pii_type").len().iter_rows()}

    n_found, n_truth, n_hit = counts(found), counts(truth), counts(hits)
    per_type: dict[str, Any] = {}
    for t in sorted(set(n_found) | set(n_truth)):
        f, e, h = n_found.get(t, 0), n_truth.get(t, 0), n_hit.get(t, 0)
        per_type[t] = {
            "expected": e,
            "found": f,
            "exact": h,
            "precision": round(h / f, 5) if f else None,
            "recall": round(h / e, 5) if e else None,
        }
    total_f, total_e, total_h = found.height, truth.height, hits.height
    return {
        "notes": None,
        "precision": round(total_h / total_f, 5) if total_f else None,
        "recall": round(total_h / total_e, 5) if total_e else None,
        "per_type": per_type,
    }


def main() -> int:
    args = parse_args()
    threads = pl.thread_pool_size()
    log(f"pinned to core(s) {sorted(os.sched_getaffinity(0))}, polars threads {threads}")
    t0 = time.perf_counter()
    if args.corpus == "dense":
        customers = args.customers or max(1, int(args.mb * 1e6 / DENSE_BYTES_PER_CUSTOMER))
        base, truth = dense_corpus(customers)
    else:
        customers = args.customers or max(1, int(args.mb * 1e6 / BYTES_PER_CUSTOMER))
        base = generate(customers)
        truth = planted_spans(base)
    base_bytes = int(base.str.len_bytes().sum())
    repeats = max(1, math.ceil(args.mb * 1e6 * 0.95 / base_bytes))
    texts = pl.concat([base] * repeats).rechunk().alias("备注")
    size = int(texts.str.len_bytes().sum())
    log(
        f"generated {len(base):,} texts ({base_bytes / 1e6:.1f} MB) x {repeats} = "
        f"{len(texts):,} rows, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s"
    )

    scan_series(
        texts=texts.head(1000), model=args.model
    )  # warm-up: regex compilation, reference tables
    times: list[float] = []
    frame = pl.DataFrame()
    for run in range(args.runs):
        start = time.perf_counter()
        frame = scan_series(texts=texts, model=args.model)
        times.append(time.perf_counter() - start)
        log(f"run {run + 1}: {times[-1]:.3f} s, {size / times[-1] / 1e6:.1f} MB/s")
    seconds = statistics.median(times)
    start = time.perf_counter()
    masked = mask_series(texts=texts, model=args.model)
    mask_seconds = time.perf_counter() - start
    assert masked.len() == texts.len()

    base_found = frame.filter(pl.col("row") < len(base))
    evaluation = score(base_found, truth)
    evaluation["notes"] = len(base)
    log(f"precision {evaluation['precision']}, recall {evaluation['recall']}")

    rate = size / seconds / 1e6
    kind = "customer-service notes" if args.corpus == "notes" else "dense stress records"
    record: dict[str, Any] = {
        "name": (NAME if args.corpus == "notes" else f"{NAME}_dense")
        + ("" if args.model else "_no_model"),
        "model": args.model,
        "input": (
            f"{len(texts):,} synthetic {kind} (备注), {size / 1e6:.1f} MB UTF-8"
            f" ({len(base):,} generated, seed {SEED}, x{repeats})"
        ),
        "rows": len(texts),
        "bytes": size,
        "seconds": round(seconds, 3),
        "seconds_all_runs": [round(t, 3) for t in times],
        "rate": round(rate, 2),
        "unit": "MB/s",
        "rate_mb_s": round(rate, 2),
        "spans": frame.height,
        "spans_per_type": {str(t): int(n) for t, n in frame["pii_type"].value_counts().rows()},
        "mask_seconds": round(mask_seconds, 3),
        "mask_rate_mb_s": round(size / mask_seconds / 1e6, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "baseline": "Presidio, about 110 KB/s (DESIGN.md section 8; not run here)",
        "baseline_seconds": None,
        "ratio_to_baseline": None,
        "speedup_vs_presidio_reference": round(rate / PRESIDIO_MB_S),
        "target": TARGET_MB_S,
        "meets_target": rate >= TARGET_MB_S,
        "synth_eval": evaluation,
        "cores": len(os.sched_getaffinity(0)),
        "polars_threads": threads,
        "polars": pl.__version__,
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
