"""The warm command server (DEALVAULT_WARM=1), with real processes: a warm call prints, exits
and writes exactly what a cold one does, as the client (its directory, umask, environment,
stdin, terminal and signals); the server is private, never stale, and ends when told or idle.

Every test runs its servers in a private XDG_RUNTIME_DIR and stops them at the end."""

from __future__ import annotations

import fcntl
import json
import os
import re
import resource
import secrets
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from dealvault import __version__
from dealvault.cli.warm import control, key

ROOT = Path(__file__).resolve().parents[2]
DEALVAULT = str(Path(sys.executable).parent / "dealvault")
PASSPHRASE = "pass phrase 123"


def wait_for(
    what: str,
    predicate: Callable[[], bool],
    *,
    timeout: float = 30.0,
    why: Callable[[], str] = str,
) -> None:
    """Poll ``predicate`` until it holds (fail after ``timeout`` seconds, saying ``why()``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {why()}")
        time.sleep(0.05)


def private_run_dir() -> str:
    """A short private directory for XDG_RUNTIME_DIR (socket paths are at most 107 bytes)."""
    return tempfile.mkdtemp(prefix="dvw", dir="/tmp")  # mode 0700


def base_env(*, run_dir: str, home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DEALVAULT_") and k not in ("PYTHONUNBUFFERED", "XDG_RUNTIME_DIR")
    }
    env.update(
        XDG_RUNTIME_DIR=run_dir,
        DEALVAULT_HOME=str(home),
        DEALVAULT_KEY_PROVIDER="env",
        DEALVAULT_MASTER_KEY=secrets.token_hex(32),
        DEALVAULT_ARGON2_MEMORY_KIB="16384",
        DEALVAULT_ARGON2_TIME_COST="2",
        COLUMNS="100",
    )
    return env


def warm_env(env: Mapping[str, str], **extra: str) -> dict[str, str]:
    return {**env, "DEALVAULT_WARM": "1", **extra}


def cold_env(env: Mapping[str, str], **extra: str) -> dict[str, str]:
    return {k: v for k, v in {**env, **extra}.items() if k != "DEALVAULT_WARM"}


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    stdin: str | None = None,
    umask: int = -1,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [DEALVAULT, *args],
        env=dict(env),
        cwd=cwd,
        input=stdin.encode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        umask=umask,
        start_new_session=True,  # no controlling terminal, as in CI
        timeout=180,
        check=False,
    )


def servers(env: Mapping[str, str]) -> list[dict[str, object]]:
    return control.servers(environ=env)


def served(env: Mapping[str, str]) -> int:
    return sum(int(str(s["served"])) for s in servers(env))


def locks(run_dir: str) -> list[Path]:
    return sorted((Path(run_dir) / "dealvault").glob("*.lock"))


def start_server(env: Mapping[str, str]) -> int:
    """A cold call starts a server in the background; its pid once it listens."""
    if not servers(env):
        started = run(["--version"], env=warm_env(env, DEALVAULT_WARM_DEBUG="1"))
        assert started.returncode == 0
        log = Path(env["XDG_RUNTIME_DIR"], "dealvault", "server.log")
        wait_for(
            "the server to listen",
            lambda: bool(servers(env)),
            timeout=60,
            why=lambda: f"{started.stderr!r}; {log.read_text() if log.exists() else 'no log'}",
        )
    found = servers(env)
    assert len(found) == 1, found
    return int(str(found[0]["pid"]))


def stop_servers(env: Mapping[str, str], run_dir: str) -> None:
    """Stop every server of ``run_dir`` (kill what does not stop), then remove the directory."""
    pids = [int(str(s["pid"])) for s in servers(env)]
    control.stop(environ=env)
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(run_dir, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Warm:
    """A store (env key provider) and a running server, in private directories."""

    env: dict[str, str]
    run_dir: str
    tmp: Path


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warm]:
    tmp = tmp_path_factory.mktemp("warm")
    run_dir = private_run_dir()
    env = base_env(run_dir=run_dir, home=tmp / "store")
    done = run(["init", "--operator", "op@seller.example", "--org", "Seller"], env=env)
    assert done.returncode == 0, done.stderr
    try:
        start_server(env)
        yield Warm(env=env, run_dir=run_dir, tmp=tmp)
    finally:
        stop_servers(env, run_dir)


def test_warm_output_is_the_cold_output(warm: Warm) -> None:
    calls = [
        ["org", "list"],
        ["org", "list", "--json"],
        ["deal", "show", "no-such-deal"],  # an error: exit 3, message on stderr
        ["deal", "show", "no-such-deal", "--json"],
        ["org", "lisst"],  # a usage error: exit 2
        ["--help"],
    ]
    for args in calls:
        cold = run(args, env=cold_env(warm.env))
        before = served(warm.env)
        hot = run(args, env=warm_env(warm.env))
        assert served(warm.env) == before + 1, f"{args} was not served warm"
        assert (hot.returncode, hot.stdout, hot.stderr) == (
            cold.returncode,
            cold.stdout,
            cold.stderr,
        ), args
    assert cold.returncode == 0 and b"Usage: dealvault" in cold.stdout


def test_the_client_s_directory_umask_and_environment(warm: Warm) -> None:
    # synth writes with open(): its files and directory follow the umask
    out = {}
    for name, env in (("cold", cold_env(warm.env)), ("warm", warm_env(warm.env))):
        cwd = warm.tmp / f"synth-{name}"
        cwd.mkdir()
        before = served(warm.env)
        res = run(
            ["synth", "--rows", "40", "--seed", "3", "--out", "out"], env=env, cwd=cwd, umask=0o027
        )
        assert res.returncode == 0, res.stderr
        assert served(warm.env) == before + (name == "warm")
        files = sorted((cwd / "out").iterdir())
        assert files
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        assert set(modes.values()) == {0o640}, modes
        assert stat.S_IMODE((cwd / "out").stat().st_mode) == 0o750
        shown = re.sub(rb"\d+\.\d s", b"T s", res.stdout)  # its title says how long it took
        out[name] = (shown, res.stderr, {f.name: f.read_bytes() for f in files})
    assert out["warm"] == out["cold"]

    # a relative DEALVAULT_HOME, a master key and an organisation only the client has: the
    # store is made in the client's directory, private whatever the umask
    cwd = warm.tmp / "other-client"
    cwd.mkdir()
    env = warm_env(warm.env, DEALVAULT_HOME="rel-store", DEALVAULT_MASTER_KEY=secrets.token_hex(32))
    before = served(warm.env)
    init = run(
        ["init", "--operator", "it@other.example", "--org", "Other Org"],
        env=env,
        cwd=cwd,
        umask=0o022,
    )
    assert init.returncode == 0, init.stderr
    listed = run(["org", "list", "--json"], env=env, cwd=cwd, umask=0o022)
    assert served(warm.env) == before + 2
    assert [o["name"] for o in json.loads(listed.stdout)] == ["Other Org"]
    home = cwd / "rel-store"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for db in ("vault.sqlite", "keystore.sqlite"):
        assert stat.S_IMODE((home / db).stat().st_mode) == 0o600


def passphrase_env(warm: Warm, home: Path) -> dict[str, str]:
    env = {k: v for k, v in warm.env.items() if k != "DEALVAULT_MASTER_KEY"}
    env.update(DEALVAULT_HOME=str(home), DEALVAULT_KEY_PROVIDER="passphrase", TERM="xterm-256color")
    return env


def run_on_terminal(
    args: Sequence[str], *, env: Mapping[str, str], answer: tuple[bytes, bytes]
) -> tuple[int, bytes]:
    """Run with stdin, stdout and stderr on a new terminal that is the process's controlling
    terminal; type ``answer[1]`` once ``answer[0]`` shows; everything the terminal showed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [DEALVAULT, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=dict(env),
        start_new_session=True,
        preexec_fn=take_terminal,  # the test process runs no threads
    )
    os.close(slave)
    shown = b""
    pending = [answer]
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every holder of the terminal has closed it
                break
            if not chunk:
                break
            shown += chunk
            if pending and pending[0][0] in shown:
                os.write(master, pending.pop(0)[1])
        return proc.wait(timeout=60), shown
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_stdin_and_the_terminal_are_the_client_s(warm: Warm) -> None:
    home = warm.tmp / "pass-store"
    env = passphrase_env(warm, home)
    # no terminal: the new passphrase is read from the piped stdin (getpass falls back)
    before = served(warm.env)
    init = run(
        ["init", "--operator", "op@seller.example", "--org", "Seller"],
        env=warm_env(env),
        stdin=f"{PASSPHRASE}\n{PASSPHRASE}\n",
    )
    assert init.returncode == 0, init.stderr
    assert served(warm.env) == before + 1
    opened = run(["keys", "status", "--json"], env=cold_env(env, DEALVAULT_PASSPHRASE=PASSPHRASE))
    assert opened.returncode == 0, opened.stderr

    # on a terminal: the passphrase is asked with echo off, the table comes in colour; the
    # terminal shows the same bytes either way
    answer = (b"key file: ", PASSPHRASE.encode() + b"\r")
    args = ["--as", "op@seller.example", "keys", "status"]
    cold_rc, cold = run_on_terminal(args, env=cold_env(env), answer=answer)
    before = served(warm.env)
    warm_rc, hot = run_on_terminal(args, env=warm_env(env), answer=answer)
    assert served(warm.env) == before + 1
    assert (warm_rc, hot) == (cold_rc, cold)
    assert cold_rc == 0 and b"\x1b[" in cold and PASSPHRASE.encode() not in cold


def limited() -> None:
    """``taskset -c 0`` and ``ulimit -Sn 512``, in the client."""
    os.sched_setaffinity(0, {0})
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def blocked_on_a_prompt(
    env: Mapping[str, str], home: Path, *, preexec: Callable[[], None] | None = None
) -> subprocess.Popen[bytes]:
    """``init`` asking for a new passphrase on its open stdin pipe (no terminal)."""
    return subprocess.Popen(
        [DEALVAULT, "init", "--operator", "op@seller.example", "--org", "Seller"],
        env={**env, "DEALVAULT_HOME": str(home), "DEALVAULT_KEY_PROVIDER": "passphrase"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=preexec,
    )


def read_until(proc: subprocess.Popen[bytes], marker: bytes) -> bytes:
    """What the process wrote on stderr up to and including ``marker``."""
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 60
    while marker not in seen:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {marker!r} on stderr: {seen!r}")
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                pytest.fail(f"stderr closed before {marker!r}: {seen!r}")
            seen += chunk
    return seen


PROMPTED = b"may be echoed.\n "  # getpass's warning, then its prompt: reading now


def test_ctrl_c_reaches_the_command(warm: Warm) -> None:
    results = []
    for name, env in (("cold", cold_env(warm.env)), ("warm", warm_env(warm.env))):
        env.pop("DEALVAULT_MASTER_KEY")
        before = served(warm.env)
        proc = blocked_on_a_prompt(env, warm.tmp / f"interrupted-{name}")
        head = read_until(proc, PROMPTED)
        proc.send_signal(signal.SIGINT)
        # stdin stays open until the command has ended: the signal reaches a warm command a
        # moment later (through its client), and an end of input would answer the prompt
        proc.wait(timeout=60)
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, head + err))
        assert served(warm.env) == before + (name == "warm")
    assert results[0] == results[1]
    assert results[0][0] == 1 and results[0][2].endswith(b"Aborted.\n")


def test_a_killed_client_takes_its_command_along(warm: Warm) -> None:
    if 0 not in os.sched_getaffinity(0):
        pytest.skip("core 0 is not ours")
    env = warm_env(warm.env, DEALVAULT_WARM_DEBUG="1")
    env.pop("DEALVAULT_MASTER_KEY")
    proc = blocked_on_a_prompt(env, warm.tmp / "killed", preexec=limited)
    head = read_until(proc, PROMPTED)
    found = re.search(rb"running as child (\d+)", head)
    assert found, head
    child = int(found.group(1))
    assert alive(child)
    # the command runs with the client's CPU affinity and resource limits
    assert os.sched_getaffinity(child) == {0}
    assert re.search(r"Max open files\s+512\s", Path(f"/proc/{child}/limits").read_text())
    proc.kill()
    proc.wait(timeout=60)
    # stdin stays open (an end of input would end the prompt): only the hang-up can end it
    wait_for("the command to end", lambda: not alive(child), timeout=30)
    proc.communicate(timeout=60)


def test_the_socket_directory_is_private(tmp_path: Path) -> None:
    run_dir = private_run_dir()
    env = base_env(run_dir=run_dir, home=tmp_path / "store")
    try:
        start_server(env)
        sock_dir = Path(run_dir) / "dealvault"
        (sock,) = sock_dir.glob("*.sock")
        assert stat.S_IMODE(sock_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        debug = warm_env(env, DEALVAULT_WARM_DEBUG="1")
        before = served(env)

        system_python = shutil.which("python3", path="/usr/bin:/bin")
        if os.getuid() == 0 and system_python:  # another user reaching the socket: nothing
            for opened in (Path(run_dir), sock_dir):
                opened.chmod(0o711)
            sock.chmod(0o666)
            probe = (  # connecting works (the socket is open to it); then nothing
                "import socket,struct,sys\n"
                "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print('connected')\n"
                'h=b\'{"protocol":1,"op":"status"}\'\n'
                "try: s.sendall(struct.pack('>I',len(h))+h); print(repr(s.recv(100)))\n"
                "except OSError: print(repr(b''))\n"
            )
            other = subprocess.run(
                [system_python, "-I", "-c", probe, str(sock)],
                user=65534,
                cwd="/",
                env={"PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert other.stdout.split() == ["connected", "b''"], other
            sock.chmod(0o600)
            Path(run_dir).chmod(0o700)

        for mode in (0o770, 0o707):  # group or others may enter: not used, nor trusted
            sock_dir.chmod(mode)
            res = run(["--version"], env=debug)
            assert res.returncode == 0 and b"open to others" in res.stderr, res.stderr
            status = run(["warm", "status"], env=cold_env(env))
            assert status.returncode == 2 and b"open to others" in status.stderr
        sock_dir.chmod(0o700)
        assert served(env) == before

        # a symlink in place of the directory is refused too
        other_run = private_run_dir()
        os.symlink(sock_dir, Path(other_run) / "dealvault")
        res = run(["--version"], env={**debug, "XDG_RUNTIME_DIR": other_run})
        assert res.returncode == 0 and b"a symlink" in res.stderr, res.stderr
        shutil.rmtree(other_run)
    finally:
        Path(run_dir, "dealvault").chmod(0o700)
        stop_servers(env, run_dir)


def test_a_server_of_other_code_is_not_used(tmp_path: Path) -> None:
    """An edited checkout is never run by a server that imported the code before the edit."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "src" / "dealvault", copy / "dealvault")  # with its bytecode
    run_dir = private_run_dir()
    env = {**base_env(run_dir=run_dir, home=tmp_path / "store"), "PYTHONPATH": str(copy)}
    debug = warm_env(env, DEALVAULT_WARM_DEBUG="1")
    try:
        first = start_server(env)
        res = run(["--version"], env=debug)
        assert b"served by child" in res.stderr, res.stderr

        edited = copy / "dealvault" / "cli" / "commands.py"
        st = edited.stat()
        os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        res = run(["--version"], env=debug)
        assert res.returncode == 0 and res.stdout.startswith(b"dealvault ")
        assert b"served by" not in res.stderr and b"no server" in res.stderr, res.stderr

        wait_for("the stale server to end", lambda: not alive(first), timeout=60)
        wait_for(
            "a server of the edited code",
            lambda: [s["pid"] for s in servers(env)] not in ([], [first]),
            timeout=60,
        )
        res = run(["--version"], env=debug)
        assert b"served by child" in res.stderr, res.stderr
    finally:
        stop_servers(env, run_dir)


def test_the_server_ends_when_idle(tmp_path: Path) -> None:
    run_dir = private_run_dir()
    env = base_env(run_dir=run_dir, home=tmp_path / "store")
    env["DEALVAULT_WARM_IDLE"] = "1"
    try:
        assert run(["--version"], env=warm_env(env)).returncode == 0
        wait_for("the server to start", lambda: bool(locks(run_dir)), timeout=60)
        wait_for("the idle server to end", lambda: not locks(run_dir), timeout=60)
        assert not list((Path(run_dir) / "dealvault").glob("*.sock"))
    finally:
        stop_servers(env, run_dir)


def test_warm_stop_ends_the_server(tmp_path: Path) -> None:
    run_dir = private_run_dir()
    env = base_env(run_dir=run_dir, home=tmp_path / "store")
    try:
        pid = start_server(env)
        status = run(["warm", "status", "--json"], env=warm_env(env))
        assert status.returncode == 0
        assert [s["pid"] for s in json.loads(status.stdout)] == [pid]
        stop = run(["warm", "stop"], env=warm_env(env))
        assert stop.returncode == 0 and stop.stdout.decode().startswith("stopped 1 warm server")
        assert not locks(run_dir) and not servers(env)
        wait_for("the server to end", lambda: not alive(pid), timeout=30)
        assert run(["warm", "status"], env=env).stdout.startswith(b"no warm server running")
    finally:
        stop_servers(env, run_dir)


def test_the_client_imports_only_the_standard_library(warm: Warm) -> None:
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from dealvault.cli.warm.client import attempt\n"
        "code = attempt(argv=['dealvault', '--version'])\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(code, sorted(m for m in new if m not in sys.stdlib_module_names))\n"
    )
    before = served(warm.env)
    res = subprocess.run(
        [sys.executable, "-c", probe],
        env=warm_env(warm.env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert served(warm.env) == before + 1
    assert res.stdout.splitlines() == [f"dealvault {__version__}", "0 ['dealvault']"]


def test_the_preload_starts_no_thread_and_its_environment_reads_are_keyed() -> None:
    probe = (
        "import json, sys\n"
        "from dealvault.cli.warm import key, preload\n"
        "read = preload.preload(root=key.package_dir())\n"
        "print(json.dumps({'threads': preload.thread_count(), 'read': sorted(read),\n"
        "    'modules': sorted(m for m in sys.modules if m.startswith('dealvault.cli.'))}))\n"
    )
    res = subprocess.run(
        [sys.executable, "-P", "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    got = json.loads(res.stdout)
    assert got["threads"] == 1
    # a variable read while importing is baked into the server: it must be part of the key
    assert [n for n in got["read"] if not key.is_keyed(n)] == []
    assert "dealvault.cli.admin" in got["modules"] and "dealvault.cli.warm_cmd" in got["modules"]
    assert "dealvault.cli.records" not in got["modules"]  # imports polars
