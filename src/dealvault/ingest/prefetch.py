"""Read ahead on a worker thread: parsing and normalising overlap with encryption."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], *, depth: int = 1) -> Iterator[T]:
    """Yield ``items`` produced by a worker thread at most ``depth`` ahead (bounded memory).

    An exception in the producer is re-raised here, at the position it occurred. Closing the
    generator early stops the producer.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
            q.put(_DONE)
        except BaseException as exc:
            q.put(exc)

    worker = threading.Thread(target=produce, name="dealvault-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            got = q.get()
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            yield got  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
