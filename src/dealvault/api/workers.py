"""Several server processes on one listening socket: the parent unlocks the key and builds
the application once, then forks the workers (the key is never written anywhere or passed
through the environment: each worker inherits it in memory)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import uvicorn


def listen(host: str, port: int, *, count: int = 1) -> list[socket.socket]:
    """The listening sockets, made before the workers: one, or with ``count`` > 1 one per
    worker on the same port with SO_REUSEPORT, so the kernel spreads new connections over
    the workers. (On one shared socket, the worker whose loop accepts first takes a burst of
    connections, and kept-alive clients then stay on one worker and one core.) SO_REUSEPORT
    binds only beside sockets of the same user that set it too; a port held by anything
    else fails here, once.

    TCP_NODELAY is set on each so that the accepted connections inherit it: asyncio sets it
    only on sockets it made itself, and without it a response's body waits for the client's
    delayed ACK (about 40 ms)."""
    socks = [
        socket.create_server((host, port), backlog=2048, reuse_port=count > 1)
        for _ in range(max(1, count))
    ]
    for sock in socks:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.set_inheritable(True)
    return socks


#: How long a thread may keep the GIL while others wait (Python's default is 5 ms). A request
#: holding the audit log's lock (from its append to its commit) waits for the GIL after each
#: round trip; with the default, every other request thread of the worker runs up to 5 ms
#: first and the lock, which all workers queue on, is held that much longer.
SWITCH_INTERVAL = 0.0005


def _serve(app: Any, sock: socket.socket, options: dict[str, Any]) -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)
    uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])


def run(
    app: Any,
    *,
    socks: list[socket.socket],
    workers: int,
    options: dict[str, Any],
    after_fork: Callable[[], None],
) -> None:
    """Serve ``app`` in ``workers`` processes (1: in this process), worker ``i`` on
    ``socks[i]`` (or all on ``socks[0]`` when there is one). A worker that dies is replaced
    on its socket; SIGTERM or SIGINT stops them all."""
    if workers <= 1:
        _serve(app, socks[0], options)
        return
    children: dict[int, int] = {}  # pid -> worker number
    stopping = False

    def spawn(number: int) -> None:
        sock = socks[number % len(socks)]
        pid = os.fork()
        if pid == 0:  # the worker
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            for other in socks:
                if other is not sock:
                    other.close()
            code = 0
            try:
                after_fork()
                _serve(app, sock, options)
            except BaseException:  # a worker reports by its exit status
                code = 1
            os._exit(code)
        children[pid] = number

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid, None)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number in range(workers):
        spawn(number)
    restarts: list[float] = []
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        number = children.pop(pid)
        if stopping:
            continue
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < 60] + [now]
        if len(restarts) > 5 * workers:  # crashing in a loop: stop rather than spin
            stop(signal.SIGTERM, None)
            continue
        spawn(number)
