"""Masking and per-recipient token throughput (values/s) on one core, 1M values each.

Target (issue: masked / pseudonymized disclosure): ``mask_column`` and ``make_tokens`` each
at >= 1,000,000 values/s on one core.

Steps:

1. Pin this process to core 0 (``os.sched_setaffinity``) BEFORE importing Polars, so its
   thread pool has one thread and everything below runs on one core.
2. Generate ``--rows`` invented customers with ``dealvault.synth.generate_customers``
   (seed 1) and take, per PII type, ``--rows`` non-null values of its column (columns with
   empty cells — e-mail, card, address — are cycled to the full count).
3. Time ``mask_column`` per type (names, mobiles, ID numbers, e-mails, bank cards,
   addresses, birth dates) and ``make_tokens`` / ``resolve_tokens`` on ``--rows`` record
   ids: best of ``--repeat`` (default 3) after a warm-up call on a small slice.
4. Baseline, measured in the same run on ``--baseline-rows`` values (default 100,000): a
   plain Python loop per value — the scalar maskers ``masking.py`` had before it was
   vectorised, and one AES call per token.
5. One JSON line per measurement on stdout, then a summary line ``masking_all`` with the
   rate of every type and the slowest one (progress goes to stderr).

Usage::

    .venv/bin/python bench/masking.py                 # 1M values per type, one core
    .venv/bin/python bench/masking.py --rows 100000   # quick run
"""

from __future__ import annotations

import os

if hasattr(os, "sched_setaffinity"):  # before Polars starts its thread pool
    os.sched_setaffinity(0, {0})

import argparse
import re
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import polars as pl
from common import emit, git_state, log, machine
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dealvault.deidentify.masking import mask_column
from dealvault.deidentify.tokens import make_tokens, resolve_tokens, token_key
from dealvault.synth import generate_customers

TARGET = 1_000_000
SEED = 1

# PII type -> synth customers column.
COLUMNS = {
    "cn_name": "姓名",
    "cn_mobile": "手机号",
    "cn_ric": "身份证号",
    "email": "邮箱",
    "bank_card": "银行卡号",
    "cn_address": "地址",
    "date_of_birth": "出生日期",
}

_DIGIT = re.compile(r"\d")


# The scalar maskers of the previous masking.py: the per-value Python baseline.
def _old_name(v: str) -> str:
    if len(v) <= 1:
        return "*"
    return v[0] + "*" if len(v) == 2 else v[0] + "*" * (len(v) - 2) + v[-1]


def _old_phone(v: str) -> str:
    d = "".join(_DIGIT.findall(v))
    if len(d) >= 11:
        return d[-11:][:3] + "****" + d[-4:]
    return "*" * max(0, len(d) - 2) + d[-2:]


def _old_id(v: str) -> str:
    return "*" * len(v) if len(v) < 10 else v[:6] + "*" * (len(v) - 10) + v[-4:]


def _old_email(v: str) -> str:
    local, _, domain = v.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def _old_card(v: str) -> str:
    d = "".join(_DIGIT.findall(v))
    return "**** " + d[-4:] if len(d) >= 4 else "****"


def _old_address(v: str) -> str:
    for marker in ("区", "县", "市"):
        cut = v.find(marker)
        if 0 < cut < 16:
            return v[: cut + 1] + "***"
    return v[:6] + "***"


def _old_date(v: str) -> str:
    return v[:4] + "-**-**" if len(v) >= 4 else "****"


OLD: dict[str, Callable[[str], str]] = {
    "cn_name": _old_name,
    "cn_mobile": _old_phone,
    "cn_ric": _old_id,
    "email": _old_email,
    "bank_card": _old_card,
    "cn_address": _old_address,
    "date_of_birth": _old_date,
}


def _best(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _values(frame: pl.DataFrame, column: str, rows: int) -> pl.Series:
    """``rows`` non-null values of ``column`` as text (cycled when the column has gaps)."""
    series = frame.get_column(column).cast(pl.String).drop_nulls()
    return series.gather(np.arange(rows) % len(series)).rechunk()


def _line(
    name: str,
    *,
    what: str,
    rows: int,
    nbytes: int | None,
    seconds: float,
    baseline_rate: float,
    baseline_label: str,
    extra: dict[str, Any],
) -> float:
    rate = rows / seconds
    emit(
        {
            "name": name,
            "input": what,
            "rows": rows,
            "bytes": nbytes,
            "seconds": round(seconds, 4),
            "rate": round(rate, 1),
            "unit": "values/s",
            "target": TARGET,
            "meets_target": rate >= TARGET,
            "baseline": baseline_label,
            "baseline_rate": round(baseline_rate, 1),
            "ratio_to_baseline": round(rate / baseline_rate, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cores": len(os.sched_getaffinity(0)),
            "polars_threads": pl.thread_pool_size(),
            **extra,
            **git_state(),
            "machine": machine(),
        }
    )
    return rate


def _bench_masking(frame: pl.DataFrame, args: argparse.Namespace) -> dict[str, float]:
    rates: dict[str, float] = {}
    for pii_type, column in COLUMNS.items():
        values = _values(frame, column, args.rows)
        mask_column(values.head(10_000), pii_type=pii_type)  # warm-up
        seconds = _best(lambda v=values, t=pii_type: mask_column(v, pii_type=t), args.repeat)
        sample = values.head(args.baseline_rows).to_list()
        old = OLD[pii_type]
        base = _best(lambda s=sample, f=old: [f(x) for x in s], 1)
        log(f"mask {pii_type}: {seconds:.3f} s")
        rates[pii_type] = _line(
            f"mask_{pii_type}",
            what=f"synth customers column {column}: {args.rows} non-null values",
            rows=args.rows,
            nbytes=int(values.str.len_bytes().sum()),
            seconds=seconds,
            baseline_rate=len(sample) / base,
            baseline_label=f"previous scalar masker, Python loop over {len(sample)} values",
            extra={"pii_type": pii_type, "repeat": args.repeat},
        )
    return rates


def _bench_tokens(args: argparse.Namespace) -> dict[str, float]:
    key = token_key(bytes(range(32)), recipient_id=1)
    ids = np.random.default_rng(SEED).permutation(args.rows).astype(np.int64) + 1
    make_tokens(key, dataset_id=1, record_ids=ids[:10_000])  # warm-up
    seconds = _best(lambda: make_tokens(key, dataset_id=1, record_ids=ids), args.repeat)

    def one_by_one(sample: np.ndarray[Any, Any]) -> list[str]:
        out = []
        for rid in sample.tolist():
            block = b"DVT1" + (1).to_bytes(4, "big") + int(rid).to_bytes(8, "big", signed=True)
            enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
            out.append(enc.update(block).hex())
        return out

    base = _best(lambda: one_by_one(ids[: args.baseline_rows]), 1)
    baseline_rate = min(args.baseline_rows, args.rows) / base
    label = f"one AES call per token, Python loop over {min(args.baseline_rows, args.rows)}"
    log(f"make_tokens: {seconds:.3f} s")
    rates = {
        "make_tokens": _line(
            "make_tokens",
            what=f"{args.rows} record ids (shuffled)",
            rows=args.rows,
            nbytes=None,
            seconds=seconds,
            baseline_rate=baseline_rate,
            baseline_label=label,
            extra={"repeat": args.repeat},
        )
    }
    tokens = make_tokens(key, dataset_id=1, record_ids=ids)
    as_list = tokens.to_list()
    seconds = _best(lambda: resolve_tokens(key, dataset_id=1, tokens=tokens), args.repeat)
    listed = _best(lambda: resolve_tokens(key, dataset_id=1, tokens=as_list), 1)
    log(f"resolve_tokens: {seconds:.3f} s (from a list: {listed:.3f} s)")
    rates["resolve_tokens"] = _line(
        "resolve_tokens",
        what=f"{args.rows} tokens as a Polars series",
        rows=args.rows,
        nbytes=None,
        seconds=seconds,
        baseline_rate=baseline_rate,
        baseline_label=label,
        extra={"repeat": args.repeat, "seconds_from_python_list": round(listed, 4)},
    )
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    args = parser.parse_args()
    log(f"generating {args.rows} customers")
    frame = pl.concat(list(generate_customers(rows=args.rows, seed=SEED, chunk_rows=100_000)))
    rates = _bench_masking(frame, args)
    del frame
    rates |= _bench_tokens(args)
    slowest = min(rates, key=rates.__getitem__)
    emit(
        {
            "name": "masking_all",
            "input": f"{args.rows} values per measurement",
            "rows": args.rows,
            "rates": {k: round(v, 1) for k, v in rates.items()},
            "slowest": slowest,
            "rate": round(rates[slowest], 1),
            "unit": "values/s",
            "target": TARGET,
            "meets_target": rates[slowest] >= TARGET,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cores": len(os.sched_getaffinity(0)),
            **git_state(),
            "machine": machine(),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
