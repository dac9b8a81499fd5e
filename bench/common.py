"""Shared helpers for the benchmark scripts in ``bench/``.

Every benchmark is one script that prints exactly ONE JSON line on stdout (progress and
diagnostics go to stderr), so that ``make bench`` output can be collected with
``grep '^{'`` or ``jq``. The line carries at least::

    name, input, rows, bytes, seconds, rate, unit, peak_rss_mib,
    baseline_seconds, ratio_to_baseline, target, meets_target

plus whatever else the job wants to record (cores, commit, versions, ...).
``docs/benchmarks.md`` describes the fields and holds the measured results.

What this module provides:

* :func:`run_measured` runs a command as a child process and returns its wall time, the
  child's peak resident set size (the kernel's ``ru_maxrss`` from ``os.wait4``, with a
  ``/proc`` fallback explained in its docstring) and its user/system CPU time.
* :func:`pin_command` prefixes a command with ``taskset`` so it runs on the first N cores.
* :func:`scratch_dir` / :func:`cache_dir` make directories under ``bench/out/`` (git-ignored).
* :func:`git_state`, :func:`machine` describe what was measured, and :func:`emit` prints
  the JSON line.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
VENV_BIN = REPO_DIR / ".venv" / "bin"

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measured:
    """Outcome of one measured child process."""

    argv: list[str]
    returncode: int
    seconds: float
    peak_rss_mib: float
    rss_method: str  # "wait4" (exact) or "vmhwm-poll" (see run_measured)
    floor_mib: float  # the parent's own peak RSS when the child was started
    user_seconds: float
    system_seconds: float
    stdout: str
    stderr: str

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.system_seconds

    def check(self, what: str) -> Measured:
        """Fail loudly (exit 1, output on stderr) unless the command succeeded."""
        if self.returncode != 0:
            log(f"{what} failed with exit code {self.returncode}: {' '.join(self.argv)}")
            log("--- stdout ---\n" + self.stdout[-4000:])
            log("--- stderr ---\n" + self.stderr[-4000:])
            sys.exit(1)
        return self


def log(message: str) -> None:
    """Progress and diagnostics: stderr only, stdout is reserved for the JSON line."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _vm_hwm_kib(pid: int) -> int | None:
    """``VmHWM`` of a live process: the peak RSS of its current address space, in KiB."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def run_measured(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    poll_seconds: float = 0.02,
) -> Measured:
    """Run ``argv`` and measure its wall time and peak RSS.

    Output goes to temporary files rather than pipes, so the parent does not have to read
    while the child runs and can reap it with ``os.wait4``, which returns the child's own
    resource usage (``ru_maxrss``, KiB on Linux).

    One Linux subtlety: a child started with fork/vfork + exec inherits the *parent's* peak
    RSS as the starting value of its ``ru_maxrss``. So the ``wait4`` figure is exact only
    when it exceeds the parent's own peak (``RUSAGE_SELF`` before the spawn, reported as
    ``floor_mib``); otherwise the child's true peak is hidden below that floor and the
    result falls back to ``VmHWM`` from ``/proc/<pid>/status``, polled every
    ``poll_seconds`` (the high-water mark of the exec'd image, exact up to the last poll).
    Keep the benchmark parent lean (do heavy work such as data generation in a subprocess)
    so the floor stays around 15-20 MiB.

    The figure covers the child process itself; if it forks workers, a worker's peak counts
    only when it is larger (the kernel keeps the maximum, not the sum).
    """
    args = [os.fspath(a) for a in argv]
    floor_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampled_kib = 0
    stop = threading.Event()

    def sample(pid: int) -> None:
        nonlocal sampled_kib
        while not stop.is_set():
            hwm = _vm_hwm_kib(pid)
            if hwm is not None:
                sampled_kib = max(sampled_kib, hwm)
            stop.wait(poll_seconds)

    with (
        tempfile.TemporaryFile("w+b") as out,
        tempfile.TemporaryFile("w+b") as err,
    ):
        start = time.perf_counter()
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        # Wait for the exit without reaping, so the pid cannot be reused under the sampler.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; tell Popen
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if usage.ru_maxrss > floor_kib:
        peak_kib, method = usage.ru_maxrss, "wait4"
    else:
        peak_kib, method = sampled_kib, "vmhwm-poll"
    return Measured(
        argv=args,
        returncode=proc.returncode,
        seconds=seconds,
        peak_rss_mib=peak_kib / 1024,
        rss_method=method,
        floor_mib=floor_kib / 1024,
        user_seconds=usage.ru_utime,
        system_seconds=usage.ru_stime,
        stdout=stdout,
        stderr=stderr,
    )


def run_quiet(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    what: str = "set-up command",
) -> str:
    """Run an unmeasured set-up command; fail loudly on error; return its stdout."""
    args = [os.fspath(a) for a in argv]
    res = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        log(f"{what} failed with exit code {res.returncode}: {' '.join(args)}")
        log("--- stdout ---\n" + res.stdout[-4000:])
        log("--- stderr ---\n" + res.stderr[-4000:])
        sys.exit(1)
    return res.stdout


def pin_command(argv: Sequence[str | os.PathLike[str]], cpus: int) -> list[str]:
    """Prefix ``argv`` with ``taskset -c 0-(cpus-1)``; ``cpus <= 0`` leaves it unpinned.

    ``taskset`` execs the command, so the measured pid is the command itself.
    """
    args = [os.fspath(a) for a in argv]
    if cpus <= 0:
        return args
    available = os.cpu_count() or 1
    if cpus > available:
        log(f"--cpus {cpus} exceeds the {available} cores here")
        sys.exit(2)
    taskset = shutil.which("taskset")
    if taskset is None:
        log("taskset not found (util-linux); install it or run with --cpus 0")
        sys.exit(2)
    cores = "0" if cpus == 1 else f"0-{cpus - 1}"
    return [taskset, "-c", cores, *args]


def cores_used(cpus: int) -> int:
    """Number of cores a command run through :func:`pin_command` may use."""
    return cpus if cpus > 0 else len(os.sched_getaffinity(0))


def scratch_dir(name: str) -> Path:
    """A fresh, empty directory ``bench/out/<name>-<time>-<pid>``."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path.mkdir()
    return path


def cache_dir(key: str) -> Path:
    """``bench/out/cache/<key>`` (not created): generated inputs reused between runs."""
    return OUT_DIR / "cache" / key


def remove_tree(path: Path) -> None:
    """Remove a scratch directory; refuses anything outside ``bench/out/``."""
    path = path.resolve()
    if OUT_DIR.resolve() not in path.parents:
        raise ValueError(f"refusing to remove {path}: not under {OUT_DIR}")
    shutil.rmtree(path, ignore_errors=True)


def git_state() -> dict[str, Any]:
    """Short commit, whether tracked files have uncommitted changes, and a digest of them.

    ``diff_sha256`` (first 12 hex digits of the SHA-256 of ``git diff HEAD``) tells two
    measurements of the same commit with different uncommitted work apart. Untracked files
    are not covered.
    """

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(REPO_DIR), *args], capture_output=True, check=True
        ).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").decode().strip()
        diff = git("diff", "HEAD", "--no-color", "--no-ext-diff")
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None, "diff_sha256": None}
    return {
        "commit": commit,
        "dirty": bool(diff),
        "diff_sha256": hashlib.sha256(diff).hexdigest()[:12] if diff else None,
    }


def _mem_total_mib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 0)
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "mem_total_mib": _mem_total_mib(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_1m": round(os.getloadavg()[0], 2),  # other work on the machine at the end
    }


def emit(record: Mapping[str, Any]) -> None:
    """Print the benchmark's single JSON line on stdout."""
    print(json.dumps(record, ensure_ascii=False, separators=(", ", ": ")), flush=True)
