"""Precision and recall per PII type on the labelled evaluation set (columns, free-text spans).

Column level: every labelled column of ``eval/out/labels.jsonl`` is classified with
``classify_column`` under its header variant; a column counts for type T in precision when
predicted T and in recall when labelled T (columns labelled "no type" only count against
types wrongly predicted for them). Exit code 1 when any type falls below 0.99 precision or
recall.

Free text: when ``dealvault.classify.freetext.scan`` exists, the synth notes are scanned
and spans compared with the labels (same type and same offsets); reported, not gated.

Usage: ``python eval/run_eval.py [--out eval/out] [--json] [--show-errors]``; builds the
set first (``make_eval_set.py``) when it is missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dealvault.classify.columns import classify_column
from dealvault.classify.types import TYPES
from dealvault.synth import DEFAULT_AS_OF

EVAL_DIR = Path(__file__).resolve().parent
TARGET = 0.99


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def evaluate_columns(out: Path) -> dict[str, Any]:
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text("utf-8").splitlines()]
    frames: dict[str, pl.DataFrame] = {}
    tp: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    actual: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []
    sensitive_wrong = 0
    negatives = negatives_typed = 0
    started = time.perf_counter()
    for label in labels:
        frame = frames.get(label["file"])
        if frame is None:
            frame = frames[label["file"]] = pl.read_parquet(out / "columns" / label["file"])
        got = classify_column(
            name=label["header"], values=frame[label["column"]], today=DEFAULT_AS_OF
        )
        truth = label["pii_type"]
        if truth is None:
            negatives += 1
            negatives_typed += got.pii_type is not None
        else:
            actual[truth] += 1
        if got.pii_type is not None:
            predicted[got.pii_type] += 1
        if got.pii_type == truth and truth is not None:
            tp[truth] += 1
        if got.pii_type != truth:
            errors.append({
                "case": label["case"], "column": label["column"], "header": label["header"],
                "truth": truth, "got": got.pii_type, "confidence": got.confidence,
            })  # fmt: skip
        if truth is not None and got.sensitive != TYPES[truth].sensitive:
            sensitive_wrong += 1
    per_type = {}
    for t in sorted(set(actual) | set(predicted)):
        per_type[t] = {
            "support": actual[t],
            "predicted": predicted[t],
            "precision": _ratio(tp[t], predicted[t]),
            "recall": _ratio(tp[t], actual[t]),
        }
    return {
        "columns": len(labels),
        "seconds": round(time.perf_counter() - started, 2),
        "accuracy": _ratio(len(labels) - len(errors), len(labels)),
        "sensitive_flag_errors": sensitive_wrong,
        "untyped_columns": negatives,
        "untyped_columns_given_a_type": negatives_typed,
        "per_type": per_type,
        "errors": errors,
    }


def evaluate_spans(out: Path) -> dict[str, Any] | None:
    try:
        freetext = importlib.import_module("dealvault.classify.freetext")
    except ImportError:
        return None
    scan = getattr(freetext, "scan", None)
    if scan is None:
        return None
    texts = pl.read_parquet(out / "notes.parquet")["text"]
    truth = pl.read_parquet(out / "spans.parquet")
    started = time.perf_counter()
    found: set[tuple[int, int, int, str]] = set()
    scan_series = getattr(freetext, "scan_series", None)
    if scan_series is not None:
        frame = scan_series(texts=texts)
        for row, start, end, kind in frame.select("row", "start", "end", "pii_type").iter_rows():
            found.add((row, start, end, kind))
    else:
        for row, text in enumerate(texts.to_list()):
            for span in scan(text or ""):
                found.add((row, span.start, span.end, span.pii_type))
    seconds = time.perf_counter() - started
    expected = {tuple(r) for r in truth.select("row", "start", "end", "pii_type").iter_rows()}
    kinds = sorted({k for *_, k in expected} | {k for *_, k in found})
    per_type = {}
    for kind in kinds:
        e = {s for s in expected if s[3] == kind}
        f = {s for s in found if s[3] == kind}
        per_type[kind] = {
            "support": len(e),
            "predicted": len(f),
            "precision": _ratio(len(e & f), len(f)),
            "recall": _ratio(len(e & f), len(e)),
        }
    size = int(texts.str.len_bytes().sum() or 0)
    return {
        "notes": len(texts),
        "bytes": size,
        "seconds": round(seconds, 3),
        "mb_per_s": round(size / seconds / 1e6, 2) if seconds else None,
        "per_type": per_type,
    }


def _print_table(title: str, per_type: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"  {'type':18s} {'support':>8s} {'predicted':>9s} {'precision':>9s} {'recall':>7s}")
    for t, row in per_type.items():
        p = "-" if row["precision"] is None else f"{row['precision']:.4f}"
        r = "-" if row["recall"] is None else f"{row['recall']:.4f}"
        print(f"  {t:18s} {row['support']:8d} {row['predicted']:9d} {p:>9s} {r:>7s}")


def _failing(per_type: dict[str, Any]) -> list[str]:
    bad = []
    for t, row in per_type.items():
        for key in ("precision", "recall"):
            value = row[key]
            if (value is not None and value < TARGET) or (
                value is None and key == "recall" and row["support"]
            ):
                bad.append(f"{t} {key}")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EVAL_DIR / "out")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("--show-errors", action="store_true", help="list misclassified columns")
    args = parser.parse_args()
    if not (args.out / "labels.jsonl").exists():
        from make_eval_set import build

        build(args.out, 20_000, 20250)
    cols = evaluate_columns(args.out)
    spans = evaluate_spans(args.out)
    failing = _failing(cols["per_type"])
    print(
        f"column level: {cols['columns']} columns in {cols['seconds']} s, accuracy "
        f"{cols['accuracy']}, sensitive-flag errors {cols['sensitive_flag_errors']}; "
        f"{cols['untyped_columns']} columns with no type, "
        f"{cols['untyped_columns_given_a_type']} of them given one"
    )
    _print_table("columns (target >= 0.99 precision and recall per type)", cols["per_type"])
    if args.show_errors or failing:
        print("\nmisclassified columns:")
        for e in cols["errors"]:
            print(
                f"  {e['case']} [{e['header']}] {e['column']}: truth {e['truth']}, got {e['got']}"
            )
    if spans is None:
        print("\nfree text: dealvault.classify.freetext.scan not available; spans not evaluated")
    else:
        print(
            f"\nfree text: {spans['notes']} notes, {spans['bytes']} bytes in "
            f"{spans['seconds']} s ({spans['mb_per_s']} MB/s); exact span match"
        )
        _print_table("spans (reported, not gated)", spans["per_type"])
    print("\nresult: " + ("PASS" if not failing else "FAIL: " + ", ".join(failing)))
    if args.json:
        record = {
            "name": "classify_eval",
            "columns": {k: v for k, v in cols.items() if k != "errors"},
            "column_errors": len(cols["errors"]),
            "spans": spans,
            "target": TARGET,
            "pass": not failing,
        }
        print(json.dumps(record, ensure_ascii=False))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
