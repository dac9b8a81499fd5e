"""Benchmark: a typical command's start-up, cold (a fresh interpreter imports everything) and
warm (DEALVAULT_WARM=1: forked from the warm command server, docs/warm.md), same run.

Issue 14: a typical command's start-up <= 0.5 s of CPU. The command is ``org list`` on a
small store (``init`` and two organisations; set up beforehand, not timed). Each is run
``--runs`` times (default 10), alternating cold and warm, and the medians are reported:

* cold: wall time and CPU (user + system, ``os.wait4``) of ``dealvault org list``;
* warm: the same for the client process, plus the CPU of the child that ran the command
  (the server measures it with ``wait4`` and the client prints it with
  DEALVAULT_WARM_DEBUG=1), plus the server's own CPU per call (accept, fork, reap: the
  delta of its ``/proc/PID/stat`` time over all warm calls, divided by their number). The
  server's one-off preload (``preload_cpu``) is reported apart.

``--demo`` also times ``bash scripts/demo.sh`` (``make demo``, about 80 ``dealvault``
calls) with DEALVAULT_WARM=0 and =1, each in its own scratch directory (issue 14: <= 90 s on
a quiet two-core machine). It reports the wall time, and the CPU time of all the demo's
processes, the server's and its children's included (from the server's log): on a busy
machine wall time says little. The servers run in a private XDG_RUNTIME_DIR and are stopped
at the end. One JSON line on stdout; progress on stderr.

Usage::

    .venv/bin/python bench/startup.py            # org list, 10 runs each
    .venv/bin/python bench/startup.py --demo     # and make demo, cold and warm
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    REPO_DIR,
    VENV_BIN,
    emit,
    git_state,
    log,
    machine,
    remove_tree,
    run_measured,
    run_quiet,
    scratch_dir,
)

from dealvault.cli.warm import control

NAME = "startup"
COMMAND = ["org", "list"]
TARGET_CPU = 0.5  # seconds of CPU for a typical command's start-up
TARGET_DEMO = 90.0  # seconds for make demo on a quiet two-core machine
_CHILD_CPU = re.compile(r"served by child \d+ \(exit (\d+), cpu ([\d.]+) s\)")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10, help="runs of each (default 10)")
    p.add_argument("--demo", action="store_true", help="also time make demo, cold and warm")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be positive")
    return args


def dealvault_bin() -> str:
    exe = VENV_BIN / "dealvault"
    if not exe.is_file():
        log("dealvault console script not found; run `make venv` first")
        sys.exit(2)
    return str(exe)


def base_env(*, home: Path, run_dir: str) -> dict[str, str]:
    """The caller's environment without DEALVAULT_* settings, plus a fresh store's and a
    private directory for the warm server's socket."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALVAULT_")}
    env.update(
        DEALVAULT_HOME=str(home),
        DEALVAULT_KEY_PROVIDER="env",
        DEALVAULT_MASTER_KEY=secrets.token_hex(32),
        XDG_RUNTIME_DIR=run_dir,
    )
    return env


def server_cpu(pid: int) -> float:
    """CPU seconds of the server process itself (not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(dv: str, env: dict[str, str]) -> dict[str, Any]:
    """One call starts the server in the background; its status once it listens."""
    run_quiet([dv, "--version"], env={**env, "DEALVAULT_WARM": "1"}, what="first warm call")
    deadline = time.monotonic() + 120
    while not (found := control.servers(environ=env)):
        if time.monotonic() > deadline:
            log("the warm server did not start")
            sys.exit(1)
        time.sleep(0.05)
    return found[0]


def measure(dv: str, env: dict[str, str], runs: int) -> dict[str, Any]:
    """``runs`` cold and warm calls, alternating; medians and the server's share."""
    cold_env = dict(env)
    warm_env = {**env, "DEALVAULT_WARM": "1", "DEALVAULT_WARM_DEBUG": "1"}
    server = start_server(dv, env)
    pid = int(server["pid"])
    cold_wall, cold_cpu, warm_wall, client_cpu, child_cpu = [], [], [], [], []
    reference = None
    server_before = server_cpu(pid)
    for i in range(runs):
        cold = run_measured([dv, *COMMAND], env=cold_env).check("cold org list")
        warm = run_measured([dv, *COMMAND], env=warm_env).check("warm org list")
        found = _CHILD_CPU.search(warm.stderr)
        if found is None:
            log(f"run {i}: the warm call was not served warm:\n{warm.stderr}")
            sys.exit(1)
        if warm.stdout != cold.stdout or (reference is not None and cold.stdout != reference):
            log("warm and cold output differ")
            sys.exit(1)
        reference = cold.stdout
        cold_wall.append(cold.seconds)
        cold_cpu.append(cold.cpu_seconds)
        warm_wall.append(warm.seconds)
        client_cpu.append(warm.cpu_seconds)
        child_cpu.append(float(found.group(2)))
        log(
            f"run {i + 1}/{runs}: cold {cold.seconds:.2f} s ({cold.cpu_seconds:.2f} s CPU), "
            f"warm {warm.seconds:.3f} s ({warm.cpu_seconds:.3f} + {found.group(2)} s CPU)"
        )
    server_share = (server_cpu(pid) - server_before) / runs
    warm_total = [c + k + server_share for c, k in zip(client_cpu, child_cpu, strict=True)]
    return {
        "cold_seconds": round(statistics.median(cold_wall), 3),
        "cold_cpu_seconds": round(statistics.median(cold_cpu), 3),
        "warm_seconds": round(statistics.median(warm_wall), 3),
        "warm_cpu_seconds": round(statistics.median(warm_total), 3),
        "warm_client_cpu_seconds": round(statistics.median(client_cpu), 3),
        "warm_child_cpu_seconds": round(statistics.median(child_cpu), 3),
        "warm_server_cpu_per_call": round(server_share, 4),
        "server_preload_cpu_seconds": server.get("preload_cpu"),
    }


def _server_log_cpu(run_dir: str) -> float:
    """CPU seconds of the servers that have ended (their own and their calls'), from the
    servers' log (written with DEALVAULT_WARM_DEBUG=1); the log is then removed."""
    path = Path(run_dir) / "dealvault" / "server.log"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return 0.0
    path.unlink()
    found = re.findall(r"CPU seconds: server ([\d.]+), calls ([\d.]+)", text)
    return sum(float(a) + float(b) for a, b in found)


def time_demo(*, warm: bool, work: Path, run_dir: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds of scripts/demo.sh (as ``make demo`` runs it) in a scratch
    directory. The CPU is that of every process of the demo: those it waits for
    (``RUSAGE_CHILDREN``) and, warm, the server and the children it forked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALVAULT_")}
    env.update(
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
        DEMO_DIR=str(work / ("demo-warm" if warm else "demo-cold")),
        DEALVAULT_WARM="1" if warm else "0",
        DEALVAULT_WARM_DEBUG="1",  # for the server's log of its CPU (the demo's stderr is kept)
        XDG_RUNTIME_DIR=run_dir,
    )
    _server_log_cpu(run_dir)
    log(f"make demo, {'warm' if warm else 'cold'} ...")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        ["bash", str(REPO_DIR / "scripts" / "demo.sh")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        log(f"demo failed ({done.returncode}):\n{done.stderr[-4000:]}")
        sys.exit(1)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    cpu += _server_log_cpu(run_dir)
    log(f"make demo, {'warm' if warm else 'cold'}: {seconds:.1f} s, {cpu:.1f} s CPU")
    return round(seconds, 1), round(cpu, 1)


def main() -> None:
    args = parse_args()
    dv = dealvault_bin()
    work = scratch_dir(NAME)
    run_dir = tempfile.mkdtemp(prefix="dvb", dir="/tmp")  # short: socket paths <= 107 bytes
    env = base_env(home=work / "home", run_dir=run_dir)
    try:
        log("setting up a small store ...")
        run_quiet([dv, "init", "--operator", "it@seller.example", "--org", "Seller"], env=env)
        for org in ("Bidder One", "Bidder Two"):
            run_quiet([dv, "org", "add", org, "--kind", "bidder"], env=env)
        figures = measure(dv, env, args.runs)
        demo: dict[str, Any] = {}
        if args.demo:
            control.stop(environ=env)  # the demo starts (and stops) its own
            for name, warm in (("cold", False), ("warm", True)):
                seconds, cpu = time_demo(warm=warm, work=work, run_dir=run_dir)
                demo[f"demo_{name}_seconds"] = seconds
                demo[f"demo_{name}_cpu_seconds"] = cpu
    finally:
        control.stop(environ=env)
        shutil.rmtree(run_dir, ignore_errors=True)
        if not args.keep:
            remove_tree(work)
    record: dict[str, Any] = {
        "name": NAME,
        "input": f"dealvault {' '.join(COMMAND)} on a store with 3 organisations",
        "rows": None,
        "bytes": None,
        "seconds": figures["warm_seconds"],
        "rate": round(1 / figures["warm_seconds"], 1),
        "unit": "calls/s",
        "peak_rss_mib": None,
        "baseline_seconds": figures["cold_seconds"],
        "ratio_to_baseline": round(figures["warm_seconds"] / figures["cold_seconds"], 3),
        "target": f"a command's start-up <= {TARGET_CPU} s CPU"
        + (f"; make demo <= {TARGET_DEMO:.0f} s" if args.demo else ""),
        "meets_target": figures["warm_cpu_seconds"] <= TARGET_CPU
        and (not args.demo or demo["demo_warm_seconds"] <= TARGET_DEMO),
        "runs": args.runs,
        **figures,
        **demo,
        **git_state(),
        "machine": machine(),
    }
    emit(record)


if __name__ == "__main__":
    main()
