"""The warm server's wire format: frames of a 4-byte big-endian length and a JSON object,
the client's file descriptors riding on the first byte of one frame (SCM_RIGHTS)."""

from __future__ import annotations

import array
import contextlib
import json
import os
import signal
import socket
import struct
from typing import Any

_HEAD = struct.Struct(">I")
#: no frame is larger (the client's environment is the largest part of one)
MAX_FRAME = 4 * 1024 * 1024


#: the signals whose disposition a client tells its child (which of them it ignores)
TOLD_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGALRM,
    signal.SIGWINCH,
)


class ProtocolError(Exception):
    """The other side sent something that is not a frame, or closed in the middle of one."""


def _encode(obj: dict[str, Any]) -> bytes:
    # ensure_ascii: lone surrogates (undecodable bytes in argv or environment, as Python
    # decodes them with surrogateescape) survive the round trip as \udcXX escapes
    body = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if len(body) > MAX_FRAME:
        raise ProtocolError("frame too large")
    return _HEAD.pack(len(body)) + body


def _decode(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except ValueError:
        raise ProtocolError("not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("not a JSON object")
    return obj


def send_frame(*, sock: socket.socket, obj: dict[str, Any]) -> None:
    """Send one frame."""
    sock.sendall(_encode(obj))


def send_frame_with_fds(*, sock: socket.socket, obj: dict[str, Any], fds: list[int]) -> None:
    """Send one frame with ``fds`` attached to its first byte."""
    data = _encode(obj)
    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
    sent = sock.sendmsg([data], rights)
    if sent < len(data):
        sock.sendall(data[sent:])


def recv_exact(*, sock: socket.socket, size: int, prefix: bytes = b"") -> bytes | None:
    """Exactly ``size`` bytes (never more: what follows stays for the next reader); None when
    the other side closed before the first byte."""
    chunks = [prefix]
    got = len(prefix)
    while got < size:
        chunk = sock.recv(size - got)
        if not chunk:
            if got == 0:
                return None
            raise ProtocolError("closed inside a frame")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_frame(*, sock: socket.socket) -> dict[str, Any] | None:
    """One frame, or None when the other side closed cleanly before it."""
    head = recv_exact(sock=sock, size=_HEAD.size)
    if head is None:
        return None
    return _body(sock=sock, head=head)


def _body(*, sock: socket.socket, head: bytes) -> dict[str, Any]:
    (size,) = _HEAD.unpack(head)
    if size > MAX_FRAME:
        raise ProtocolError("frame too large")
    body = recv_exact(sock=sock, size=size)
    if body is None and size:
        raise ProtocolError("closed inside a frame")
    return _decode(body or b"")


def recv_frame_with_fds(*, sock: socket.socket, maxfds: int) -> tuple[dict[str, Any], list[int]]:
    """One frame and the descriptors that came with it (the caller owns and closes them)."""
    data, fds, flags, _ = socket.recv_fds(sock, _HEAD.size, maxfds)
    try:
        if flags & socket.MSG_CTRUNC:
            raise ProtocolError("too many descriptors")
        if not data:
            raise ProtocolError("closed before the frame")
        head = recv_exact(sock=sock, size=_HEAD.size, prefix=data)
        assert head is not None
        return _body(sock=sock, head=head), fds
    except BaseException:
        for fd in fds:
            _close(fd)
        raise


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
