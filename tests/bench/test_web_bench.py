"""Smoke test of bench/web.py at a tiny size: it sets up, times every page and prints its
one JSON line with the fields docs/benchmarks.md describes. Speed is never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL, need_postgres

REPO = Path(__file__).resolve().parents[2]
ON_MAIN = {"sign-in", "deals", "overview (steward)", "overview (business)", "account"}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_web_bench_prints_its_json_line(backend: str) -> None:
    args = ["--customers", "200", "--events", "2000", "--warmup", "1", "--repeat", "2"]
    if backend == "postgres":
        need_postgres()
        assert PG_URL is not None
        args += ["--pg-url", PG_URL]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALVAULT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "web.py"), *args],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, run.stdout
    out = json.loads(lines[0])
    assert out["name"] == "web" and out["customers"] == 200
    assert out["audit_events"] >= 2000
    assert out["setup"]["audit"]["verify"]["ok"] is True
    assert out["store"].startswith("postgresql" if backend == "postgres" else "sqlite")
    assert set(out["meets"]) == {"p95_server_ms", "no_errors"}
    assert out["meets_target"] == all(out["meets"].values())
    assert out["target"] == {"p95_server_ms": 300.0}
    for name in ("healthz", "sign-in"):
        b = out["baseline"][name]
        assert b["status"] == 200 and b["server_ms"]["n"] == 2
    names = [p["name"] for p in out["pages"]]
    assert set(names) >= ON_MAIN and len(names) == len(set(names))
    for page in out["pages"]:
        if page.get("missing"):
            assert page["name"] in out["missing"] and page["name"] not in ON_MAIN
            continue
        assert page["server_ms"]["n"] == 2, page
        assert page["server_ms"]["p50"] <= page["server_ms"]["p95"] <= page["server_ms"]["max"]
        assert page["wall_ms"]["p50"] > 0 and page["bytes"] > 0
        assert isinstance(page["sql_statements"], int) and isinstance(page["meets"], bool)
        assert ("error" in page) == (page["name"] in out["errors"])
    assert out["errors"] == [], [p.get("error") for p in out["pages"]]
