"""Mondrian on the UCI Adult data beside anonypy: NCP, seconds and true labels at k = 2..100.

Prints one JSON line per k (``adult_mondrian_k<k>``). Data (bench/adult_data.py): the real
UCI Adult file from ``--data DIR`` (else ``$DEALVAULT_ADULT_DIR``, else ``bench/data/adult/``,
git-ignored: ARX's ``adult.csv`` with its hierarchy files, or UCI's ``adult.data``), or without
it 32,561 rows generated to the same schema (seeded); ``"data"`` says which. Quasi-identifiers:
age (numeric), sex, race, marital-status, education, native-country, workclass, occupation
(categorical, with hierarchies); the income class is released beside them (not a
quasi-identifier).

For each k, on one core (this process is pinned to core 0 before Polars starts, and anonypy's
process inherits it):

* ours: :func:`dealvault.deidentify.kanon.anonymize_traced` (``anonymize`` that also returns
  each released row's input row), timed around the call; NCP from its report and again from
  the released labels (bench/adult_labels.py), suppressed rows, k achieved, and the number of
  released labels that do not contain their row's own value (must be 0);
* anonypy 0.2.1 (``--anonypy-python``, default ``.venv-anonypy/bin/python``, made by
  ``make bench``) run by bench/anonypy_run.py in a subprocess on the same rows written to CSV,
  timed inside that process around its two calls (as ours: data loaded, clock around the
  library); its NCP is computed here from the labels it released with the same definition,
  its value sets costing (values in the set - 1) / (leaves - 1). A k that exceeds
  ``--anonypy-timeout`` seconds or fails is reported as such (``"status"``).

Options: ``--ks`` (2,5,10,20,50,100), ``--anonypy-ks`` (the same; ``none`` skips anonypy),
``--generate`` (ignore real data), ``--rows`` (generated rows, 32,561), ``--seed`` (1).
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    os.sched_setaffinity(0, {0})  # before Polars sizes its thread pool

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl
from adult_data import CATEGORICAL, QUASI, SENSITIVE, UCI_ROWS, AdultData, load
from adult_labels import figures
from common import BENCH_DIR, REPO_DIR, emit, git_state, log, machine, remove_tree, scratch_dir

from dealvault.deidentify.kanon import QuasiIdentifier, anonymize_traced

KS = (2, 5, 10, 20, 50, 100)
DEFAULT_DATA = BENCH_DIR / "data" / "adult"
ANONYPY_PYTHON = REPO_DIR / ".venv-anonypy" / "bin" / "python"


def quasi_identifiers(*, data: AdultData) -> list[QuasiIdentifier]:
    """age numeric; the categorical columns with their hierarchies."""
    return [
        QuasiIdentifier("age", "numeric"),
        *(QuasiIdentifier(c, "categorical", data.hierarchies[c]) for c in CATEGORICAL),
    ]


def numeric_spans(*, data: AdultData) -> dict[str, float]:
    """Domain width of each numeric quasi-identifier (the NCP denominator)."""
    age = data.frame.get_column("age")
    return {"age": float(age.max() - age.min())}  # type: ignore[operator]


def run_ours(*, data: AdultData, k: int) -> dict[str, Any]:
    """Our Mondrian at ``k``, timed; NCP (report and labels), suppression, true-label check."""
    started = time.perf_counter()
    out, report, rows = anonymize_traced(
        data.frame, quasi_identifiers=quasi_identifiers(data=data), k=k, sensitive=SENSITIVE,
        seed=1,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    original = data.frame.select(pl.col(*QUASI).gather(rows))
    labels = figures(
        original=original,
        released=out.select(QUASI),
        hierarchies=data.hierarchies,
        numeric=numeric_spans(data=data),
        style="ours",
        rows_in=data.frame.height,
    )
    return {
        "seconds": round(seconds, 4),
        "ncp": round(report.ncp, 5),
        "ncp_from_labels": round(labels.ncp, 5),
        "ncp_as_value_sets": round(labels.ncp_other, 5),
        "ncp_per_column": {c: round(v, 5) for c, v in report.ncp_per_column.items()},
        "suppressed": report.suppressed,
        "k_achieved": report.k_achieved,
        "partitions": report.partitions,
        "classes": report.classes,
        "released_rows": report.rows_out,
        "label_violations": labels.violations,
    }


def run_anonypy(
    *, data: AdultData, k: int, python: Path, input_csv: Path, out: Path, timeout: float
) -> dict[str, Any]:
    """anonypy at ``k`` in its own venv; its NCP and true-label check from its labels."""
    argv = [
        str(python), str(BENCH_DIR / "anonypy_run.py"), "--input", str(input_csv),
        "--out", str(out), "--k", str(k), "--sensitive", SENSITIVE, "--numeric", "age",
    ]  # fmt: skip
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "timeout_seconds": timeout}
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["(no message)"])[-1][:200]
        return {"status": "error", "error": last}
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    parts = pl.read_csv(out / "partitions.csv", infer_schema=False)
    parts = parts.with_columns(pl.col("part").cast(pl.Int64))
    of_row = pl.read_csv(out / "rows.csv", schema={"part": pl.Int64})
    released = of_row.join(parts, on="part", how="left", maintain_order="left")
    labels = figures(
        original=data.frame.select(QUASI),
        released=released.select(QUASI),
        hierarchies=data.hierarchies,
        numeric=numeric_spans(data=data),
        style="anonypy",
        rows_in=data.frame.height,
    )
    sizes = of_row.group_by("part").len().get_column("len")
    return {
        "status": "ok",
        **result,
        "ncp": round(labels.ncp, 5),
        "ncp_lifted_to_hierarchy": round(labels.ncp_other, 5),
        "ncp_per_column": {c: round(v, 5) for c, v in labels.ncp_per_column.items()},
        "suppressed": 0,
        "k_achieved": int(sizes.min()),  # type: ignore[arg-type]
        "label_violations": labels.violations,
    }


def _ks(text: str) -> tuple[int, ...]:
    if text.strip().lower() == "none":
        return ()
    return tuple(int(part) for part in text.split(",") if part.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--ks", type=_ks, default=KS)
    parser.add_argument("--anonypy-ks", type=_ks, default=None)
    parser.add_argument("--anonypy-python", type=Path, default=ANONYPY_PYTHON)
    parser.add_argument("--anonypy-timeout", type=float, default=150.0)
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--rows", type=int, default=UCI_ROWS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    directory = args.data or Path(os.environ.get("DEALVAULT_ADULT_DIR") or DEFAULT_DATA)
    data = load(directory=None if args.generate else directory, rows=args.rows, seed=args.seed)
    log(f"data: {data.source}, {data.frame.height} rows")
    anonypy_ks = args.ks if args.anonypy_ks is None else args.anonypy_ks
    if anonypy_ks and not args.anonypy_python.is_file():
        log(f"{args.anonypy_python} missing (make .venv-anonypy); anonypy is not run")
    run_ours(data=data, k=args.ks[0] if args.ks else 10)  # warm-up, not reported

    scratch = scratch_dir("adult")
    input_csv = scratch / "input.csv"
    data.frame.write_csv(input_csv)
    try:
        for k in args.ks:
            log(f"k = {k}: ours")
            ours = run_ours(data=data, k=k)
            if k not in anonypy_ks:
                theirs: dict[str, Any] = {"status": "not run (--anonypy-ks)"}
            elif not args.anonypy_python.is_file():
                theirs = {"status": "not installed"}
            else:
                log(f"k = {k}: anonypy")
                theirs = run_anonypy(
                    data=data, k=k, python=args.anonypy_python, input_csv=input_csv,
                    out=scratch / f"anonypy-k{k}", timeout=args.anonypy_timeout,
                )  # fmt: skip
            line(data=data, k=k, ours=ours, theirs=theirs)
    finally:
        remove_tree(scratch)
    return 0


def line(*, data: AdultData, k: int, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """The JSON line of one k."""
    rows = data.frame.height
    what = "UCI Adult" if data.source == "uci-adult" else "generated to the UCI Adult schema"
    base = theirs.get("seconds") if theirs.get("status") == "ok" else None
    emit(
        {
            "name": f"adult_mondrian_k{k}",
            "input": f"{what}, {rows} rows x {len(QUASI)} quasi-identifiers",
            "data": data.source,
            "data_detail": data.detail,
            "rows": rows,
            "k": k,
            "qis": list(QUASI),
            "seconds": ours["seconds"],
            "rate": round(rows / ours["seconds"], 1),
            "unit": "rows/s",
            "ncp": ours["ncp"],
            "ours": ours,
            "anonypy": theirs,
            "baseline": "anonypy Mondrian (partition + anonymize), same rows and k, one core",
            "baseline_seconds": base,
            "ratio_to_baseline": round(ours["seconds"] / base, 5) if base else None,
            "speedup_vs_baseline": round(base / ours["seconds"], 1) if base else None,
            "target": None,
            "meets_target": None,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cores": len(os.sched_getaffinity(0)),
            **git_state(),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    sys.exit(main())
