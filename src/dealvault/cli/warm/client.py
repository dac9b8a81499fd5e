"""The client side of the warm path: hand this call to the user's warm server, or tell the
caller to run it in-process (starting a server for the next call). Standard library only."""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import signal
import socket
import struct
import sys
from types import FrameType
from typing import Any

from dealvault.cli.warm import key, paths, trace, wire

CONNECT_TIMEOUT = 2.0
#: how long the child may take to get ready; past it the call runs in-process (safe: the
#: child runs nothing before the client's "go")
READY_TIMEOUT = 10.0
#: forwarded to the child's process group while it runs
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_PEERCRED = struct.Struct("3i")  # pid, uid, gid


class _Fallback(Exception):
    """Run in-process: nothing of the command has run warm."""

    def __init__(self, reason: str, *, spawn: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.spawn = spawn


def attempt(*, argv: list[str]) -> int | None:
    """The exit status of this call, served by the warm server; None: run it in-process."""
    if "warm" in argv[1:]:
        trace.debug("in-process: a warm command talks to the server itself")
        return None
    environ = dict(os.environ)
    try:
        call_key = key.compute_key(environ=environ, paths=key.import_path())
        directory = paths.socket_dir(environ=environ)
        sock_path = paths.socket_path(directory=directory, key=call_key)
    except (OSError, ValueError) as exc:
        trace.debug(f"in-process: no usable socket path ({type(exc).__name__})")
        return None
    try:
        paths.check_dir(path=directory)
        sock = connect(path=sock_path)
    except (FileNotFoundError, ConnectionRefusedError):
        trace.debug("in-process: no server; starting one for the next call")
        start_server(call_key=call_key, environ=environ, sock_path=sock_path)
        return None
    except paths.UnsafeDir as exc:
        trace.debug(f"in-process: the socket directory is {exc}")
        return None
    except (OSError, _Fallback) as exc:
        trace.debug(f"in-process: cannot connect ({type(exc).__name__})")
        return None
    with sock:
        try:
            pid = _hand_over(sock=sock, call_key=call_key, argv=argv, environ=environ)
        except _Fallback as exc:
            trace.debug(f"in-process: {exc.reason}")
            if exc.spawn:
                start_server(call_key=call_key, environ=environ, sock_path=sock_path)
            return None
        except (OSError, ValueError, wire.ProtocolError) as exc:
            trace.debug(f"in-process: hand-over failed ({type(exc).__name__})")
            return None
        return _wait(sock=sock, pid=pid)


def connect(*, path: str) -> socket.socket:
    """A connection to the server at ``path``, which must run as this user."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(path)
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        if _PEERCRED.unpack(creds)[1] != os.getuid():
            raise _Fallback("the server runs as another user")
    except BaseException:
        sock.close()
        raise
    return sock


def _hand_over(
    *, sock: socket.socket, call_key: str, argv: list[str], environ: dict[str, str]
) -> int:
    """Send the call and the stdio descriptors; the child's pid once it is ready and told to
    go. Any failure before "go" leaves nothing run (_Fallback or an OSError)."""
    try:
        cwd = os.getcwd()
    except OSError:
        raise _Fallback("no current directory") from None
    umask = os.umask(0o077)
    os.umask(umask)
    stdio = []
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if stream is None:
            raise _Fallback("a std stream is closed")
        text: Any = stream
        stdio.append([text.encoding, text.errors, text.line_buffering, text.write_through])
    ignored = [int(s) for s in wire.TOLD_SIGNALS if signal.getsignal(s) == signal.SIG_IGN]
    tty = _open_terminal()
    body: dict[str, Any] = {
        "argv": argv,
        "env": environ,
        "cwd": cwd,
        "umask": umask,
        "stdio": stdio,
        "ignored": ignored,
        "tty": tty is not None,
        "limits": limits(),
    }
    try:
        wire.send_frame(sock=sock, obj={"protocol": key.PROTOCOL, "op": "run", "key": call_key})
        wire.send_frame_with_fds(sock=sock, obj=body, fds=[0, 1, 2, *([tty] if tty else [])])
    finally:
        if tty is not None:
            os.close(tty)
    sock.settimeout(READY_TIMEOUT)
    reply = wire.recv_frame(sock=sock)
    if reply is None:
        raise _Fallback("the server closed the connection")
    if "fallback" in reply:
        reason = str(reply["fallback"])
        raise _Fallback(f"the server declined ({reason})", spawn=reason == "stale")
    pid = reply.get("ready")
    if not isinstance(pid, int) or pid <= 1:
        raise wire.ProtocolError("no pid")
    wire.send_frame(sock=sock, obj={"go": True})  # from here on the command runs warm
    return pid


def limits() -> dict[str, Any]:
    """What ``taskset``, ``nice`` and ``ulimit`` gave this process: the child takes them on."""
    return {
        "affinity": sorted(os.sched_getaffinity(0)),
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "rlimits": {
            name: list(resource.getrlimit(getattr(resource, name))) for name in key.RLIMITS
        },
    }


def _open_terminal() -> int | None:
    """This process's controlling terminal, for the child's getpass (it has none of its own)."""
    try:
        return os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None


def _wait(*, sock: socket.socket, pid: int) -> int:
    """Forward signals to the child's group until the server reports its end; its status as
    a shell gives it (a death by signal N is 128 + N). Never raises: the command has run."""
    trace.debug(f"running as child {pid}")

    def forward(signum: int, frame: FrameType | None) -> None:
        _killpg(pgid=pid, sig=signum)

    def stop(signum: int, frame: FrameType | None) -> None:
        _killpg(pgid=pid, sig=signal.SIGTSTP)  # the child stops, then so do we (Ctrl-Z)
        os.kill(os.getpid(), signal.SIGSTOP)

    def resume(signum: int, frame: FrameType | None) -> None:
        _killpg(pgid=pid, sig=signal.SIGCONT)

    try:
        sock.settimeout(None)
        for sig in _FORWARDED:
            if signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, forward)
        if signal.getsignal(signal.SIGTSTP) != signal.SIG_IGN:
            signal.signal(signal.SIGTSTP, stop)
        signal.signal(signal.SIGCONT, resume)
        reply = wire.recv_frame(sock=sock)
    except BaseException:  # never fall back once the command ran
        reply = None
    if reply is None:
        _killpg(pgid=pid, sig=signal.SIGTERM)
        _killpg(pgid=pid, sig=signal.SIGCONT)
        try:
            sys.stderr.write("dealvault: the warm server went away; the command was stopped\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return 1
    trace.debug(f"served by child {pid} (exit {reply.get('exit')}, cpu {reply.get('cpu')} s)")
    try:
        if "signal" in reply:
            return 128 + int(reply["signal"])
        return int(reply["exit"])
    except (KeyError, TypeError, ValueError):
        return 1


def _killpg(*, pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)


def lock_held(*, lock: str) -> bool:
    """Whether a live server holds ``lock`` (its file gone or free: no server)."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def start_server(*, call_key: str, environ: dict[str, str], sock_path: str) -> None:
    """Start a server for ``call_key`` in the background, unless one is starting already. It
    runs in a session of its own with stdio on /dev/null; nobody waits for it."""
    if lock_held(lock=paths.lock_path(socket=sock_path)):
        trace.debug("a server is starting")
        return
    if not os.path.isdir(os.path.dirname(os.path.dirname(sock_path))):
        trace.debug("no server started: XDG_RUNTIME_DIR does not exist")
        return
    if not sys.executable:
        return
    args = [
        sys.executable,
        "-P",  # no script or current directory on sys.path
        "-X",
        f"utf8={sys.flags.utf8_mode}",
        "-m",
        "dealvault.cli.warm",
        call_key,
    ]
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        os.posix_spawn(
            sys.executable,
            args,
            key.server_env(environ=environ),
            file_actions=actions,
            setsid=True,
        )
    except OSError as exc:
        trace.debug(f"could not start a server ({type(exc).__name__})")
