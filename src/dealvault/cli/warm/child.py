"""A forked child of the warm server: becomes the client's process (its argv, environment,
directory, umask, terminal, stdio and signals), runs the CLI as a cold run would, and exits."""

from __future__ import annotations

import atexit
import contextlib
import io
import locale
import os
import resource
import signal
import socket
import sys
import time
import traceback
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

from dealvault.cli.warm import wire

#: blocked in the server around fork, so that none reaches the child before it has reset them
BLOCKED_AROUND_FORK = frozenset({*wire.TOLD_SIGNALS, signal.SIGCHLD, signal.SIGCONT})
_STDIO_NAMES = ("<stdin>", "<stdout>", "<stderr>")


@dataclass(frozen=True)
class Request:
    """What the client sends (its second frame)."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    umask: int
    stdio: list[tuple[str, str, bool, bool]]  # encoding, errors, line_buffering, write_through
    ignored: frozenset[int]
    fds: list[int]  # stdin, stdout, stderr, then the terminal if the client has one
    limits: dict[str, Any]  # CPU affinity, nice value, resource limits

    @classmethod
    def parse(cls, *, body: Mapping[str, Any], fds: list[int]) -> Request:
        argv, env, cwd, umask = body["argv"], body["env"], body["cwd"], body["umask"]
        stdio = [tuple(s) for s in body["stdio"]]
        tty = bool(body.get("tty"))
        ok = (
            isinstance(argv, list)
            and argv
            and all(isinstance(a, str) for a in argv)
            and isinstance(env, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
            and isinstance(cwd, str)
            and isinstance(umask, int)
            and 0 <= umask <= 0o777
            and len(stdio) == 3
            and all(
                len(s) == 4
                and isinstance(s[0], str)
                and isinstance(s[1], str)
                and isinstance(s[2], bool)
                and isinstance(s[3], bool)
                for s in stdio
            )
            and len(fds) == (4 if tty else 3)
        )
        if not ok:
            raise wire.ProtocolError("malformed request")
        ignored = frozenset(int(s) for s in body.get("ignored", []))
        limits = body["limits"]
        if not isinstance(limits, dict):
            raise wire.ProtocolError("malformed request")
        return cls(
            argv=argv,
            env=env,
            cwd=cwd,
            umask=umask,
            stdio=stdio,
            ignored=ignored,
            fds=fds,
            limits=limits,
        )


def serve(
    *,
    conn: socket.socket,
    server_fds: list[int],
    preload_env: Mapping[str, str | None],
    saved_mask: set[int | signal.Signals],
) -> NoReturn:
    """The child's whole life, right after fork (signals still blocked): never returns."""
    try:
        signal.set_wakeup_fd(-1)
        # a process group of its own (the server sets it too, whichever runs first): the
        # client forwards signals to the group once the child is ready
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        for fd in server_fds:
            _close(fd)
        conn.settimeout(10.0)
        body, fds = wire.recv_frame_with_fds(sock=conn, maxfds=4)
    except BaseException:
        os._exit(0)
    try:
        request = Request.parse(body=body, fds=fds)
        mismatch = sorted(
            name for name, value in preload_env.items() if request.env.get(name) != value
        )
        if mismatch:
            # a module read it when the server imported it: this client needs its own value
            _refuse(conn=conn, reason=f"environment differs ({len(mismatch)} variable(s))")
        _become(request=request)
        _reset_signals(ignored=request.ignored)
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        wire.send_frame(sock=conn, obj={"ready": os.getpid()})
        conn.settimeout(None)
        go = wire.recv_frame(sock=conn)
    except BaseException as exc:  # nothing has run yet: the client runs the command itself
        _refuse(conn=conn, reason=f"child set-up failed ({type(exc).__name__})")
    if not go or go.get("go") is not True:
        os._exit(0)  # the client went away before the command started
    conn.close()
    code = 1
    try:
        code, interrupted = _run_cli()
        code = _finalize(code)
        if interrupted:  # as Python does for an uncaught KeyboardInterrupt: die of SIGINT
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        os._exit(code)


def _refuse(*, conn: socket.socket, reason: str) -> NoReturn:
    with contextlib.suppress(BaseException):
        wire.send_frame(sock=conn, obj={"fallback": reason})
    os._exit(0)


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _become(*, request: Request) -> None:
    """Take the client's directory, umask, limits, environment, stdio, terminal, argv and
    ``__main__``."""
    _take_limits(limits=request.limits)
    os.chdir(request.cwd)
    os.umask(request.umask)
    os.environ.clear()
    os.environ.update(request.env)
    time.tzset()  # TZ as the client has it (the time module read the server's at import)
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:  # recomputed from the client's TMPDIR when next needed
        setattr(tempfile, "tempdir", None)  # noqa: B010
    # what a starting interpreter does: LC_CTYPE only (LC_ALL would change LC_TIME,
    # LC_NUMERIC and LC_COLLATE, which a cold run leaves at "C")
    with contextlib.suppress(locale.Error):
        locale.setlocale(locale.LC_CTYPE, "")
    for target, fd in enumerate(request.fds[:3]):
        os.dup2(fd, target)
        os.close(fd)
    streams = [_stdio(fd=fd, name=_STDIO_NAMES[fd], params=request.stdio[fd]) for fd in range(3)]
    for name, stream in zip(("stdin", "stdout", "stderr"), streams, strict=True):
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    if len(request.fds) == 4:
        _use_client_terminal(fd=request.fds[3])
    sys.argv = list(request.argv)
    main = types.ModuleType("__main__")  # as a console script's: click names the program
    main.__file__ = request.argv[0]  # from argv[0] only when __main__ has no package
    main.__package__ = None
    sys.modules["__main__"] = main


def _take_limits(*, limits: Mapping[str, Any]) -> None:
    """The client's CPU affinity, nice value and resource limits; an OSError (this child may
    not raise a limit or lower its nice value) sends the call back to the client."""
    os.sched_setaffinity(0, [int(c) for c in limits["affinity"]])
    nice = int(limits["nice"])
    if os.getpriority(os.PRIO_PROCESS, 0) != nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    for name, (soft, hard) in limits["rlimits"].items():
        which = getattr(resource, name) if name.startswith("RLIMIT_") else None
        if which is None:
            raise wire.ProtocolError("malformed request")
        if resource.getrlimit(which) != (soft, hard):
            resource.setrlimit(which, (int(soft), int(hard)))


def _stdio(*, fd: int, name: str, params: tuple[str, str, bool, bool]) -> TextIO:
    """A std stream as the interpreter makes it (Python/pylifecycle.c create_stdio), with the
    encoding, errors and buffering the client's own stream has."""
    encoding, errors, line_buffering, write_through = params
    write = fd != 0
    unbuffered = write and write_through
    mode, buffering = ("wb" if write else "rb"), (0 if unbuffered else -1)
    buffer: Any = open(fd, mode, buffering, closefd=False)  # noqa: SIM115 - lives as sys.std*
    raw = buffer if unbuffered else buffer.raw
    raw.name = name
    stream = io.TextIOWrapper(
        buffer,
        encoding=encoding,
        errors=errors,
        newline="\n",
        line_buffering=line_buffering,
        write_through=write_through,
    )
    setattr(stream, "mode", "w" if write else "r")  # noqa: B010 - as the interpreter sets it
    return stream


class _ClientTerminal:
    """``os`` as the getpass module sees it, except that ``/dev/tty`` is the client's terminal:
    a child has no controlling terminal of its own, so getpass would otherwise read the
    passphrase from stdin with echo on."""

    def __init__(self, *, fd: int) -> None:
        self._fd = fd

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: str, flags: int, mode: int = 0o777, **kw: Any) -> int:
        if path == "/dev/tty":
            return os.dup(self._fd)
        return os.open(path, flags, mode, **kw)


def _use_client_terminal(*, fd: int) -> None:
    os.set_inheritable(fd, False)
    import getpass

    setattr(getpass, "os", _ClientTerminal(fd=fd))  # noqa: B010 - a module's global


def _reset_signals(*, ignored: frozenset[int]) -> None:
    """The dispositions a cold run would start with: Python's (SIGINT raises
    KeyboardInterrupt; SIGPIPE and SIGXFSZ ignored, as inherited) and the client's ignored
    ones (e.g. ``nohup``, a background job's SIGINT)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for sig in wire.TOLD_SIGNALS:
        if sig in ignored:
            signal.signal(sig, signal.SIG_IGN)
        elif sig == signal.SIGINT:
            signal.signal(sig, signal.default_int_handler)
        else:
            signal.signal(sig, signal.SIG_DFL)


def _run_cli() -> tuple[int, bool]:
    """Run the CLI exactly as the in-process path does; the exit code as the interpreter would
    make it, and whether a KeyboardInterrupt escaped."""
    from dealvault.cli.main import run

    try:
        run()
    except SystemExit as exc:
        return _exit_code(exc.code), False
    except KeyboardInterrupt as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return 1, True
    except BaseException as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return 1, False
    return 0, False


def _exit_code(code: object) -> int:
    """As Python handles SystemExit: None is 0, an int is itself, anything else is printed on
    stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):  # as the interpreter: nothing more to do
        sys.stderr.write(f"{code}\n")
    return 1


def _finalize(code: int) -> int:
    """What interpreter shutdown does before the process ends: wait for non-daemon threads,
    run atexit functions, flush stdout (a failure is reported, exit code 120) and stderr."""
    threading = sys.modules.get("threading")
    if threading is not None:
        getattr(threading, "_shutdown")()  # noqa: B009 - private, as Py_FinalizeEx calls it
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except Exception as exc:
        try:
            sys.stderr.write(f"Exception ignored in: {sys.stdout!r}\n")
            traceback.print_exception(exc.with_traceback(None), file=sys.stderr)
        except Exception:  # noqa: S110 - as the interpreter
            pass
        code = 120
    try:
        sys.stderr.flush()
    except Exception:
        code = 120
    return code
