"""A worker process of :class:`dealvault.parallel.BatchPool`: runs one function on jobs read
from standard input and writes each result to standard output (see that module's wire
format). Run as ``python -m dealvault.worker``; it is not a command for people."""

from __future__ import annotations

import importlib
import os
import pickle
import sys
from typing import Any

from dealvault.parallel import read_frame, write_frame


def _answer(ok: bool, value: Any) -> bytes:
    try:
        return pickle.dumps((ok, value), protocol=5)
    except Exception:  # an exception that does not pickle: keep its kind, never its values
        return pickle.dumps((False, RuntimeError(f"worker job failed: {type(value).__name__}")))


def main() -> int:
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not break frames
    first = read_frame(inp)
    if first is None:
        return 0
    module, name, shared = pickle.loads(first)  # noqa: S301 - from our parent's pipe
    fn = getattr(importlib.import_module(module), name)
    while (frame := read_frame(inp)) is not None:
        try:
            job = pickle.loads(frame)  # noqa: S301 - from our parent's pipe
            answer = _answer(True, fn(*shared, *job))
        except Exception as exc:
            answer = _answer(False, exc)
        write_frame(out, answer)
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
