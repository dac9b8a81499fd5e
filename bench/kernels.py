"""Benchmark: each batch kernel of ``dealvault._native`` against its Python twin, same inputs.

Issue 21 item 1. For 200,000 invented customers (payloads of the sizes a real import makes:
identity ~85 bytes, contact ~130, transaction ~95, preference ~60 of JSON), measures, in one
process pinned to one core, the CPU seconds of:

- ``seal_rows``: four envelopes per customer, each customer under its own key;
- ``open_rows``: the same envelopes opened again;
- ``blind_series`` (C: over the column's Arrow buffers) and ``blind_many``: 3 blind indexes
  per customer (ID number, phone, customer number);
- ``leaf_hashes`` and ``merkle_root`` over 1,000,000 audit-event-sized bodies (~400 bytes);
- ``subject_digests`` over compressed subject lists of 100 subject ids, one per ten events
  (100,000 by default).

The Python twins (``dealvault.native.*_py``) are the baseline, measured in the same run; both
give the same bytes (checked here too). One JSON line on stdout: per kernel, the C and Python
CPU seconds, items per second and the speed-up. Usage::

    .venv/bin/python bench/kernels.py               # one core (taskset -c 0)
    .venv/bin/python bench/kernels.py --customers 50000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
from common import emit, git_state, log, machine

from dealvault import native

NAME = "kernels"
SIZES = (85, 130, 95, 60)


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def compare(
    name: str, items: int, c_fn: Callable[[], Any], py_fn: Callable[[], Any]
) -> dict[str, Any]:
    c_s, c_out = cpu(c_fn)
    py_s, py_out = cpu(py_fn)
    same = c_out.equals(py_out) if isinstance(c_out, pl.Series) else c_out == py_out
    if not same:
        log(f"{name}: the C kernel and the Python twin disagree")
        sys.exit(1)
    log(f"{name}: C {c_s:.3f} s, Python {py_s:.3f} s ({py_s / c_s:.1f}x)")
    return {
        "items": items,
        "c_cpu_s": round(c_s, 4),
        "python_cpu_s": round(py_s, 4),
        "c_per_s": round(items / c_s),
        "python_per_s": round(items / py_s),
        "speed_up": round(py_s / c_s, 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=200_000)
    p.add_argument("--events", type=int, default=1_000_000)
    args = p.parse_args()
    if not native.NATIVE:
        log("dealvault._native is not built (make venv) or DEALVAULT_NATIVE=0 is set")
        return 2
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    rng = random.Random(21)
    n = args.customers
    keys = rng.randbytes(32 * n)
    head = b"DV\x01\x01\x02ck\x00\x00\x00\x01"
    posts = tuple(b"|%s|1" % c for c in (b"identity", b"contact", b"transaction", b"preference"))
    columns: list[list[bytes | None]] = [[rng.randbytes(s) for _ in range(n)] for s in SIZES]
    nonces = rng.randbytes(12 * n * len(posts))
    out: dict[str, Any] = {}
    out["seal_rows"] = compare(
        "seal_rows",
        n,
        lambda: native.seal_rows(keys, head, b"rec|1|", 1, posts, columns, nonces),
        lambda: native.seal_rows_py(keys, head, b"rec|1|", 1, posts, columns, nonces),
    )
    sealed = native.seal_rows(keys, head, b"rec|1|", 1, posts, columns, nonces)
    rows: list[Sequence[Any]] = [(1 + i, f"s{i}", *(col[i] for col in sealed)) for i in range(n)]
    key_list: list[bytes | None] = [keys[32 * i : 32 * i + 32] for i in range(n)]
    out["open_rows"] = compare(
        "open_rows",
        n,
        lambda: native.open_rows(rows, key_list, b"rec|1|", posts),
        lambda: native.open_rows_py(rows, key_list, b"rec|1|", posts),
    )
    index_key = rng.randbytes(32)
    values = pl.Series([f"+86139{rng.randrange(10**8):08d}" for _ in range(3 * n)])
    out["blind"] = compare(
        "blind (3 per customer)",
        3 * n,
        lambda: native.blind_series(index_key, b"phone", values),
        # the import's former path: a list of str in, a binary column out
        lambda: pl.Series(
            native.blind_many_py(index_key, b"phone", values.to_list()), dtype=pl.Binary
        ),
    )
    bodies = [rng.randbytes(400) for _ in range(args.events)]
    out["leaf_hashes"] = compare(
        "leaf_hashes",
        args.events,
        lambda: native.leaf_hashes(bodies),
        lambda: native.leaf_hashes_py(bodies),
    )
    leaves = native.leaf_hashes(bodies)
    out["merkle_root"] = compare(
        "merkle_root",
        args.events,
        lambda: native.merkle_root(leaves),
        lambda: native.merkle_root_py(leaves),
    )
    packs: list[bytes | None] = [
        zlib.compress(b"\n".join(b"%08x%016x" % (i, rng.getrandbits(64)) for i in range(100)))
        for _ in range(max(1, args.events // 10))
    ]
    out["subject_digests"] = compare(
        "subject_digests",
        len(packs),
        lambda: native.subject_digests(packs),
        lambda: native.subject_digests_py(packs),
    )
    emit(
        {
            "name": NAME,
            "customers": n,
            "kernels": out,
            "pinned": hasattr(os, "sched_setaffinity"),
            **git_state(),
            "machine": machine(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
