"""Smoke tests of bench/import.py and bench/kernels.py at a tiny size: they set up, run and
print their one JSON line. Speed is never asserted here (the figures are in
docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL

REPO = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALVAULT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        env=env, capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, run.stdout
    out: dict[str, Any] = json.loads(lines[0])
    return out


def test_import_bench_prints_its_json_line() -> None:
    if shutil.which("sqlite3") is None:
        pytest.skip("the baseline needs the sqlite3 command-line tool (apt-get install sqlite3)")
    # one run for the three imports: SQLite, the Python kernels and, when it answers, PostgreSQL
    args = ["--rows", "150", "--cpus", "0", "--compare-python"]
    if PG_URL is not None:
        args += ["--postgres", PG_URL]
    out = _run("import.py", *args)
    assert out["name"] == "import" and out["rows"] == 150
    assert out["rows_rejected"] == 0 and out["store_bytes_per_customer"] > 0
    assert out["python_kernels"]["rate"] > 0
    if PG_URL is not None:
        assert out["postgres"]["database_bytes"] > 0


def test_kernels_bench_prints_its_json_line() -> None:
    out = _run("kernels.py", "--customers", "1000", "--events", "2000")
    assert set(out["kernels"]) == {
        "seal_rows",
        "open_rows",
        "blind",
        "leaf_hashes",
        "merkle_root",
        "subject_digests",
    }
    assert all(k["speed_up"] > 0 for k in out["kernels"].values())
