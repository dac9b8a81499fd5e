"""Independent k / l check of a released CSV with pycanon (run in pycanon's own venv).

Usage: ``canon_check.py FILE.csv [FILE.csv ...] --qi a,b,c [--sa s]``. Prints one JSON line per
file: ``{"k": ..., "l": ..., "entropy_l": ...}`` (``l`` and ``entropy_l`` are null without
``--sa``). Cells are read as text exactly as written (no type inference, no NA conversion), so
the equivalence classes are the ones a recipient of the file sees. Uses only the standard
library, pandas and pycanon: it must not import dealvault.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd
from pycanon import anonymity


def check(path: str, qi: list[str], sa: str | None) -> dict[str, int | None]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    result: dict[str, int | None] = {
        "k": int(anonymity.k_anonymity(frame, qi)),
        "l": None,
        "entropy_l": None,
    }
    if sa is not None:
        result["l"] = int(anonymity.l_diversity(frame, qi, [sa]))
        result["entropy_l"] = int(anonymity.entropy_l_diversity(frame, qi, [sa]))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="CSV files with a header row")
    parser.add_argument("--qi", required=True, help="quasi-identifier columns, comma separated")
    parser.add_argument("--sa", default=None, help="sensitive attribute column")
    args = parser.parse_args()
    qi = [name for name in args.qi.split(",") if name]
    for path in args.paths:
        print(json.dumps(check(path, qi, args.sa)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
