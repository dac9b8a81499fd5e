"""The integer-programming attack on safe aggregates of the UCI Adult data, before and after
the suppression audit.

Prints one JSON line per table (``suppression_attack_<dims>``). Each table is a count cube
with all margins at k_min = 10 over some of Adult's columns (age in 10-year bands). For two
releases of it:

* ``before``: the release as it was before the audit (the line rule alone, empty cells left
  out, so a printed suppressed cell holds somebody);
* ``after``: the release as it is (empty cells printed and suppressed, the interval audit);

the attacker of ``tests/deidentify/attacker.py`` (``scipy.optimize.milp``, written apart from
the audit) finds every hidden cell's interval from the released rows alone, and the line
says how many hidden cells it recovered exactly, proved below k_min, or narrowed to a range
less than k_min wide, and how long the release took. Data: as bench/adult.py (``--data``,
``$DEALVAULT_ADULT_DIR``, ``bench/data/adult/``, else generated to the same schema).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

import polars as pl  # noqa: E402
from adult_data import load  # noqa: E402
from common import emit, git_state, log, machine  # noqa: E402
from tests.deidentify.attacker import attack  # noqa: E402

from dealvault.deidentify import aggregate_audit, aggregates  # noqa: E402

K_MIN = 10
TABLES = (
    ("workclass", "sex"),
    ("education", "race", "sex"),
    ("marital-status", "race", "sex"),
    ("age_band", "occupation", "sex"),
)


def release(frame: pl.DataFrame, dims: tuple[str, ...], *, audited: bool) -> pl.DataFrame:
    """The count cube of ``dims`` as released before the audit, or as released now."""
    if audited:
        return aggregates.aggregate(frame, by=dims, measures=["count"], k_min=K_MIN).table
    original, grid = aggregate_audit.protect_counts, aggregates.with_empty_cells
    aggregate_audit.protect_counts = lambda **kw: original(**{**kw, "audit": False})  # type: ignore[assignment]
    aggregates.with_empty_cells = lambda cells, **_: cells  # type: ignore[assignment]
    try:
        return aggregates.aggregate(frame, by=dims, measures=["count"], k_min=K_MIN).table
    finally:
        aggregate_audit.protect_counts, aggregates.with_empty_cells = original, grid


def measure(frame: pl.DataFrame, dims: tuple[str, ...], *, audited: bool) -> dict[str, Any]:
    started = time.perf_counter()
    table = release(frame, dims, audited=audited)
    seconds = time.perf_counter() - started
    found = attack(table, dims=list(dims), lowest=0.0 if audited else 1.0)
    hidden = len(found)

    def share(count: int) -> float:
        return round(count / hidden, 4) if hidden else 0.0

    exact = sum(lo == hi for lo, hi in found.values())
    below = sum(hi < K_MIN for _, hi in found.values())
    narrow = sum(hi - lo < K_MIN for lo, hi in found.values())
    return {
        "cells": table.height,
        "hidden": hidden,
        "exact": exact,
        "exact_share": share(exact),
        "below_k_min": below,
        "below_k_min_share": share(below),
        "narrower_than_k_min": narrow,
        "seconds_release": round(seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--generate", action="store_true", help="ignore the real data")
    args = parser.parse_args()
    directory = args.data or Path(os.environ.get("DEALVAULT_ADULT_DIR") or ROOT / "data" / "adult")
    data = load(directory=None if args.generate else directory)
    frame = data.frame.with_row_index("n").with_columns(
        pl.format("p{}", pl.col("n")).alias("subject_id"),
        ((pl.col("age") // 10) * 10).cast(pl.String).alias("age_band"),
    )
    log(f"{frame.height} rows ({data.source})")
    for dims in TABLES:
        record = {
            "name": "suppression_attack_" + "_".join(d.replace("-", "") for d in dims),
            "data": data.source,
            "rows": frame.height,
            "group_by": list(dims),
            "k_min": K_MIN,
            "before": measure(frame, dims, audited=False),
            "after": measure(frame, dims, audited=True),
            "git": git_state(),
            "machine": machine(),
        }
        emit(record)


if __name__ == "__main__":
    main()
