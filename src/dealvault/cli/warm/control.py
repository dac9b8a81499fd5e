"""``dealvault warm status|stop``: find this user's warm servers and ask them."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from typing import Any

from dealvault.cli.warm import client, key, paths, wire


def _sockets(*, directory: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(directory, n) for n in names if n.endswith(".sock"))


def _ask(*, sock_path: str, op: str) -> dict[str, Any] | None:
    """The server's answer to ``op``, or None if nothing answers at ``sock_path``."""
    try:
        sock = client.connect(path=sock_path)
    except Exception:
        return None
    with sock:
        try:
            wire.send_frame(sock=sock, obj={"protocol": key.PROTOCOL, "op": op})
            return wire.recv_frame(sock=sock)
        except (OSError, wire.ProtocolError):
            return None


def _directory(*, environ: Mapping[str, str]) -> str | None:
    """The socket directory, None if there is none yet; UnsafeDir if it is not private."""
    directory = paths.socket_dir(environ=environ)
    try:
        paths.check_dir(path=directory)
    except FileNotFoundError:
        return None
    return directory


def servers(*, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every live server of this user (its status, and whether it serves this code:
    ``current``); the files of dead ones are removed."""
    directory = _directory(environ=environ)
    if directory is None:
        return []
    current = key.compute_key(environ=environ, paths=key.import_path())
    found = []
    for sock_path in _sockets(directory=directory):
        reply = _ask(sock_path=sock_path, op="status")
        if reply is None:
            _remove_if_dead(sock_path=sock_path)
            continue
        reply["current"] = reply.get("key") == current
        found.append(reply)
    return found


def _remove_if_dead(*, sock_path: str) -> None:
    lock = paths.lock_path(socket=sock_path)
    if client.lock_held(lock=lock):
        return  # a server is starting (preloading) or finishing its last calls
    for path in (sock_path, lock):
        with contextlib.suppress(OSError):
            os.unlink(path)


def stop(*, environ: Mapping[str, str], timeout: float = 10.0) -> list[int]:
    """Ask every server of this user to stop, and wait (up to ``timeout`` seconds) until they
    have ended: a server ends when its running commands have. The pids asked."""
    directory = _directory(environ=environ)
    if directory is None:
        return []
    asked: list[tuple[int, str]] = []
    for sock_path in _sockets(directory=directory):
        reply = _ask(sock_path=sock_path, op="stop")
        if reply is None:
            _remove_if_dead(sock_path=sock_path)
        elif isinstance(reply.get("stopping"), int):
            asked.append((reply["stopping"], paths.lock_path(socket=sock_path)))
    deadline = time.monotonic() + timeout
    while any(client.lock_held(lock=lock) for _, lock in asked):
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return [pid for pid, _ in asked]
