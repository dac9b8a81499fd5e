"""Server (API) benchmark: authenticated reviewers against ``dealvault serve`` on PostgreSQL.

Prints ONE JSON line (``name: "api"``). What it does, in order:

1. **Set-up, in-process, not timed.** Two fresh PostgreSQL databases (records, key store) on
   ``--pg-url`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; dropped at
   the end, also on failure) and a scratch store directory in ``bench/out/api-*``. Through the
   flows, as a real deal would: the store's operator registers the seller, a bidder and a law
   firm and opens a deal; the steward imports ``--customers`` invented customers (the synth
   API, with their orders) and advances the deal to the clean-team stage; ``--reviewers``
   clean-team members and a counsel are invited (the invitation mail is caught in memory),
   activate their accounts with a password and enrol a TOTP second factor; a clean-team
   agreement names the reviewers, the training administrator records their training, each
   reviewer asks for ``masked`` access (identity, contact, preference; no row cap) and the
   steward and counsel approve it; each reviewer makes a personal API token with the ``read``
   scope.
2. **The server as a real process:** ``dealvault serve --workers 2 --insecure-http
   --passphrase-fd N`` on a free loopback port (its log goes to a file).
3. **Load, closed loop, bounded:** ``--concurrency`` simulated reviewers (asyncio +
   ``httpx.AsyncClient``, one connection each) send requests back to back for ``--warmup`` +
   ``--duration`` seconds (and at most ``--max-requests``), each with a reviewer's token in
   turn (``--auth session`` sends the signed-in session cookie instead). Two phases: masked
   ``view`` pages (``limit=50`` at varying offsets), then aggregate queries (``level=aggregate``,
   a few group-bys). Latency is per request, from send to the full body; only requests started
   after the warm-up and finished in the window count. During each window the CPU time of the
   load generator (this process), the server (parent and workers), the PostgreSQL backends of
   the two databases and the whole machine are sampled from ``/proc``.
4. **Overhead of the edge:** ``--pairs`` times, one after the other and interleaved, the same
   masked page through HTTP and through ``flows.disclosure.view`` called in this process with
   the same request (and the principal ``signin.token_principal`` gives); then the cost of
   ``signin.token_principal``, ``signin.session_principal`` and of one audit append (a routine
   event, and the ``disclose`` event a masked page records: every subject of the dataset and a
   signed checkpoint), each in its own transaction, as the request path runs them.

Targets (issue 15, item 9): masked ``view`` pages at >= 200 requests/s with p99 <= 100 ms on
2 workers; authentication + audit <= 2 ms per request. The machine has 2 cores shared by the
server, PostgreSQL and the load generator: the JSON line says how they shared them.

Options: ``--customers`` (3,000), ``--reviewers`` (20), ``--concurrency`` (8), ``--duration``
(20 s per phase), ``--warmup`` (3 s), ``--pairs`` (100), ``--workers`` (2), ``--auth
token|session``, ``--max-requests`` (50,000 per phase), ``--py-spy DIR`` (a profiling run:
py-spy samples every worker during each window), ``--keep`` (keep the scratch directory and
databases), ``--strict`` (exit 3 if a target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import pyotp
from common import emit, git_state, log, machine, remove_tree, scratch_dir
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url

from dealvault.access.agreements import SignerIn
from dealvault.access.principal import Principal, local
from dealvault.api.deps import COOKIE
from dealvault.audit.service import EventIn
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.flows import (
    access_requests,
    accounts,
    admin,
    agreements,
    disclosure,
    own_account,
    signin,
)
from dealvault.flows.accounts import AccountRules
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.flows.setup import init_store
from dealvault.flows.store import OperatorIn, grant_role
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.writers import write_export
from dealvault.vault.models import CustomerRecord, Dataset

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEAL, DATASET = "bench-2026", "crm"
SELLER, BIDDER, LAW = "Bench Seller Co", "Bench Bidder A", "Bench Law LLP"
OPERATOR = "it@seller.example"
STEWARD = "steward@seller.example"
TRAINER = "trainer@seller.example"
COUNSEL = "counsel@law.example"
PASSWORD = "violet kettle harbour 1987 drums"  # invented; strong enough for zxcvbn
CLIENT = "127.0.0.1"
PURPOSE = "clean team: spot checks of the customer base"
PAGE = 50
GROUPS: tuple[tuple[str, ...], ...] = (("gender",), ("province",), ("gender", "province"))
TARGET = {
    "view_rps": 200.0,
    "view_p99_ms": 100.0,
    "auth_plus_audit_ms": 2.0,
    "edge_overhead_ms": 2.0,
}


# --------------------------------------------------------------------------- statistics


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank on the sorted values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """Count, mean and p50/p95/p99/max of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "mean": round(statistics.fmean(ms), 2),
        "p50": round(quantile(ms, 0.50), 2),
        "p95": round(quantile(ms, 0.95), 2),
        "p99": round(quantile(ms, 0.99), 2),
        "max": round(max(ms), 2),
    }


# --------------------------------------------------------------------------- databases


@dataclass
class Databases:
    """Two fresh PostgreSQL databases made for this run (dropped by :meth:`drop`)."""

    admin: Engine
    base_url: str
    names: list[str] = field(default_factory=list)
    #: the benchmark's name in each database's name
    bench: str = "api"

    def make(self, what: str) -> str:
        name = f"dv_bench_{self.bench}_{what}_{secrets.token_hex(4)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def backend_pids(self) -> set[int]:
        """The PostgreSQL backends now connected to this run's databases."""
        with self.admin.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = ANY(:names)"),
                {"names": self.names},
            )
            return {int(r[0]) for r in rows}

    def drop(self) -> None:
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.names.clear()
        self.admin.dispose()


# --------------------------------------------------------------------------- set-up


@dataclass
class Reviewer:
    email: str
    token: str  # the personal API token's secret (read scope)
    session: str  # a signed-in session's secret (password + TOTP)


@dataclass
class World:
    settings: Settings
    stores: AppStores
    keyring: KeyRing
    rules: AccountRules
    passphrase: str
    reviewers: list[Reviewer]
    customers: int
    subjects: list[str]


class Inbox:
    """The mailer of the set-up: keeps each person's newest invitation link in memory."""

    def __init__(self) -> None:
        self.links: dict[str, str] = {}

    def send(self, to: str, subject: str, body: str) -> None:
        m = re.search(r"/account/invite#(\S+)", body)
        if m is None:
            raise RuntimeError(f"no invitation link in the mail to {to}")
        self.links[to] = m.group(1)


def _sign_up(world_stores: AppStores, keyring: KeyRing, rules: AccountRules, link: str) -> str:
    """Activate an invited account (password), enrol TOTP; the signed-in session's secret."""
    started = accounts.activate(
        world_stores, rules=rules, secret=link, password=PASSWORD, client=CLIENT
    )
    half, _ = signin.session_principal(
        world_stores, rules=rules, secret=started.secret, client=CLIENT
    )
    enrol = accounts.begin_totp(world_stores, keyring, actor=half)
    code = pyotp.TOTP(pyotp.parse_uri(enrol.uri).secret).now()
    done = accounts.finish_totp(world_stores, keyring, actor=half, code=code)
    return done.session.secret


def _signed_in(world_stores: AppStores, rules: AccountRules, secret: str) -> Principal:
    who, _ = signin.session_principal(world_stores, rules=rules, secret=secret, client=CLIENT)
    return who


def build_world(work: Path, dbs: Databases, *, customers: int, reviewers: int) -> World:
    """The store, the deal at the clean-team stage, the customers and the signed-in reviewers."""
    passphrase = secrets.token_urlsafe(24)
    settings = Settings(
        home=work / "store",
        database_url=dbs.make("records"),
        keystore_url=dbs.make("keys"),
        passphrase=SecretStr(passphrase),
        # a light Argon2id for the master key file: the server unwraps it once at start
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        public_url="https://dataroom.example",
    )
    t0 = time.perf_counter()
    _, stores, provider = init_store(
        settings,
        passphrase=passphrase,
        operator=OperatorIn(email=OPERATOR, name="IT Operator", organization=SELLER),
    )
    keyring = KeyRing(provider)
    _ = stores.audit.signer  # the log's signing key, unwrapped before any transaction
    rules = AccountRules.from_settings(settings)
    inbox = Inbox()
    op = local(OPERATOR)
    admin.create_organization(stores, actor=op, name=BIDDER, kind="bidder")
    admin.create_organization(stores, actor=op, name=LAW, kind="law_firm")
    admin.create_person(stores, actor=op, email=STEWARD, name="Data Steward", organization=SELLER)
    admin.create_person(stores, actor=op, email=TRAINER, name="Trainer", organization=SELLER)
    grant_role(stores, actor=op, email=TRAINER, role="training_admin")
    admin.create_deal(
        stores, actor=op, code=DEAL, name="Sale of the bench business", kind="equity",
        seller=SELLER, bidders=[BIDDER], stewards=[STEWARD],
    )  # fmt: skip
    admin.add_party(stores, actor=op, deal=DEAL, organization=LAW, role="counsel")
    today = date.today()
    trainer = local(TRAINER)
    agreements.add_training(
        stores, actor=trainer, email=STEWARD, course="confidentiality",
        completed=today - timedelta(days=30),
    )  # fmt: skip
    steward = local(STEWARD)
    log(f"generating and importing {customers:,} invented customers (and their orders) ...")
    export = write_export(
        out_dir=work / "export", rows=customers, seed=1, fmt="csv", tables=("customers", "orders")
    )
    for table in ("customers", "orders"):
        import_source(
            stores,
            keyring,
            request=ImportRequest(
                actor=steward, deal=DEAL, dataset=DATASET, spec=SourceSpec(path=export[table])
            ),
            rejects_dir=work / "rejects",
        )
    for _ in range(2):  # preparation -> due_diligence -> clean_team
        admin.advance_deal(
            stores, code=DEAL, to=None, winner=None, actor=steward, reason="bench set-up"
        )
    log(f"inviting and signing in {reviewers} reviewers and a counsel ...")
    emails = [f"reviewer{i:02d}@bidder-a.example" for i in range(reviewers)]
    invites = [(COUNSEL, "counsel", "Deal Counsel", LAW)] + [
        (e, "bidder_clean_team", f"Reviewer {i}", BIDDER) for i, e in enumerate(emails)
    ]
    for email, role, name, org in invites:
        accounts.invite(
            stores, actor=steward, rules=rules, mailer=inbox.send, deal=DEAL, email=email,
            role=role, name=name, organization=org,
        )  # fmt: skip
    agreements.add_agreement(
        stores, actor=steward, deal=DEAL, organization=BIDDER, kind="clean_team",
        title="Clean team agreement (invented)", effective=today - timedelta(days=5),
        signers=[SignerIn(e, today - timedelta(days=5)) for e in emails],
    )  # fmt: skip
    counsel = _signed_in(stores, rules, _sign_up(stores, keyring, rules, inbox.links[COUNSEL]))
    people: list[Reviewer] = []
    for email in emails:
        agreements.add_training(
            stores, actor=trainer, email=email, course="confidentiality",
            completed=today - timedelta(days=10),
        )  # fmt: skip
        session = _sign_up(stores, keyring, rules, inbox.links[email])
        me = _signed_in(stores, rules, session)
        req = access_requests.request_access(
            stores, actor=me, deal=DEAL, dataset=DATASET,
            categories=["identity", "contact", "preference"], level="masked",
            purpose=PURPOSE, duration_days=7,
        )  # fmt: skip
        access_requests.approve_request(stores, actor=steward, request_id=req.id)
        out = access_requests.approve_request(stores, actor=counsel, request_id=req.id)
        if out.status != "approved":
            raise RuntimeError(f"the request of {email} was not approved: {out.status}")
        token = own_account.create_token(
            stores, actor=me, rules=rules, name="bench", scopes=["read"], days=7
        )
        people.append(Reviewer(email=email, token=token.secret, session=session))
    with stores.records_session() as s:
        ds_id = s.scalar(select(Dataset.id).where(Dataset.name == DATASET))
        subjects = list(
            s.scalars(select(CustomerRecord.subject_id).where(CustomerRecord.dataset_id == ds_id))
        )
    log(f"set-up done in {time.perf_counter() - t0:.1f} s")
    return World(
        settings=settings,
        stores=stores,
        keyring=keyring,
        rules=rules,
        passphrase=passphrase,
        reviewers=people,
        customers=customers,
        subjects=subjects,
    )


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The serve process and its workers (its children)."""
        out = [self.proc.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = _proc_stat(int(entry.name))
                if stat is not None and int(stat[1]) == self.proc.pid:
                    out.append(int(entry.name))
        return out


def start_server(world: World, work: Path, workers: int) -> Server:
    """``dealvault serve`` as a real process; the passphrase goes through a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEALVAULT_", "PYTEST_"))}
    env.update(
        DEALVAULT_HOME=str(world.settings.home),
        DEALVAULT_DATABASE_URL=str(world.settings.database_url),
        DEALVAULT_KEYSTORE_URL=str(world.settings.keystore_url),
        DEALVAULT_PUBLIC_URL=world.settings.public_url,
    )
    port = _free_port()
    read, write = os.pipe()
    os.write(write, (world.passphrase + "\n").encode())
    os.close(write)
    log_path = work / "serve.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dealvault.cli.main", "serve", "--port", str(port),
             "--insecure-http", "--passphrase-fd", str(read), "--workers", str(workers)],
            env=env, pass_fds=(read,), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    os.close(read)
    server = Server(proc=proc, port=port, log_path=log_path)
    deadline = time.monotonic() + 90
    while True:
        try:
            r = httpx.get(f"{server.base}/readyz", timeout=2)
            if r.status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the server did not come up:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)
    # both workers answer: wait until they are both there (the parent forks them at start)
    while len(server.pids()) < workers + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    log(f"server up on {server.base}: pids {server.pids()}")
    return server


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)  # our own child's session only
            server.proc.wait(timeout=10)


# --------------------------------------------------------------------------- CPU accounting


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from field 3 (state) on; None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def _cpu_of(pids: Sequence[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        stat = _proc_stat(pid)
        if stat is not None:
            out[pid] = (int(stat[11]) + int(stat[12])) / _TICK  # utime + stime
    return out


def _machine_busy() -> float:
    """CPU-seconds all cores spent busy since boot (``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / _TICK


@dataclass
class CpuMark:
    wall: float
    me: float
    server: dict[int, float]
    postgres: dict[int, float]
    busy: float


def cpu_mark(server: Server, dbs: Databases) -> CpuMark:
    return CpuMark(
        wall=time.perf_counter(),
        me=time.process_time(),
        server=_cpu_of(server.pids()),
        postgres=_cpu_of(sorted(dbs.backend_pids())),
        busy=_machine_busy(),
    )


def cpu_share(a: CpuMark, b: CpuMark) -> dict[str, Any]:
    """CPU-seconds per party between two marks, and each as a share of the machine's cores."""
    wall = b.wall - a.wall
    cores = len(os.sched_getaffinity(0))

    def spent(x: dict[int, float], y: dict[int, float]) -> float:
        return sum(y[p] - x.get(p, 0.0) for p in y)  # a backend born in between counts whole

    parts = {
        "load_generator": b.me - a.me,
        "server": spent(a.server, b.server),
        "postgres": spent(a.postgres, b.postgres),
    }
    busy = b.busy - a.busy
    parts["other"] = max(0.0, busy - sum(parts.values()))
    # each server process apart (parent first): shows whether the workers shared the load
    per_process = [round(b.server[p] - a.server.get(p, 0.0), 2) for p in sorted(b.server)]
    return {
        "server_processes_cpu_s": per_process,
        "wall_s": round(wall, 2),
        "cores": cores,
        "cpu_s": {k: round(v, 2) for k, v in parts.items()} | {"machine_busy": round(busy, 2)},
        "share_of_machine": {k: round(v / (wall * cores), 3) for k, v in parts.items() if wall > 0}
        | {"idle": round(max(0.0, 1 - busy / (wall * cores)), 3) if wall > 0 else None},
    }


# --------------------------------------------------------------------------- load


def _auth_headers(world: World, how: str) -> list[dict[str, str]]:
    if how == "session":
        return [{"Cookie": f"{COOKIE}={r.session}"} for r in world.reviewers]
    return [{"Authorization": f"Bearer {r.token}"} for r in world.reviewers]


def view_params(i: int, total: int) -> dict[str, Any]:
    """A masked page of 50 rows at the ``i``-th offset of a fixed spread over the dataset."""
    pages = max(1, total // PAGE)
    return {"purpose": PURPOSE, "level": "masked", "offset": (i * 37 % pages) * PAGE,
            "limit": PAGE}  # fmt: skip


def aggregate_params(i: int, total: int) -> dict[str, Any]:
    return {"purpose": PURPOSE, "level": "aggregate", "group_by": list(GROUPS[i % len(GROUPS)]),
            "measure": ["count"]}  # fmt: skip


@dataclass
class Phase:
    kind: str
    latencies: list[float]
    errors: Counter[str]
    seconds: float
    cpu: dict[str, Any]
    sent: int


def run_phase(
    *,
    kind: str,
    server: Server,
    dbs: Databases,
    headers: list[dict[str, str]],
    params: Callable[[int, int], dict[str, Any]],
    total: int,
    concurrency: int,
    warmup: float,
    duration: float,
    max_requests: int,
    profile_dir: Path | None = None,
) -> Phase:
    """A closed loop of ``concurrency`` clients for ``warmup`` + ``duration`` seconds; with
    ``profile_dir``, py-spy samples every worker during the window (a profiling run)."""
    url = f"/api/deals/{DEAL}/datasets/{DATASET}/view"
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    marks: dict[str, CpuMark] = {}
    spies: list[subprocess.Popen[bytes]] = []
    sent = 0

    def spy() -> None:
        assert profile_dir is not None
        exe = Path(sys.executable).parent / "py-spy"
        for pid in server.pids()[1:]:
            out = profile_dir / f"{kind}-worker-{pid}.txt"
            cmd = [str(exe), "record", "--pid", str(pid), "--duration", str(int(duration)),
                   "--rate", "100", "--format", "raw", "--output", str(out)]  # fmt: skip
            spies.append(
                subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    async def main() -> None:
        nonlocal sent
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=server.base, limits=limits, timeout=httpx.Timeout(60.0)
        ) as client:
            start = time.perf_counter()
            open_at, close_at = start + warmup, start + warmup + duration

            async def marker() -> None:
                await asyncio.sleep(max(0.0, open_at - time.perf_counter()))
                marks["a"] = cpu_mark(server, dbs)
                if profile_dir is not None:
                    spy()
                await asyncio.sleep(max(0.0, close_at - time.perf_counter()))
                marks["b"] = cpu_mark(server, dbs)

            async def user(u: int) -> None:
                nonlocal sent
                k = 0
                while time.perf_counter() < close_at and sent < max_requests:
                    n = u + k * concurrency  # this client's k-th request, global number n
                    k += 1
                    sent += 1
                    t0 = time.perf_counter()
                    try:
                        r = await client.get(
                            url, params=params(n, total), headers=headers[n % len(headers)]
                        )
                        status = str(r.status_code)
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    t1 = time.perf_counter()
                    if t0 >= open_at and t1 <= close_at:
                        if status == "200":
                            latencies.append(t1 - t0)
                        else:
                            errors[status] += 1

            await asyncio.gather(marker(), *(user(u) for u in range(concurrency)))

    try:
        asyncio.run(main())
    finally:
        for p in spies:
            p.wait(timeout=duration + 60)
    if "a" not in marks or "b" not in marks:
        raise RuntimeError(f"{kind}: the measuring window did not complete")
    cpu = cpu_share(marks["a"], marks["b"])
    return Phase(kind, latencies, errors, marks["b"].wall - marks["a"].wall, cpu, sent)


def phase_record(p: Phase) -> dict[str, Any]:
    return {
        "requests": len(p.latencies),
        "errors": dict(p.errors),
        "rps": round(len(p.latencies) / p.seconds, 1) if p.seconds else None,
        "latency_ms": summary_ms(p.latencies),
        "cpu": p.cpu,
        "cpu_ms_per_request": {
            k: round(v * 1000 / len(p.latencies), 1)
            for k, v in p.cpu["cpu_s"].items()
            if p.latencies and k in ("load_generator", "server", "postgres")
        },
    }


def check_answers(server: Server, headers: list[dict[str, str]], total: int) -> None:
    """Before measuring: a page is masked, 50 rows, tokens and no subject ids; an aggregate
    answers; a request without a credential is refused."""
    url = f"{server.base}/api/deals/{DEAL}/datasets/{DATASET}/view"
    r = httpx.get(url, params=view_params(1, total), headers=headers[0], timeout=60)
    if r.status_code != 200:
        raise RuntimeError(f"view answered {r.status_code}: {r.text[:500]}")
    page = r.json()
    if page["meta"]["level"] != "masked" or len(page["rows"]) != PAGE:
        raise RuntimeError(f"unexpected page: level {page['meta']['level']}, {len(page['rows'])}")
    if "token" not in page["columns"] or "subject_id" in page["columns"]:
        raise RuntimeError(f"unexpected columns of a masked page: {page['columns']}")
    a = httpx.get(url, params=aggregate_params(0, total), headers=headers[0], timeout=60)
    if a.status_code != 200 or a.json()["meta"]["level"] != "aggregate":
        raise RuntimeError(f"aggregate answered {a.status_code}: {a.text[:500]}")
    if httpx.get(url, params=view_params(1, total), timeout=60).status_code != 401:
        raise RuntimeError("a request without a credential was not refused")


#: stages of a request, by a frame in its stack (first match wins), for the py-spy summary
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("authentication", ("token_principal", "session_principal")),
    ("decisions: allowed_level per category", ("allowed_level",)),
    ("decisions: categories at the level asked for", ("_choose (dealvault/flows/disclosure.py",)),
    ("decision in disclose", ("decide (dealvault/access/decision.py",)),
    ("resolve person, deal, dataset", ("resolve (dealvault/flows/guard.py",)),
    ("decrypt (the page's customers, or the whole table)", ("disclose_table",)),
    ("canary customers", ("canaries_for", "add_canaries", "canary_keys")),
    ("aggregate, derive", ("aggregate (dealvault/deidentify", "add_derived")),
    ("masking, tokens", ("masked_view", "make_tokens")),
    ("grant row use", ("consume_rows",)),
    ("audit append and checkpoint", ("audit (dealvault/flows/guard.py",)),
    ("commit", ("Session.commit",)),
    ("page, response serialisation", ("to_dicts", "serialize_response", "write_json")),
)
#: a thread with one of these leaves is idle (py-spy's own idle test does not see it here)
IDLE_LEAVES = ("Condition.wait (", "EpollSelector.select (", "sleep (asyncio", "Server.main_loop")
DB_WAIT = "Connection.wait (psycopg"


def summarise_profile(paths: Sequence[Path]) -> dict[str, Any]:
    """Shares of the workers' busy thread samples per stage, and how much of each stage was
    waiting for PostgreSQL (py-spy's raw format: ``frame;frame;... count`` per line)."""
    busy: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            leaf = stack.rsplit(";", 1)[-1]
            if any(leaf.startswith(i) or i in leaf for i in IDLE_LEAVES):
                continue
            if "WorkerThread.run" not in stack:
                stage = "event loop: HTTP, routing, dependencies"
            else:
                stage = next(
                    (name for name, keys in STAGES if any(k in stack for k in keys)),
                    "other handler work",
                )
            busy[stage] += int(n)
            if leaf.startswith(DB_WAIT):
                waiting[stage] += int(n)
    total = sum(busy.values())
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "share": {k: round(v / total, 3) for k, v in busy.most_common()},
        "waiting_for_postgres": round(sum(waiting.values()) / total, 3),
        "waiting_share_of_stage": {
            k: round(waiting[k] / v, 2) for k, v in busy.most_common() if waiting[k]
        },
    }


# --------------------------------------------------------------------------- overhead


def _timed(fn: Callable[[], object], n: int, cpu: list[float] | None = None) -> list[float]:
    """Wall times of ``n`` calls; with ``cpu``, this process's CPU time of each call too."""
    out = []
    for _ in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.process_time() - c0)
    return out


def _fresh_healthz(port: int) -> None:
    """``GET /healthz`` on a new connection closed after the answer (one send each way)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass


def measure_overhead(world: World, server: Server, pairs: int) -> dict[str, Any]:
    """The same masked page in-process and over HTTP, interleaved; then the parts."""
    stores, keyring, rules = world.stores, world.keyring, world.rules
    me = world.reviewers[0]
    actor = signin.token_principal(stores, secret=me.token, client=CLIENT)
    url = f"/api/deals/{DEAL}/datasets/{DATASET}/view"
    statements = Counter[str]()

    def count(engine_name: str) -> Callable[..., None]:
        def on_execute(*_args: object) -> None:
            statements[engine_name] += 1

        return on_execute

    event.listen(stores.records_engine, "before_cursor_execute", count("records"))
    event.listen(stores.keystore_engine, "before_cursor_execute", count("keys"))
    per_view: list[int] = []
    inproc, inproc_cpu, over_http, diffs, serialise = [], [], [], [], []
    with httpx.Client(base_url=server.base, timeout=60) as client:
        headers = {"Authorization": f"Bearer {me.token}"}
        for i in range(pairs + 3):  # the first three warm both paths up
            p = view_params(i, world.customers)
            req = disclosure.DisclosureRequest(
                actor=actor, deal=DEAL, dataset=DATASET, level=Level.MASKED, purpose=PURPOSE,
                window=(p["offset"], PAGE),
            )  # fmt: skip
            before = sum(statements.values())
            c0, t0 = time.process_time(), time.perf_counter()
            out = disclosure.view(
                stores, keyring, request=req, level=Level.MASKED, settings=world.settings
            )
            t1, c1 = time.perf_counter(), time.process_time()
            rows = out.frame.to_dicts()  # the page (the flow released only it)
            _ = json.dumps({"meta": out.meta, "rows": rows}, default=str).encode()
            t2 = time.perf_counter()
            r = client.get(url, params=p, headers=headers)
            t3 = time.perf_counter()
            if r.status_code != 200:
                raise RuntimeError(f"view answered {r.status_code}: {r.text[:300]}")
            if i >= 3:
                inproc.append(t1 - t0)
                inproc_cpu.append(c1 - c0)
                per_view.append(sum(statements.values()) - before)
                serialise.append(t2 - t1)
                over_http.append(t3 - t2)
                diffs.append((t3 - t2) - (t1 - t0))
        health = _timed(lambda: client.get("/healthz"), 300)
    fresh = _timed(lambda: _fresh_healthz(server.port), 300)
    token_cpu: list[float] = []
    token_auth = _timed(
        lambda: signin.token_principal(stores, secret=me.token, client=CLIENT), 300, token_cpu
    )
    before = sum(statements.values())
    signin.token_principal(stores, secret=me.token, client=CLIENT)
    per_auth = sum(statements.values()) - before
    session_auth = _timed(
        lambda: signin.session_principal(stores, rules=rules, secret=me.session, client=CLIENT),
        300,
    )
    routine = EventIn(
        action="deal.show", actor=me.email, authn="token", session=actor.session_id,
        client=CLIENT, deal=DEAL, decision="allow",
    )  # fmt: skip
    viewed = EventIn(
        action="disclose", actor=me.email, authn="token", session=actor.session_id,
        client=CLIENT, deal=DEAL, purpose=PURPOSE, decision="allow",
        objects={"dataset": DATASET, "table": "customers", "level": "masked",
                 "recipient": BIDDER, "stage": "clean_team"},
        subjects=world.subjects[:PAGE], counts={"rows": PAGE},
    )  # fmt: skip  # a page's event names the page's customers only

    def append(event: EventIn) -> None:
        with stores.unit_of_work() as uow:
            audit(stores, uow, event)

    routine_cpu: list[float] = []
    view_cpu: list[float] = []
    audit_routine = _timed(lambda: append(routine), 200, routine_cpu)
    audit_view = _timed(lambda: append(viewed), 100, view_cpu)
    before = sum(statements.values())
    append(viewed)
    per_audit = sum(statements.values()) - before
    edge = summary_ms(diffs)
    if len(diffs) > 1:  # the paired difference is noisy: its mean and that mean's error
        edge["mean_se"] = round(statistics.stdev(diffs) * 1000 / len(diffs) ** 0.5, 2)
    composed = sum(quantile(x, 0.5) for x in (health, token_auth, serialise)) * 1000
    composed_fresh = sum(quantile(x, 0.5) for x in (fresh, token_auth, serialise)) * 1000
    auth_audit = quantile(token_auth, 0.5) * 1000 + quantile(audit_view, 0.5) * 1000
    auth_audit_p99 = quantile(token_auth, 0.99) * 1000 + quantile(audit_view, 0.99) * 1000
    return {
        "pairs": pairs,
        "view_in_process_ms": summary_ms(inproc),
        "view_in_process_cpu_ms": summary_ms(inproc_cpu),
        "view_over_http_ms": summary_ms(over_http),
        "http_minus_in_process_ms": edge,
        "page_serialisation_in_process_ms": summary_ms(serialise),
        "healthz_round_trip_ms": summary_ms(health),
        "healthz_new_connection_ms": summary_ms(fresh),
        "edge_composed_p50_ms": round(composed, 2),
        "edge_composed_new_connection_p50_ms": round(composed_fresh, 2),
        "token_principal_ms": summary_ms(token_auth),
        "token_principal_client_cpu_ms": summary_ms(token_cpu),
        "session_principal_ms": summary_ms(session_auth),
        "audit_append_routine_ms": summary_ms(audit_routine),
        "audit_append_routine_client_cpu_ms": summary_ms(routine_cpu),
        "audit_append_view_event_ms": summary_ms(audit_view),
        "audit_append_view_event_client_cpu_ms": summary_ms(view_cpu),
        "view_event_subjects": PAGE,
        "sql_statements": {
            "view_in_process_p50": quantile(per_view, 0.5),
            "view_in_process_max": max(per_view, default=0),
            "token_principal": per_auth,
            "audit_append_view_event": per_audit,
        },
        "auth_plus_audit_ms": {"p50": round(auth_audit, 2), "p99": round(auth_audit_p99, 2)},
    }


# --------------------------------------------------------------------------- main


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP end the run like Ctrl-C does, so the clean-up below still runs."""

    def raise_interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pg-url", default=os.environ.get("DEALVAULT_BENCH_POSTGRES_URL", DEFAULT_PG))
    ap.add_argument("--customers", type=int, default=3_000)
    ap.add_argument("--reviewers", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--auth", choices=("token", "session"), default="token")
    ap.add_argument("--max-requests", type=int, default=50_000)
    ap.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="a profiling run: py-spy samples each worker during each window",
    )
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    if args.py_spy is not None:
        if not (Path(sys.executable).parent / "py-spy").exists():
            ap.error("--py-spy needs py-spy in the venv (make bench installs it)")
        args.py_spy.mkdir(parents=True, exist_ok=True)
    if not (1 <= args.concurrency <= 64 and 0 < args.duration <= 300 and args.reviewers >= 1):
        ap.error("--concurrency 1..64, --duration up to 300 s, --reviewers at least 1")

    try:
        admin_engine = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one())
    except Exception as exc:
        log(f"PostgreSQL is not reachable at {args.pg_url} ({type(exc).__name__}); "
            "give --pg-url or DEALVAULT_BENCH_POSTGRES_URL")  # fmt: skip
        return 2
    dbs = Databases(admin=admin_engine, base_url=args.pg_url)
    work = scratch_dir("api")
    server: Server | None = None
    world: World | None = None
    try:
        with stopped_by_signals():
            world = build_world(work, dbs, customers=args.customers, reviewers=args.reviewers)
            server = start_server(world, work, args.workers)
            headers = _auth_headers(world, args.auth)
            check_answers(server, headers, world.customers)
            phases = {}
            for kind, params in (("view", view_params), ("aggregate", aggregate_params)):
                log(f"{kind}: {args.concurrency} clients, {args.warmup:g} s warm-up + "
                    f"{args.duration:g} s ...")  # fmt: skip
                p = run_phase(
                    kind=kind, server=server, dbs=dbs, headers=headers, params=params,
                    total=world.customers, concurrency=args.concurrency, warmup=args.warmup,
                    duration=args.duration, max_requests=args.max_requests,
                    profile_dir=args.py_spy,
                )  # fmt: skip
                phases[kind] = phase_record(p)
                if args.py_spy is not None:
                    files = sorted(args.py_spy.glob(f"{kind}-worker-*.txt"))
                    phases[kind]["profile"] = summarise_profile(files)
                log(f"{kind}: {phases[kind]['rps']} req/s, {phases[kind]['latency_ms']}")
            log(f"overhead: {args.pairs} pairs in-process / HTTP, one at a time ...")
            overhead = measure_overhead(world, server, args.pairs)
            log(f"overhead: {overhead['http_minus_in_process_ms']}")
    finally:
        if server is not None:
            stop_server(server)
        if world is not None:
            world.stores.dispose()
        if args.keep:
            log(f"kept {work} and databases {dbs.names}")
            dbs.admin.dispose()
        else:
            dbs.drop()
            remove_tree(work)
    view, agg = phases["view"], phases["aggregate"]
    meets = {
        "view_rps": bool(view["rps"] and view["rps"] >= TARGET["view_rps"]),
        "view_p99_ms": view["latency_ms"].get("p99", 1e9) <= TARGET["view_p99_ms"],
        "auth_plus_audit_ms": overhead["auth_plus_audit_ms"]["p50"] <= TARGET["auth_plus_audit_ms"],
        "edge_overhead_ms": overhead["edge_composed_p50_ms"] <= TARGET["edge_overhead_ms"],
        "no_errors": not view["errors"] and not agg["errors"],
    }
    emit(
        {
            "name": "api",
            "input": f"{args.customers:,} customers (+ orders), {args.reviewers} reviewers with "
            f"masked grants, {args.auth} auth; serve --workers {args.workers} on PostgreSQL "
            f"{version}, loopback HTTP",
            "customers": args.customers,
            "reviewers": args.reviewers,
            "workers": args.workers,
            "concurrency": args.concurrency,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "auth": args.auth,
            "profiled": args.py_spy is not None,
            "page_rows": PAGE,
            "view": view,
            "aggregate": agg,
            "overhead": overhead,
            "target": TARGET,
            "meets": meets,
            "meets_target": all(meets.values()),
            "postgres": version,
            **git_state(),
            "machine": machine(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    if args.strict and not all(meets.values()):
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
