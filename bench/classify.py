"""Structured classification throughput (cells/s) on a 1M-row x 12-column synth export.

Prints one JSON line per measurement, each against the DESIGN.md §8 target of 5,000,000
cells/s on one core:

* ``classify_frame_sampled``: ``classify_frame`` with its default sampling (10,000 values per
  column) — what an import pays; cells = every cell of the frame;
* ``classify_frame_full``: ``classify_frame`` with ``sample_size`` = row count, so every
  cell of every column goes through the detectors the column needs;
* ``detectors_all_cells``: every detector on every cell of every column (the brute-force
  upper bound of work; informational — classification never needs it).

The frame is the customers table as a CSV reader without type inference sees it (all text;
``--typed`` measures the typed frame instead). Pinned to one core with
``os.sched_setaffinity`` before Polars starts its thread pool. Options: ``--rows N``
(default 1,000,000), ``--repeat N`` (best of N, default 3), ``--skip-exhaustive``.
"""

from __future__ import annotations

import os

os.sched_setaffinity(0, {0})  # before Polars sizes its thread pool

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl  # noqa: E402
from common import emit, git_state, log, machine  # noqa: E402

from dealvault.classify.cells import Cells  # noqa: E402
from dealvault.classify.columns import classify_frame  # noqa: E402
from dealvault.classify.detectors import DETECTORS  # noqa: E402
from dealvault.synth import DEFAULT_AS_OF, generate_customers  # noqa: E402

TARGET = 5_000_000


def _frame(rows: int, typed: bool) -> pl.DataFrame:
    frame = pl.concat(list(generate_customers(rows=rows, seed=1, chunk_rows=100_000)))
    if typed:
        return frame
    return frame.with_columns(pl.col(pl.Date).dt.strftime("%Y-%m-%d")).cast(pl.String)


def _exhaustive(frame: pl.DataFrame) -> None:
    for col in frame.columns:
        cells = Cells(frame[col], today=DEFAULT_AS_OF)
        for detector in DETECTORS.values():
            detector(cells)


def _best(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _line(name: str, frame: pl.DataFrame, seconds: float, extra: dict[str, Any]) -> None:
    cells = frame.height * frame.width
    rate = cells / seconds
    emit(
        {
            "name": name,
            "input": f"synth customers {frame.height} rows x {frame.width} columns",
            "rows": frame.height,
            "cells": cells,
            "seconds": round(seconds, 4),
            "rate": round(rate, 1),
            "unit": "cells/s",
            "target": TARGET,
            "meets_target": rate >= TARGET,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cores": len(os.sched_getaffinity(0)),
            "polars_threads": pl.thread_pool_size(),
            **extra,
            **git_state(),
            "machine": machine(),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--typed", action="store_true", help="typed columns instead of text")
    parser.add_argument("--skip-exhaustive", action="store_true")
    args = parser.parse_args()
    log(f"generating {args.rows} customers")
    frame = _frame(args.rows, args.typed)
    extra = {"values": "typed" if args.typed else "text", "repeat": args.repeat}
    warm = frame.head(20_000)
    classify_frame(frame=warm, today=DEFAULT_AS_OF)  # build caches, compile patterns
    classify_frame(frame=warm, sample_size=warm.height, today=DEFAULT_AS_OF)

    log("classify_frame, default sampling")
    sampled = _best(lambda: classify_frame(frame=frame, today=DEFAULT_AS_OF), args.repeat)
    _line("classify_frame_sampled", frame, sampled, {**extra, "sample_size": 10_000})

    log("classify_frame, every cell")
    full = _best(
        lambda: classify_frame(frame=frame, sample_size=frame.height, today=DEFAULT_AS_OF),
        args.repeat,
    )
    _line("classify_frame_full", frame, full, {**extra, "sample_size": frame.height})

    if not args.skip_exhaustive:
        log("every detector on every cell")
        brute = _best(lambda: _exhaustive(frame), 1)
        _line("detectors_all_cells", frame, brute, {**extra, "detectors": len(DETECTORS)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
