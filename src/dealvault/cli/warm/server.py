"""The warm server: a daemon that imports the CLI once, then forks one child per call, reaps
it and tells its client the exit status. No threads, engines, settings or secrets, ever."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from dealvault.cli.warm import child, key, paths, preload, trace, wire

DEFAULT_IDLE = 600.0
#: seconds between checks that the installed code is unchanged (an edited checkout)
CHECK_EVERY = 10.0
#: seconds a child gets after SIGTERM (its client hung up) before SIGKILL
KILL_GRACE = 5.0
_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
_PEERCRED = struct.Struct("3i")  # pid, uid, gid


@dataclass
class _Call:
    """A running child and its client's connection."""

    conn: socket.socket
    pid: int
    kill_at: float | None = None  # set once the client hung up


@dataclass
class Server:
    """The accept loop: one per key, holding the key's lock for its whole life."""

    key: str
    sock_path: str
    log: str
    listener: socket.socket
    lock_fd: int
    idle: float
    import_path: list[str]
    preload_env: dict[str, str | None]
    preload_cpu: float = 0.0
    started: float = field(default_factory=time.time)
    served: int = 0
    stopping: bool = False
    calls: dict[int, _Call] = field(default_factory=dict)
    by_fd: dict[int, _Call] = field(default_factory=dict)
    last_activity: float = field(default_factory=time.monotonic)
    poller: Any = field(default_factory=select.poll)
    wake: tuple[int, int] = (-1, -1)

    def run(self) -> None:
        """Serve until stopped, idle, or the code changed; then finish the running calls."""
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake = (wake_r, wake_w)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        for sig in (signal.SIGCHLD, *_STOP_SIGNALS):
            signal.signal(sig, lambda *_: None)  # the wake-up pipe carries the signal number
        self.listener.setblocking(False)
        self.poller.register(wake_r, select.POLLIN)
        self.poller.register(self.listener.fileno(), select.POLLIN)
        next_check = time.monotonic() + CHECK_EVERY
        while True:
            now = time.monotonic()
            if not self.calls and (self.stopping or now - self.last_activity >= self.idle):
                if not self.stopping:
                    self._log("idle: exiting")
                self._stop()
                return
            events = self.poller.poll(self._timeout(now=now, next_check=next_check) * 1000)
            for fd, _ in events:
                if fd == wake_r:
                    self._signals(fd=wake_r)
                elif not self.stopping and fd == self.listener.fileno():
                    self._accept_all()
                elif fd in self.by_fd:
                    self._hung_up(call=self.by_fd[fd])
            self._reap()
            now = time.monotonic()
            self._escalate(now=now)
            if now >= next_check:
                next_check = now + CHECK_EVERY
                if not self.stopping and self._code_changed():
                    self._log("installed code changed: exiting")
                    self._stop()

    def _timeout(self, *, now: float, next_check: float) -> float:
        deadlines = [next_check]
        if not self.calls:
            deadlines.append(self.last_activity + self.idle)
        deadlines += [c.kill_at for c in self.calls.values() if c.kill_at is not None]
        return max(0.0, min(deadlines) - now) + 0.001

    def _log(self, message: str) -> None:
        trace.server_log(path=self.log, message=message)

    def _code_changed(self) -> bool:
        return key.compute_key(environ=os.environ, paths=self.import_path) != self.key

    def _signals(self, *, fd: int) -> None:
        try:
            data = os.read(fd, 512)
        except BlockingIOError:
            return
        if any(sig in data for sig in _STOP_SIGNALS):
            self._log("signalled: stopping")
            self._stop()

    def _stop(self) -> None:
        """Take no more calls: the socket goes at once; running calls finish."""
        if self.stopping:
            return
        self.stopping = True
        with contextlib.suppress(KeyError, ValueError):
            self.poller.unregister(self.listener.fileno())
        self.listener.close()
        with contextlib.suppress(OSError):  # ours: we hold the lock (removed at the end)
            os.unlink(self.sock_path)

    def _accept_all(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._log(f"accept failed: {type(exc).__name__}")
                return
            try:
                self._answer(conn=conn)
            except (OSError, wire.ProtocolError) as exc:
                self._log(f"call dropped: {type(exc).__name__}")
                conn.close()

    def _answer(self, *, conn: socket.socket) -> None:
        conn.setblocking(True)
        conn.settimeout(2.0)
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        _, uid, _ = _PEERCRED.unpack(creds)
        if uid != os.getuid():
            self._log("refused a peer of another user")
            conn.close()
            return
        header = wire.recv_frame(sock=conn)
        if header is None:
            conn.close()
            return
        if header.get("protocol") != key.PROTOCOL:
            self._reply(conn=conn, obj={"fallback": "protocol"})
            return
        op = header.get("op")
        if op == "status":
            self._reply(conn=conn, obj=self._status())
        elif op == "stop":
            self._reply(conn=conn, obj={"stopping": os.getpid()})
            self._log("asked to stop")
            self._stop()
        elif op == "run" and header.get("key") == self.key and not self.stopping:
            self._fork(conn=conn)
        else:
            self._reply(conn=conn, obj={"fallback": "stale"})

    def _reply(self, *, conn: socket.socket, obj: dict[str, Any]) -> None:
        try:
            wire.send_frame(sock=conn, obj=obj)
        finally:
            conn.close()

    def _status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "key": self.key,
            "started": self.started,
            "served": self.served,
            "running": len(self.calls),
            "idle_timeout": self.idle,
            "idle_for": round(time.monotonic() - self.last_activity, 1),
            "python": sys.version.split()[0],
            **_cpu(),
            "preload_cpu": self.preload_cpu,
        }

    def _fork(self, *, conn: socket.socket) -> None:
        server_fds = [self.listener.fileno(), self.lock_fd, *self.wake]
        server_fds += [c.conn.fileno() for c in self.calls.values() if c.conn.fileno() >= 0]
        saved = signal.pthread_sigmask(signal.SIG_BLOCK, child.BLOCKED_AROUND_FORK)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved)
            self._reply(conn=conn, obj={"fallback": "fork failed"})
            return
        if pid == 0:  # the child: never returns
            child.serve(
                conn=conn,
                server_fds=server_fds,
                preload_env=self.preload_env,
                saved_mask=saved,
            )
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)
        with contextlib.suppress(OSError):  # its own group (the child sets it too)
            os.setpgid(pid, pid)
        self.served += 1
        self.last_activity = time.monotonic()
        call = _Call(conn=conn, pid=pid)
        self.calls[pid] = call
        self.by_fd[conn.fileno()] = call
        # POLLRDHUP only: the client's "go" is for the child to read, not for us
        self.poller.register(conn.fileno(), select.POLLRDHUP)

    def _hung_up(self, *, call: _Call) -> None:
        """The client went away (killed?): its command goes too, as it would with a cold run."""
        self._forget_conn(call=call)
        if call.kill_at is None:
            self._log(f"client of child {call.pid} hung up: terminating it")
            _killpg(pgid=call.pid, sig=signal.SIGTERM)
            _killpg(pgid=call.pid, sig=signal.SIGCONT)  # a stopped child must wake to die
            call.kill_at = time.monotonic() + KILL_GRACE

    def _forget_conn(self, *, call: _Call) -> None:
        fd = call.conn.fileno()
        if fd >= 0 and self.by_fd.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def _escalate(self, *, now: float) -> None:
        for call in self.calls.values():
            if call.kill_at is not None and now >= call.kill_at:
                _killpg(pgid=call.pid, sig=signal.SIGKILL)
                call.kill_at = float("inf")

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            call = self.calls.pop(pid, None)
            if call is None:
                continue
            self.last_activity = time.monotonic()
            cpu = round(usage.ru_utime + usage.ru_stime, 6)
            if os.WIFSIGNALED(status):
                result: dict[str, Any] = {"signal": os.WTERMSIG(status), "cpu": cpu}
            else:
                result = {"exit": os.WEXITSTATUS(status), "cpu": cpu}
            hung_up = call.kill_at is not None
            self._forget_conn(call=call)
            if hung_up:
                call.conn.close()
                continue
            with contextlib.suppress(OSError):
                self._reply(conn=call.conn, obj=result)


def _cpu() -> dict[str, float]:
    """CPU seconds of the server itself and of its children (the calls) so far."""
    t = os.times()
    return {
        "cpu": round(t.user + t.system, 3),
        "cpu_children": round(t.children_user + t.children_system, 3),
    }


def _killpg(*, pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)


def _close_inherited_fds() -> None:
    """Close every descriptor above stderr that the server inherited from its client."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


def _idle_seconds() -> float:
    try:
        value = float(os.environ.get(key.IDLE_VAR, DEFAULT_IDLE))
    except ValueError:
        return DEFAULT_IDLE
    return value if value > 0 else DEFAULT_IDLE


def main(argv: list[str]) -> int:
    """Start a server for the key in ``argv[1]`` (as computed by the client that started it),
    unless one is running already or this process's own key differs."""
    if len(argv) != 2:
        return 2
    expected = argv[1]
    _close_inherited_fds()
    os.chdir("/")
    os.umask(0o077)
    directory = paths.socket_dir(environ=os.environ)
    log = paths.log_path(directory=directory)
    try:
        paths.ensure_dir(path=directory)
        sock_path = paths.socket_path(directory=directory, key=expected)
    except (OSError, ValueError, paths.UnsafeDir):
        return 1
    lock = paths.lock_path(socket=sock_path)
    lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another server has this key
    import_path = key.import_path()
    if key.compute_key(environ=os.environ, paths=import_path) != expected:
        trace.server_log(path=log, message="own key differs from the client's: not serving")
        os.unlink(lock)
        return 0
    started = time.process_time()
    try:
        preload_env = preload.preload(root=key.package_dir())
    except (preload.Refused, Exception) as exc:
        trace.server_log(path=log, message=f"not serving: {exc}")
        os.unlink(lock)
        return 1
    preload_cpu = round(time.process_time() - started, 3)
    trace.server_log(path=log, message=f"preloaded in {preload_cpu:.2f} s CPU")
    with contextlib.suppress(FileNotFoundError):  # a dead server's
        os.unlink(sock_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    os.chmod(sock_path, 0o600)
    listener.listen(64)
    server = Server(
        key=expected,
        sock_path=sock_path,
        log=log,
        listener=listener,
        lock_fd=lock_fd,
        idle=_idle_seconds(),
        import_path=import_path,
        preload_env=preload_env,
        preload_cpu=preload_cpu,
    )
    trace.server_log(path=log, message="listening")
    try:
        server.run()
        cpu = _cpu()
        trace.server_log(
            path=log,
            message=f"exiting after {server.served} call(s); CPU seconds: server {cpu['cpu']}, "
            f"calls {cpu['cpu_children']}",
        )
    finally:
        os.unlink(lock)  # still held: a checker that finds no file knows the server is gone
    return 0
