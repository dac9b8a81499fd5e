"""Shared fixtures: settings, both databases (SQLite always, PostgreSQL when configured), keys."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dealvault.access.models import Person
from dealvault.access.principal import Authn, Principal, local
from dealvault.audit.note import Signer, generate_signer
from dealvault.audit.service import AuditConfig
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import EnvKeyProvider
from dealvault.flows import admin, agreements
from dealvault.flows.context import AppStores
from dealvault.flows.guard import person_of
from dealvault.flows.store import OperatorIn, bootstrap, grant_role
from tests.dbpool import PostgresPool, SqliteTemplates

# Commands started as subprocesses run cold (in their own process), whatever the caller's
# shell says: the warm command server is tested in tests/cli/test_warm.py, explicitly.
os.environ.pop("DEALVAULT_WARM", None)
PG_URL = os.environ.get("DEALVAULT_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("DEALVAULT_REQUIRE_POSTGRES") == "1"
_pg_state: dict[str, str | None] = {}


@pytest.fixture(autouse=True, scope="session")
def _device_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The remote CLI's device file of the tests: never the user's own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEALVAULT_DEVICE_FILE", str(tmp_path_factory.mktemp("cli") / "device"))
        yield


def _postgres_problem() -> str | None:
    """None when PostgreSQL is usable, else why not (cached)."""
    if "problem" not in _pg_state:
        if not PG_URL:
            _pg_state["problem"] = "DEALVAULT_TEST_POSTGRES_URL is not set"
        else:
            try:
                eng = create_engine(PG_URL)
                with eng.connect() as conn:
                    conn.execute(text("SELECT 1"))
                eng.dispose()
                _pg_state["problem"] = None
            except Exception as exc:
                _pg_state["problem"] = f"PostgreSQL not reachable ({type(exc).__name__})"
    return _pg_state["problem"]


def need_postgres() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"DEALVAULT_REQUIRE_POSTGRES=1 but {problem}")
    pytest.skip(f"PostgreSQL cases skipped: {problem}")


@pytest.fixture
def pg_database() -> Iterator[callable]:  # type: ignore[valid-type]
    """Factory making fresh PostgreSQL databases, dropped after the test."""
    need_postgres()
    assert PG_URL is not None
    admin_engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = "dv_test_" + secrets.token_hex(6)
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin_engine.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def _sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplates:
    return SqliteTemplates(tmp_path_factory.mktemp("store-templates"))


@pytest.fixture(scope="session")
def _pg_pool() -> Iterator[PostgresPool]:
    need_postgres()
    assert PG_URL is not None
    pool = PostgresPool(PG_URL)
    yield pool
    pool.close()


@pytest.fixture
def store_urls(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, str]]:
    """Migrated, empty record and key stores (made once per test process and reused)."""
    if backend == "sqlite":
        tpl: SqliteTemplates = request.getfixturevalue("_sqlite_templates")
        yield (
            tpl.copy("records", tmp_path / "vault.sqlite"),
            tpl.copy("keystore", tmp_path / "keystore.sqlite"),
        )
        return
    need_postgres()
    pool: PostgresPool = request.getfixturevalue("_pg_pool")
    names = (pool.take("records"), pool.take("keystore"))
    yield pool.url(names[0]), pool.url(names[1])
    pool.give_back("records", names[0])
    pool.give_back("keystore", names[1])


@pytest.fixture(scope="session")
def audit_config() -> AuditConfig:
    """A signing audit log with checkpoints every 50 events (small, so tests cross it)."""
    skey, _ = generate_signer("dealvault.invalid/test-log")
    signer = Signer.from_key(skey)
    return AuditConfig(origin=signer.name, signer=signer, checkpoint_every=50)


@pytest.fixture
def stores(store_urls: tuple[str, str], audit_config: AuditConfig) -> Iterator[AppStores]:
    s = AppStores.connect(records_url=store_urls[0], keystore_url=store_urls[1], audit=audit_config)
    yield s
    s.dispose()


@pytest.fixture
def master_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def keyring(master_key: bytes) -> KeyRing:
    return KeyRing(EnvKeyProvider.from_text(kek_id="test", text=master_key.hex()))


def P(email: str) -> Principal:
    """A person acting at the local CLI (flows take a typed principal, never an e-mail)."""
    return local(email)


def acting_person(session: Session, email: str) -> Person:
    """``email``'s person as a flow loads the acting person: bound to a local principal, so
    that ``decide`` sees an authenticated identity."""
    return person_of(session, local(email))


def asserted(email: str) -> Principal:
    """A person of another organisation naming themselves at the local CLI."""
    return Principal(email=email, authn=Authn.ASSERTED)


@dataclass(frozen=True)
class World:
    deal: str
    steward: str
    bidder_person: str
    operator: str = "operator@seller.example"
    trainer: str = "trainer@seller.example"


SELLER = "洁净日化有限公司"
OPERATOR = "operator@seller.example"
TRAINER = "trainer@seller.example"
STEWARD = "steward@seller.example"
BIDDER_PERSON = "analyst@bidder-a.example"
OP = local(OPERATOR)


def start_store(stores: AppStores, *, trial: bool = True) -> Principal:
    """The store's first operator (of the seller) and a training administrator."""
    op = bootstrap(
        stores,
        operator=OperatorIn(email=OPERATOR, name="Operator", organization=SELLER),
        trial=trial,
    )
    admin.create_person(stores, actor=op, email=TRAINER, name="Trainer", organization=SELLER)
    grant_role(stores, actor=op, email=TRAINER, role="training_admin")
    return op


def train(stores: AppStores, email: str, *, days_ago: int = 30) -> None:
    """Valid confidentiality training for ``email``, recorded by the training administrator."""
    agreements.add_training(
        stores,
        actor=local(TRAINER),
        email=email,
        course="confidentiality",
        completed=date.today() - timedelta(days=days_ago),
    )


@pytest.fixture
def world(stores: AppStores) -> World:
    """A seller, two bidders, a steward and a bidder analyst in deal 'clean-2026'."""
    op = start_store(stores)
    admin.create_organization(stores, actor=op, name="Bidder A", kind="bidder")
    admin.create_organization(stores, actor=op, name="Bidder B", kind="bidder")
    admin.create_person(stores, actor=op, email=STEWARD, name="Steward", organization=SELLER)
    admin.create_person(
        stores, actor=op, email=BIDDER_PERSON, name="Analyst", organization="Bidder A"
    )
    admin.create_deal(
        stores,
        actor=op,
        code="clean-2026",
        name="Sale of the cleaning business",
        kind="equity",
        seller=SELLER,
        bidders=["Bidder A", "Bidder B"],
        stewards=[STEWARD],
    )
    admin.add_member(
        stores, actor=op, deal="clean-2026", email=BIDDER_PERSON, role="bidder_business"
    )
    # reads above metadata need valid confidentiality training (the analyst has none yet)
    train(stores, STEWARD)
    return World(deal="clean-2026", steward=STEWARD, bidder_person=BIDDER_PERSON)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line: how many tests were skipped, why, and how to run them all."""
    skipped = terminalreporter.stats.get("skipped", [])
    why: dict[str, int] = {}
    for rep in skipped:
        longrepr = getattr(rep, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        why[reason] = why.get(reason, 0) + 1
    if not why:
        terminalreporter.write_line("skipped: none (PostgreSQL cases included)")
        return
    reasons = "; ".join(f"{n} because {r}" for r, n in sorted(why.items(), key=lambda x: -x[1]))
    hint = ""
    if any("PostgreSQL" in r for r in why):
        hint = (
            " To run them all: start PostgreSQL on 127.0.0.1:5432 and run "
            "DEALVAULT_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres "
            "DEALVAULT_REQUIRE_POSTGRES=1 make test"
        )
    terminalreporter.write_line(f"skipped: {len(skipped)} tests ({reasons}).{hint}")


#: tests that run longest (`make test` prints the slowest): handed to the workers first, so
#: that no long test starts last and keeps one core busy while the other waits
SLOW_FIRST = (
    "tests/cli/test_readme_tour.py",
    "tests/cli/test_transfer_cli.py::test_plan_build_verify_receive",
    "tests/bench/test_web_bench.py",
    "tests/api/test_concurrency.py",
    "tests/web/test_browser_roles.py",
    "tests/api/test_schema_fuzz.py",
    "tests/cli/test_warm.py",
    "tests/vault/test_crash.py",
)


#: test folders whose PostgreSQL cases are thinned: the web pages and the API's handlers call
#: flows that their own packages test on both backends, so each module's first test runs on
#: PostgreSQL too (a query only an edge makes still meets PostgreSQL), and so does every test
#: about PostgreSQL itself (its name says so); the others run on SQLite only
PG_THINNED = ("tests/web/", "tests/api/")


def _thin_postgres(items: list[pytest.Item], config: pytest.Config) -> list[pytest.Item]:
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    seen: set[str] = set()
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("backend") == "postgres"
        module = item.nodeid.split("::")[0]
        about_pg = "postgres" in item.name.split("[")[0]
        if on_pg and module.startswith(PG_THINNED) and module in seen and not about_pg:
            dropped.append(item)
            continue
        if on_pg:
            seen.add(module)
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    return kept


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL cases thinned where :data:`PG_THINNED` says; then the known-slow tests
    first, longest first; the order of the rest is kept."""
    items[:] = _thin_postgres(items, config)

    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)),
            len(SLOW_FIRST),
        )

    items.sort(key=rank)
