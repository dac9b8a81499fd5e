"""Precision and recall of our scanners on public labelled corpora (eval/data/, git-ignored).

Free text: every corpus's split (default test) goes through
``dealvault.classify.freetext.scan_series``; spans are scored per kind, exactly and by
overlap (see pub_score.py). Columns: presidio-research's generated table goes through
``classify_column`` with its headers and without them (``recall_mapped``: right and at the
confidence from which import maps the column). One JSON line per corpus and kind,
then a table. Corpora that are absent are listed with the command that copies them; with no
corpus at all the exit code is still 0 (CI does not have them).

Usage: ``python eval/public/run_public.py [--data eval/data] [--split test] [--corpus NAME]
[--json] [--show-errors N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pub_loaders import FAKENAME_COLUMNS, TEXT_CORPORA, load, load_table
from pub_score import column_kind, errors, predict, score
from pub_sources import FILES

from dealvault.classify.columns import classify_column

IMPORT_MAPS = 0.9  # import maps a column to a field from this confidence (docs/classification.md)
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data"
HOW_TO_GET = (
    "python eval/public/fetch_public.py --mirror DIR  (git snapshots of the repositories in "
    "eval/public/SOURCES.md) or --from DIR (a plain copy)"
)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def text_results(
    *, data: Path, split: str, corpora: tuple[str, ...], show_errors: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """One result per corpus and kind for the free-text corpora present; names missing."""
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    for name in corpora:
        spec = next((f for f in FILES if f.corpus == name and f.split == split), None)
        if spec is None:
            continue
        corpus = load(data=data, corpus=name, split=split, stem=spec.dest)
        if corpus is None:
            missing.append(name)
            continue
        started = time.perf_counter()
        predicted = predict(corpus=corpus)
        seconds = time.perf_counter() - started
        counts = score(docs=corpus.docs, predicted=predicted, kinds=corpus.kinds)
        for kind, c in counts.items():
            results.append({
                "corpus": name, "split": split, "level": "span", "kind": kind,
                "texts": len(corpus.docs), **c.figures(), "scan_seconds": round(seconds, 2),
            })  # fmt: skip
        for e in errors(docs=corpus.docs, predicted=predicted, limit=show_errors):
            print(json.dumps({"corpus": name, **e}, ensure_ascii=False), file=sys.stderr)
    return results, missing


def column_results(*, data: Path) -> list[dict[str, Any]]:
    """Per kind, with and without headers, over the generated table's labelled columns."""
    spec = next(f for f in FILES if f.corpus == "presidio_fakename")
    table = load_table(data / spec.corpus / spec.dest)
    if table is None:
        return []
    results = []
    for variant in ("header", "no_header"):
        actual: Counter[str] = Counter()
        predicted: Counter[str] = Counter()
        right: Counter[str] = Counter()
        mapped: Counter[str] = Counter()  # right and confident enough for import to map it
        for column, truth in FAKENAME_COLUMNS.items():
            values: pl.Series = table[column]
            got = classify_column(name=column if variant == "header" else None, values=values)
            kind = column_kind(got.pii_type)
            if truth is not None:
                actual[truth] += 1
            if kind is not None:
                predicted[kind] += 1
            if kind == truth and truth is not None:
                right[truth] += 1
                mapped[truth] += got.confidence >= IMPORT_MAPS
        for kind in sorted(set(actual) | set(predicted)):
            results.append({
                "corpus": spec.corpus, "split": spec.split, "level": f"column_{variant}",
                "kind": kind, "support": actual[kind], "predicted": predicted[kind],
                "precision_exact": _ratio(right[kind], predicted[kind]),
                "recall_exact": _ratio(right[kind], actual[kind]),
                "recall_mapped": _ratio(mapped[kind], actual[kind]),
            })  # fmt: skip
    return results


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def print_table(results: list[dict[str, Any]]) -> None:
    """A fixed-width table of the results."""
    head = ("corpus", "level", "kind", "support", "pred", "P exact", "R exact", "P ovl", "R ovl",
            "R mapped")  # fmt: skip
    keys = ("corpus", "level", "kind", "support", "predicted", "precision_exact",
            "recall_exact", "precision_overlap", "recall_overlap", "recall_mapped")  # fmt: skip
    rows = [head] + [tuple(_cell(r.get(k)) for k in keys) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="test", choices=("train", "dev", "test"))
    parser.add_argument("--corpus", action="append", choices=(*TEXT_CORPORA, "presidio_fakename"))
    parser.add_argument("--json", action="store_true", help="JSON lines only, no table")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N",
                        help="print N misses/false spans per corpus to stderr")  # fmt: skip
    args = parser.parse_args(argv)
    chosen = tuple(args.corpus or (*TEXT_CORPORA, "presidio_fakename"))
    texts = tuple(c for c in chosen if c in TEXT_CORPORA)
    results, missing = text_results(
        data=args.data, split=args.split, corpora=texts, show_errors=args.show_errors
    )
    if "presidio_fakename" in chosen and args.split == "test":
        columns = column_results(data=args.data)
        results += columns
        if not columns:
            missing.append("presidio_fakename")
    for r in results:
        print(json.dumps(r, ensure_ascii=False))
    if results and not args.json:
        print_table(results)
    if missing:
        print(f"not in {args.data}: {', '.join(missing)}; to copy them: {HOW_TO_GET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
