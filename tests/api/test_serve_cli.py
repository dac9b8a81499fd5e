"""The server's commands as a user runs them: ``person invite`` mails a link through a real
SMTP server, ``account disable``, and ``dealvault serve`` as a real process that unlocks the
key once (from a file descriptor) and refuses to start with the wrong one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Mailbox
from tests.cli.test_cli import AS_OP, BIDDER, STEWARD, env, run, setup_deal  # noqa: F401

PASSPHRASE = "correct horse battery staple"


def test_invite_mails_a_link_and_disable_refuses_strangers(
    env: dict[str, str],  # noqa: F811
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, port = mailbox
    monkeypatch.setenv("DEALVAULT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEALVAULT_SMTP_PORT", str(port))
    setup_deal()
    out = run("person", "invite", "new@bidder.example", "--deal", "d1", "--role",
              "bidder_business", "--name", "New", "--org", "Bidder A")  # fmt: skip
    assert "invited new@bidder.example to deal d1 as bidder_business" in out
    secret = box.link_secret("new@bidder.example")
    assert secret.startswith("dvi_") and secret not in out
    # the steward may not invite itself, a bidder may not invite anyone
    run("person", "invite", STEWARD, "--deal", "d1", "--role", "counsel", code=4)
    run("--as", BIDDER, "person", "invite", "x@bidder.example", "--deal", "d1", "--role",
        "bidder_business", "--name", "X", "--org", "Bidder A", code=4)  # fmt: skip
    assert "disabled" in run("account", "disable", "new@bidder.example", "--deal", "d1")
    run("--as", BIDDER, "account", "enable", "new@bidder.example", "--deal", "d1", code=4)
    # no mail server: a clear error, nothing half-done
    monkeypatch.setenv("DEALVAULT_SMTP_PORT", "1")
    out = run("person", "invite", "late@bidder.example", "--deal", "d1", "--role",
              "bidder_business", "--name", "Late", "--org", "Bidder A", code=8)  # fmt: skip
    assert "did not take the mail" in out and "Traceback" not in out
    run(*AS_OP, "person", "show", "late@bidder.example", code=3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def passphrase_store(tmp_path: Path) -> Iterator[dict[str, str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DEALVAULT_", "PYTEST_"))}
    environ.update(
        DEALVAULT_HOME=str(tmp_path / "store"),
        DEALVAULT_ARGON2_MEMORY_KIB="1024",
        DEALVAULT_ARGON2_TIME_COST="1",
        DEALVAULT_PASSPHRASE=PASSPHRASE,
    )
    subprocess.run(
        [sys.executable, "-m", "dealvault.cli.main", "init", "--operator", "it@s.example",
         "--org", "S Co"],
        env=environ, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    del environ["DEALVAULT_PASSPHRASE"]
    yield environ


def _serve(
    environ: dict[str, str], passphrase: str, port: int, *extra: str
) -> subprocess.Popen[str]:
    read, write = os.pipe()
    os.write(write, (passphrase + "\n").encode())
    os.close(write)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dealvault.cli.main", "serve", "--port", str(port),
         "--insecure-http", "--passphrase-fd", str(read), *extra],
        env=environ, pass_fds=(read,), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    os.close(read)
    return proc


def _ready(proc: subprocess.Popen[str], port: int) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
        except httpx.TransportError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)


def test_serve_unlocks_once_and_answers(passphrase_store: dict[str, str]) -> None:
    port = _free_port()
    proc = _serve(passphrase_store, PASSPHRASE, port)
    try:
        r = _ready(proc, port)
        assert r.json() == {"status": "ready"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/deals").status_code == 401
        assert "server" not in {k.lower() for k in r.headers}
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises the signal (exit status -SIGTERM)
    assert proc.returncode in (0, -15) and "Application shutdown complete" in out, out


def _listening(port: int) -> int:
    """Sockets listening on ``port`` (IPv4), from /proc/net/tcp (state 0A is LISTEN)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
    )


def test_two_workers_on_postgresql_share_the_port(
    tmp_path: Path, pg_database: Callable[[], str]
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DEALVAULT_", "PYTEST_"))}
    environ.update(
        DEALVAULT_HOME=str(tmp_path / "pg-store"),
        DEALVAULT_DATABASE_URL=pg_database(),
        DEALVAULT_KEYSTORE_URL=pg_database(),
        DEALVAULT_ARGON2_MEMORY_KIB="1024",
        DEALVAULT_ARGON2_TIME_COST="1",
        DEALVAULT_PASSPHRASE=PASSPHRASE,
    )
    subprocess.run(
        [sys.executable, "-m", "dealvault.cli.main", "init", "--operator", "it@s.example",
         "--org", "S Co"],
        env=environ, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    del environ["DEALVAULT_PASSPHRASE"]
    port = _free_port()
    proc = _serve(environ, PASSPHRASE, port, "--workers", "2")
    try:
        assert _ready(proc, port).json() == {"status": "ready"}
        with ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(
                    lambda _: httpx.get(f"http://127.0.0.1:{port}/api/deals").status_code, range(40)
                )
            )
        assert codes == [401] * 40
        # one listening socket per worker (SO_REUSEPORT): the kernel spreads connections
        assert _listening(port) == 2
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "2 workers" in out


def test_a_port_in_use_is_refused_cleanly(passphrase_store: dict[str, str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = _serve(passphrase_store, PASSPHRASE, port)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 5, out
    assert f"cannot listen on 127.0.0.1:{port}" in out and "Traceback" not in out


def test_the_sqlite_store_serves_from_one_process(passphrase_store: dict[str, str]) -> None:
    proc = _serve(passphrase_store, PASSPHRASE, _free_port(), "--workers", "2")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "one process" in out


def test_serve_refuses_the_wrong_key(passphrase_store: dict[str, str]) -> None:
    proc = _serve(passphrase_store, "not the passphrase at all", _free_port())
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 7, out
    assert "Traceback" not in out and PASSPHRASE not in out
