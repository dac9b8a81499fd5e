"""Ordered, bounded fan-out of batch jobs to worker processes (or none).

Workers are plain ``python -m dealvault.worker`` child processes fed over pipes, not
``multiprocessing``: ``spawn`` would re-run the calling program's main module in every worker
(the whole CLI) and ``fork`` would copy the parent's database connections and encryption
threads half-way. A worker imports only the module of the job function, runs Polars on one
thread (the workers already fill the cores) and exits when its input closes.

Wire format, both ways: an 8-byte big-endian length, then a pickle. First frame to a worker:
``(module, function name, shared arguments)``; then one frame per job (its extra arguments);
each answer is ``(True, result)`` or ``(False, exception)``. Pipes are private to the
parent and its children; what crosses them (customer keys included) never touches disk.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any, Generic, TypeVar

R = TypeVar("R")
_LEN = struct.Struct(">Q")


def dumps(obj: Any) -> bytes:
    """Pickle without the memo: jobs are trees of plain values (rows of ints, text and
    bytes), and skipping the memo makes pickling them about four times faster."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=5)
    pickler.fast = True  # no memo: would loop forever on a cyclic structure (none here)
    pickler.dump(obj)
    return buf.getvalue()


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LEN.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """One frame, or None at a clean end of input."""
    head = stream.read(_LEN.size)
    if not head:
        return None
    if len(head) != _LEN.size:
        raise EOFError("worker pipe closed inside a frame header")
    (size,) = _LEN.unpack(head)
    body = stream.read(size)
    if len(body) != size:
        raise EOFError("worker pipe closed inside a frame")
    return body


class WorkerFailed(RuntimeError):
    """A worker process died or answered something that is not a frame."""


class _Worker:
    """One child process with a feeder thread, so the parent never blocks on a full pipe."""

    def __init__(self, init: bytes, index: int) -> None:
        env = worker_env()
        self.index = index
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dealvault.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self.inbox: queue.Queue[bytes | None] = queue.Queue(maxsize=1)
        self.feeder = threading.Thread(target=self._feed, name=f"worker-{index}-feed", daemon=True)
        self.feeder.start()
        self.inbox.put(init)

    def _feed(self) -> None:
        assert self.proc.stdin is not None
        try:
            while (item := self.inbox.get()) is not None:
                write_frame(self.proc.stdin, item)
        except OSError:  # the worker died (broken pipe); receive() reports it
            pass
        finally:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def send(self, payload: bytes) -> None:
        self.inbox.put(payload)

    def receive(self) -> Any:
        assert self.proc.stdout is not None
        try:
            body = read_frame(self.proc.stdout)
        except EOFError as exc:
            raise WorkerFailed(f"worker {self.index} broke off an answer ({exc})") from None
        if body is None:
            code = self.proc.wait()
            raise WorkerFailed(f"worker {self.index} exited with code {code} before answering")
        ok, value = pickle.loads(body)  # noqa: S301 - our own worker, over a private pipe
        if not ok:
            raise value
        return value

    def close(self, *, kill: bool) -> None:
        if kill:
            self.proc.kill()
            with contextlib.suppress(queue.Empty):  # a job nobody will read
                self.inbox.get_nowait()
        try:
            self.inbox.put(None, timeout=5)  # ends the feeder, which closes the worker's input
        except queue.Full:
            self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.feeder.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class BatchPool(Generic[R]):
    """Runs ``fn(*shared, *job)`` for each job and yields the results in the jobs' order.

    ``workers`` <= 1 runs them in this process. Otherwise that many worker processes run
    them while the caller prepares the next jobs: job ``i`` goes to worker ``i % workers``
    and at most two jobs per worker are in flight, so memory stays bounded. ``fn`` must be
    a module-level function and every argument and result picklable. A job's exception is
    raised here, at that job; a worker that dies raises :class:`WorkerFailed`.
    """

    def __init__(self, fn: Callable[..., R], *shared: Any, workers: int) -> None:
        self.fn = fn
        self.shared = shared
        self.workers = workers
        self._procs: list[_Worker] = []

    def __enter__(self) -> BatchPool[R]:
        if self.workers > 1:
            init = pickle.dumps((self.fn.__module__, self.fn.__qualname__, self.shared), protocol=5)
            self._procs = [_Worker(init, i) for i in range(self.workers)]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for proc in self._procs:
            proc.close(kill=exc_type is not None)
        self._procs = []

    def map(self, jobs: Iterable[tuple[Any, ...]]) -> Iterator[R]:
        if not self._procs:
            for job in jobs:
                yield self.fn(*self.shared, *job)
            return
        procs = self._procs
        pending: deque[_Worker] = deque()
        for i, job in enumerate(jobs):
            worker = procs[i % len(procs)]
            worker.send(dumps(job))
            pending.append(worker)
            if len(pending) >= 2 * len(procs):
                yield pending.popleft().receive()
        while pending:
            yield pending.popleft().receive()


#: Environment variables a worker never gets: the store's settings and secrets (passphrase,
#: raw master key, database URLs with passwords). Keys reach a worker only over its pipe.
_WITHHELD_PREFIXES = ("DEALVAULT_", "PGPASSWORD", "PGPASSFILE")


def worker_env() -> dict[str, str]:
    """The environment of a worker process: the caller's, less every DEALVAULT_ setting and
    PostgreSQL credential, with one thread per native library."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_WITHHELD_PREFIXES)}
    env.update(POLARS_MAX_THREADS="1", OMP_NUM_THREADS="1")
    return env
