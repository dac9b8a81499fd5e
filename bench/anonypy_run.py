"""Run anonypy's Mondrian on a CSV, timed, and write the labels it released (anonypy's venv).

Run by bench/adult.py with ``.venv-anonypy/bin/python`` (``make`` creates that venv; anonypy
and pandas are never installed into ours). Reads ``--input`` (a header line; every column a
quasi-identifier except ``--sensitive``; ``--numeric`` columns are numbers, the others become
pandas ``category`` columns, which anonypy treats as categorical). Times what anonypy's
``Preserver.anonymize_k_anonymity(k)`` does, call for call: ``Mondrian(...).partition(k)``,
then ``anonymize(...)`` (one released row per partition and income class, with a count). The
two calls are made here directly so the partitions are at hand to map each input row to the
labels of its partition; that mapping is done after the clock stops.

Writes ``--out``/partitions.csv (``part`` and one label per quasi-identifier, as anonypy
released them) and ``--out``/rows.csv (``part`` of input row i on line i), and prints one JSON
line: seconds, partitions, released rows, versions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from anonypy.anonypy import anonymize
from anonypy.mondrian import Mondrian


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--k", type=int, required=True)
    parser.add_argument("--sensitive", required=True)
    parser.add_argument("--numeric", action="append", default=[])
    args = parser.parse_args()

    df = pd.read_csv(args.input, dtype=str, keep_default_na=False)
    for column in df.columns:
        if column in args.numeric:
            df[column] = pd.to_numeric(df[column])
        else:
            df[column] = df[column].astype("category")
    features = [c for c in df.columns if c != args.sensitive]

    started = time.perf_counter()
    partitions = Mondrian(df, features, args.sensitive).partition(args.k)
    released = anonymize(df, partitions, features, args.sensitive)
    seconds = time.perf_counter() - started

    part_of_row = np.full(len(df), -1, dtype=np.int64)
    labels: dict[str, list[str]] = {c: [] for c in features}
    at = 0
    for number, partition in enumerate(partitions):
        first, covered = released[at], 0
        while covered < len(partition):  # the partition's rows: one per income class
            if any(released[at][c] != first[c] for c in features):
                print("anonypy released different labels within one partition", file=sys.stderr)
                return 1
            covered += int(released[at]["count"])
            at += 1
        for c in features:
            labels[c].append(str(first[c][0]))
        part_of_row[np.asarray(partition, dtype=np.int64)] = number
    if at != len(released) or (part_of_row < 0).any():
        print("anonypy's released rows do not cover its partitions", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame({"part": np.arange(len(partitions)), **labels})
    table.to_csv(args.out / "partitions.csv", index=False)
    pd.DataFrame({"part": part_of_row}).to_csv(args.out / "rows.csv", index=False)
    record = {
        "seconds": round(seconds, 4),
        "partitions": len(partitions),
        "released_rows": len(released),
        "anonypy": version("anonypy"),
        "pandas": version("pandas"),
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
