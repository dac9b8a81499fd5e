"""Web pages benchmark: the server time of every page of the data room at the demo's size.

Prints ONE JSON line (``name: "web"``). What it does, in order:

1. **Set-up, in-process, not timed.** A fresh store in ``bench/out/web-*``: the embedded
   SQLite store, as the demo runs, or with ``--pg-url`` two fresh PostgreSQL databases
   (records, key store; dropped at the end, also on failure). Through the flows, as a real
   deal would: the store's operator registers the seller, a bidder, a law firm, an adviser
   (intermediary) and an audit firm and opens a deal with the four as parties; the steward
   imports ``--customers`` invented customers (the synth API, with their orders) and advances
   the deal to the clean-team stage. One person per role of the deal (``seller_steward``,
   ``bidder_business``, ``bidder_clean_team``, ``counsel``, ``intermediary``,
   ``security_officer``, ``auditor``, ``buyer_receiver``) is invited with
   ``flows.accounts.invite`` (the mail is caught in memory; the operator invites the steward,
   the steward everybody else), activates the account with a password and enrols a TOTP
   second factor: each ends with a signed-in session (its secret and CSRF token). The
   training administrator records everybody's confidentiality training; the steward registers
   the bidder's NDA (signed offline) and a clean-team agreement naming the clean-team member,
   who asks for ``masked`` access (identity, contact, preference; no row cap), approved by
   the steward and by counsel. Then the audit log is filled to ``--events`` events in all
   with the events such a deal leaves (people entering the deal, masked pages of 50
   customers naming their subjects, aggregate queries, inventory and list reads, a few
   denials), by those people with their real sessions, appended 10,000 per transaction
   through ``audit.service.record_many`` (the append the flows use: leaves, Merkle tree,
   signed checkpoints). On PostgreSQL the records database is then ``ANALYZE``d, as
   autovacuum would have done on a live store (this one is seconds old).
   ``flows.auditing.verify`` then checks the whole log (the run stops if it is not intact).
2. **The app in-process:** ``dealvault.api.app.create_app(settings, keyring=, stores=,
   mailer=)`` wrapped in a small ASGI middleware of this script (not of the product) that
   takes ``perf_counter`` when the request enters the app and when the app hands over the
   last chunk of the response body: that is the **server time**, the client's own work
   excluded. It is driven with ``starlette.testclient.TestClient`` on
   ``https://testserver`` from 127.0.0.1, one client per person carrying the person's
   session cookie (``__Host-dealvault``), its CSRF cookie and ``dealvault-lang``
   (``--lang``). The wall time of each ``client.get`` is recorded too, and the SQL
   statements each request ran (counted by SQLAlchemy on both engines).
3. **The pages:** ``PAGES`` below, (name, role, URL) each, one line per page. A page whose
   path no route of the app matches is reported as *missing* (other branches are still
   building some pages) and not timed; it fails the target only with ``--strict-missing``.
   Any other answer that is not 2xx or 3xx is an *error* (the run goes on; the target is
   missed). Redirects are not followed (a 3xx is timed as it is, and its ``Location`` kept).
   Every page gets ``--warmup`` requests, then ``--repeat`` rounds each request every page
   once, in turn, so that other work on the shared machine spreads over all pages alike.
4. **Baseline, same run, same way:** ``GET /healthz`` (the framework's floor) and the
   anonymous ``GET /sign-in`` page (the floor of a rendered page).

Target (issue 16, item 7): every page under 300 ms of server time at the demo's 10,000
customers and 100,000 audit events; checked here as p95 of server time < 300 ms for every
page that exists.

Options: ``--customers`` (10,000), ``--events`` (100,000 audit events in all),
``--warmup`` (3), ``--repeat`` (20), ``--lang en|zh`` (en), ``--pg-url URL`` (PostgreSQL
instead of SQLite), ``--profile DIR`` (after measuring, each page again ``--repeat`` times
under pyinstrument, one HTML and text profile per page in DIR; needs ``pip install
pyinstrument``; sync handlers are then run on the event loop's thread so the profiler sees
them), ``--keep`` (keep the scratch directory and databases), ``--strict`` (exit 3 if the
target is missed), ``--strict-missing`` (a missing page misses the target too).
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import secrets
import sys
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyotp
from common import emit, git_state, log, machine, remove_tree, scratch_dir
from pydantic import SecretStr
from sqlalchemy import create_engine, event, select, text
from starlette.routing import Match

import dealvault
from api import Databases, Inbox, quantile, stopped_by_signals, summary_ms
from dealvault.access.agreements import SignerIn
from dealvault.access.principal import Authn, local
from dealvault.api.app import create_app
from dealvault.api.deps import COOKIE, CSRF_COOKIE
from dealvault.audit.service import EventIn, record_many
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.flows import access_requests, accounts, admin, agreements, auditing, signin
from dealvault.flows.accounts import AccountRules
from dealvault.flows.context import AppStores
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.flows.setup import init_store
from dealvault.flows.store import OperatorIn, grant_role
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.writers import write_export
from dealvault.vault.models import CustomerRecord, Dataset
from dealvault.web.deps import LANG_COOKIE

if TYPE_CHECKING:
    from starlette.testclient import TestClient

DEAL, DATASET = "web-2026", "crm"
SELLER, BIDDER, LAW = "Bench Seller Co", "Bench Bidder A", "Bench Law LLP"
ADVISER, AUDIT_FIRM = "Bench Advisers", "Bench Audit LLP"
OPERATOR = "it@seller.example"
STEWARD = "steward@seller.example"
TRAINER = "trainer@seller.example"
PASSWORD = "violet kettle harbour 1987 drums"  # invented; strong enough for zxcvbn
CLIENT = "127.0.0.1"
PURPOSE = "clean team: spot checks of the customer base"
#: one person per role: (role, e-mail, name, organisation); the steward comes first
PEOPLE: tuple[tuple[str, str, str, str], ...] = (
    ("seller_steward", STEWARD, "Data Steward", SELLER),
    ("security_officer", "security@seller.example", "Security Officer", SELLER),
    ("bidder_business", "analyst@bidder-a.example", "Bidder Analyst", BIDDER),
    ("bidder_clean_team", "clean@bidder-a.example", "Clean Team Member", BIDDER),
    ("buyer_receiver", "receiver@bidder-a.example", "Data Receiver", BIDDER),
    ("counsel", "counsel@law.example", "Deal Counsel", LAW),
    ("intermediary", "banker@advisers.example", "Deal Banker", ADVISER),
    ("auditor", "auditor@audit.example", "Deal Auditor", AUDIT_FIRM),
)
#: the pages: (name, role of the person who opens it or None for anonymous, URL). In the
#: URL, {deal}, {dataset}, {late_page} (page 150 of records, or the last one for small
#: runs), {deep} (the explorer 1,000 pages of 50 back from the newest event), {seq} (a
#: masked page's event in the middle of the log) and {clean_team} (that person's e-mail,
#: URL-quoted) are filled in.
PAGES: tuple[tuple[str, str | None, str], ...] = (
    ("sign-in", None, "/sign-in"),
    ("deals", "bidder_business", "/deals"),
    ("overview (steward)", "seller_steward", "/deals/{deal}"),
    ("overview (business)", "bidder_business", "/deals/{deal}"),
    ("account", "bidder_clean_team", "/account"),
    ("inventory (steward)", "seller_steward", "/deals/{deal}/inventory?dataset={dataset}"),
    ("inventory (business)", "bidder_business", "/deals/{deal}/inventory?dataset={dataset}"),
    ("aggregates by province", "bidder_business",
     "/deals/{deal}/aggregates?dataset={dataset}&group_by=province"),
    ("aggregates, amount by month", "bidder_business",
     "/deals/{deal}/aggregates?dataset={dataset}&group_by=registered_at:month"
     "&measure=sum:total_amount"),
    ("records, masked, page 1", "bidder_clean_team",
     "/deals/{deal}/records?dataset={dataset}&level=masked&page=1"),
    ("records, masked, page 150", "bidder_clean_team",
     "/deals/{deal}/records?dataset={dataset}&level=masked&page={late_page}"),
    ("records, pseudonymized, page 1", "bidder_clean_team",
     "/deals/{deal}/records?dataset={dataset}&level=pseudonymized&page=1"),
    ("requests (steward)", "seller_steward", "/deals/{deal}/requests"),
    ("requests (counsel)", "counsel", "/deals/{deal}/requests"),
    ("agreements", "seller_steward", "/deals/{deal}/agreements"),
    ("people", "seller_steward", "/deals/{deal}/people"),
    ("timeline", "counsel", "/deals/{deal}/timeline"),
    ("audit log, newest", "auditor", "/deals/{deal}/audit"),
    ("audit log, 1,000 pages back", "auditor", "/deals/{deal}/audit?before={deep}"),
    ("audit log, by action", "auditor", "/deals/{deal}/audit?action=disclose"),
    ("audit log, by person", "auditor", "/deals/{deal}/audit?person={clean_team}"),
    ("audit event with proof", "auditor", "/deals/{deal}/audit/events/{seq}"),
    ("transfer (steward)", "seller_steward", "/deals/{deal}/transfer"),
    ("transfer (buyer)", "buyer_receiver", "/deals/{deal}/transfer"),
)  # fmt: skip
BASELINE: tuple[tuple[str, str | None, str], ...] = (
    ("healthz", None, "/healthz"),
    ("sign-in", None, "/sign-in"),
)
TARGET = {"p95_server_ms": 300.0}
BATCH = 10_000  # audit events per appending transaction
RECORDS_PAGE = 50  # rows of a records page (the data pages' PAGE_SIZE)
AUDIT_PAGE = 50  # events of an explorer page


# --------------------------------------------------------------------------- databases


# --------------------------------------------------------------------------- set-up


@dataclass
class Person:
    role: str
    email: str
    secret: str  # the signed-in session's secret (password + TOTP)
    csrf: str
    session_id: str


@dataclass
class World:
    settings: Settings
    stores: AppStores
    keyring: KeyRing
    inbox: Inbox
    people: dict[str, Person]
    customers: int
    subjects: list[str]
    setup_s: dict[str, float] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    sample_seq: int = 0


def _sign_up(stores: AppStores, keyring: KeyRing, rules: AccountRules, link: str) -> Any:
    """Activate an invited account (password), enrol TOTP: the fully signed-in session."""
    started = accounts.activate(stores, rules=rules, secret=link, password=PASSWORD, client=CLIENT)
    half, _ = signin.session_principal(stores, rules=rules, secret=started.secret, client=CLIENT)
    enrol = accounts.begin_totp(stores, keyring, actor=half)
    code = pyotp.TOTP(pyotp.parse_uri(enrol.uri).secret).now()
    return accounts.finish_totp(stores, keyring, actor=half, code=code).session


@contextmanager
def _step(world_times: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    world_times[name] = round(time.perf_counter() - t0, 2)
    log(f"  {name}: {world_times[name]:.1f} s")


def build_world(work: Path, dbs: Databases | None, *, customers: int) -> World:
    """The store, the deal at the clean-team stage, its customers, one signed-in person per
    role, the agreements, training and the clean team's masked grant."""
    times: dict[str, float] = {}
    passphrase = secrets.token_urlsafe(24)
    settings = Settings(
        home=work / "store",
        database_url=dbs.make("records") if dbs else None,
        keystore_url=dbs.make("keys") if dbs else None,
        passphrase=SecretStr(passphrase),
        argon2_memory_kib=1024,  # a light Argon2id for the master key file, unwrapped once
        argon2_time_cost=1,
        public_url="https://dataroom.example",
    )
    with _step(times, "store"):
        _, stores, provider = init_store(
            settings,
            passphrase=passphrase,
            operator=OperatorIn(email=OPERATOR, name="IT Operator", organization=SELLER),
        )
        keyring = KeyRing(provider)
        _ = stores.audit.signer  # the log's signing key, unwrapped before any transaction
        rules = AccountRules.from_settings(settings)
        op = local(OPERATOR)
        for org, kind in ((BIDDER, "bidder"), (LAW, "law_firm"), (ADVISER, "intermediary"),
                          (AUDIT_FIRM, "auditor")):  # fmt: skip
            admin.create_organization(stores, actor=op, name=org, kind=kind)
        admin.create_person(
            stores, actor=op, email=STEWARD, name="Data Steward", organization=SELLER
        )
        admin.create_person(stores, actor=op, email=TRAINER, name="Trainer", organization=SELLER)
        grant_role(stores, actor=op, email=TRAINER, role="training_admin")
        admin.create_deal(
            stores, actor=op, code=DEAL, name="Sale of the household cleaning business",
            kind="equity", seller=SELLER, bidders=[BIDDER], stewards=[STEWARD],
        )  # fmt: skip
        for org, role in ((LAW, "counsel"), (ADVISER, "intermediary"), (AUDIT_FIRM, "auditor")):
            admin.add_party(stores, actor=op, deal=DEAL, organization=org, role=role)
    today = date.today()
    trainer, steward = local(TRAINER), local(STEWARD)
    with _step(times, f"import {customers:,} customers and their orders"):
        export = write_export(
            out_dir=work / "export", rows=customers, seed=1, fmt="csv",
            tables=("customers", "orders"),
        )  # fmt: skip
        for table in ("customers", "orders"):
            import_source(
                stores, keyring,
                request=ImportRequest(
                    actor=steward, deal=DEAL, dataset=DATASET, spec=SourceSpec(path=export[table])
                ),
                rejects_dir=work / "rejects",
            )  # fmt: skip
        for _ in range(2):  # preparation -> due_diligence -> clean_team
            admin.advance_deal(
                stores, code=DEAL, to=None, winner=None, actor=steward, reason="bench set-up"
            )
    inbox = Inbox()
    people: dict[str, Person] = {}
    with _step(times, f"{len(PEOPLE)} people invited, trained, signed up"):
        for role, email, name, org in PEOPLE:
            accounts.invite(
                stores, actor=op if email == STEWARD else steward, rules=rules,
                mailer=inbox.send, deal=DEAL, email=email, role=role, name=name,
                organization=org,
            )  # fmt: skip
            agreements.add_training(
                stores, actor=trainer, email=email, course="confidentiality",
                completed=today - timedelta(days=30),
            )  # fmt: skip
        clean = next(e for r, e, _, _ in PEOPLE if r == "bidder_clean_team")
        business = next(e for r, e, _, _ in PEOPLE if r == "bidder_business")
        agreements.add_agreement(
            stores, actor=steward, deal=DEAL, organization=BIDDER, kind="nda",
            title="Non-disclosure agreement (invented)", effective=today - timedelta(days=40),
            signers=[SignerIn(business, today - timedelta(days=40))],
        )  # fmt: skip
        agreements.add_agreement(
            stores, actor=steward, deal=DEAL, organization=BIDDER, kind="clean_team",
            title="Clean team agreement (invented)", effective=today - timedelta(days=5),
            signers=[SignerIn(clean, today - timedelta(days=5))],
        )  # fmt: skip
        for role, email, _, _ in PEOPLE:
            s = _sign_up(stores, keyring, rules, inbox.links[email])
            people[role] = Person(role, email, s.secret, s.csrf, s.session_id)
    with _step(times, "masked grant for the clean team"):
        me, _ = signin.session_principal(
            stores, rules=rules, secret=people["bidder_clean_team"].secret, client=CLIENT
        )
        counsel, _ = signin.session_principal(
            stores, rules=rules, secret=people["counsel"].secret, client=CLIENT
        )
        req = access_requests.request_access(
            stores, actor=me, deal=DEAL, dataset=DATASET,
            categories=["identity", "contact", "preference"], level="masked",
            purpose=PURPOSE, duration_days=7,
        )  # fmt: skip
        access_requests.approve_request(stores, actor=steward, request_id=req.id)
        out = access_requests.approve_request(stores, actor=counsel, request_id=req.id)
        if out.status != "approved":
            raise RuntimeError(f"the clean team's request was not approved: {out.status}")
    with stores.records_session() as s:
        ds_id = s.scalar(select(Dataset.id).where(Dataset.name == DATASET))
        subjects = list(
            s.scalars(select(CustomerRecord.subject_id).where(CustomerRecord.dataset_id == ds_id))
        )
    return World(
        settings=settings, stores=stores, keyring=keyring, inbox=inbox, people=people,
        customers=customers, subjects=subjects, setup_s=times,
    )  # fmt: skip


# --------------------------------------------------------------------------- the audit log


def _log_size(stores: AppStores) -> int:
    with stores.records_session() as s:
        return int(s.scalar(text("SELECT count(*) FROM audit_events")) or 0)


def invented_events(world: World, n: int, rng: random.Random) -> Iterator[EventIn]:
    """``n`` events of the kinds this deal's people leave, in a plausible mix."""
    p = world.people

    def by(role: str, action: str, **kw: Any) -> EventIn:
        who = p[role]
        return EventIn(
            action=action, actor=who.email, authn=Authn.PASSWORD_TOTP.value,
            session=who.session_id, client=CLIENT, deal=DEAL,
            decision=kw.pop("decision", "allow"), **kw,
        )  # fmt: skip

    base = {"dataset": DATASET, "table": "customers", "recipient": BIDDER, "stage": "clean_team"}
    subjects, pages = world.subjects, max(1, len(world.subjects) // RECORDS_PAGE)
    everybody = list(p)

    def a_page() -> list[str]:  # the subjects of one page of 50 customers
        k = rng.randrange(pages) * RECORDS_PAGE
        return subjects[k : k + RECORDS_PAGE]

    kinds: list[tuple[float, Callable[[], EventIn]]] = [
        (0.34, lambda: by(rng.choice(everybody), "deal.enter",
                          counts={"awaiting": 0, "training_missing": 0})),
        (0.20, lambda: by("bidder_clean_team", "disclose", purpose=PURPOSE,
                          objects={**base, "level": "masked"}, counts={"rows": RECORDS_PAGE},
                          subjects=a_page())),
        (0.15, lambda: by("bidder_business", "disclose", purpose="valuation: regional mix",
                          objects={**base, "level": "aggregate"},
                          counts={"groups": 31, "suppressed": rng.randrange(4)})),
        (0.10, lambda: by(rng.choice(("seller_steward", "bidder_business")), "inventory",
                          objects={"dataset": DATASET})),
        (0.08, lambda: by(rng.choice(everybody), "deal.show")),
        (0.06, lambda: by(rng.choice(("seller_steward", "counsel", "bidder_clean_team")),
                          "access.list")),
        (0.04, lambda: by(rng.choice(("seller_steward", "counsel", "auditor")),
                          "agreement.list")),
        (0.02, lambda: by("auditor", "audit.log", counts={"events": AUDIT_PAGE})),
        (0.01, lambda: by("bidder_business", "disclose", purpose="valuation",
                          objects={**base, "level": "masked"}, decision="deny",
                          reasons=("level masked is above the ceiling aggregate for "
                                   "bidder_business at stage clean_team",))),
    ]  # fmt: skip
    weights = [w for w, _ in kinds]
    makers = [m for _, m in kinds]
    for _ in range(n):
        yield rng.choices(makers, weights)[0]()


def fill_audit_log(world: World, total: int) -> None:
    """Append invented events until the log holds ``total``; then verify the whole log."""
    stores = world.stores
    have = _log_size(stores)
    todo = max(0, total - have)
    log(f"audit log: {have:,} events from the set-up; appending {todo:,} in batches of "
        f"{BATCH:,} ...")  # fmt: skip
    rng = random.Random(16)
    events = invented_events(world, todo, rng)
    t0 = time.perf_counter()
    middle = have + todo // 2
    done = 0
    while done < todo:
        batch = [next(events) for _ in range(min(BATCH, todo - done))]
        with stores.unit_of_work() as uow:
            seqs = record_many(uow.records, stores.audit, batch)
        for seq, ev in zip(seqs, batch, strict=True):
            if ev.action == "disclose" and ev.subjects and seq >= middle and not world.sample_seq:
                world.sample_seq = seq
        done += len(batch)
    fill_s = time.perf_counter() - t0
    if stores.records_engine.dialect.name == "postgresql":
        # a live store's autovacuum refreshes the planner's statistics within a minute of such
        # a load; this store is seconds old (stale statistics plan the log's pages as a scan
        # of every event of the deal, about 80 ms each at 100,000 events)
        with stores.records_engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    if not world.sample_seq:  # nothing appended: the newest event of the set-up
        world.sample_seq = _log_size(stores) - 1
    t0 = time.perf_counter()
    out = auditing.verify(stores, actor=local(OPERATOR))
    verify_s = time.perf_counter() - t0
    world.audit = {
        "events_from_setup": have,
        "events_appended": todo,
        "append_s": round(fill_s, 2),
        "verify": {"ok": out.ok, "events": out.events, "covered_by_checkpoints": out.covered,
                   "checkpoints": len(out.checkpoints), "problems": out.problems[:5],
                   "seconds": round(verify_s, 2)},
    }  # fmt: skip
    log(f"audit log: appended in {fill_s:.1f} s; verify: ok={out.ok}, {out.events:,} events, "
        f"{out.covered:,} covered by {len(out.checkpoints)} checkpoints, "
        f"{verify_s:.1f} s")  # fmt: skip
    if not out.ok:
        raise RuntimeError(f"the audit log does not verify: {out.problems[:5]}")


# --------------------------------------------------------------------------- the app


class ServerTimer:
    """ASGI middleware (of this benchmark only): the server time of the last request, from
    the moment it enters the app to the moment the app hands over its last body chunk."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last: float | None = None

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()

        async def timed(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - t0
            await send(message)

        self.last = None
        await self.app(scope, receive, timed)


class StatementCounter:
    """SQL statements run on both engines (SQLAlchemy's ``before_cursor_execute``)."""

    def __init__(self, stores: AppStores) -> None:
        self.n = 0
        for engine in (stores.records_engine, stores.keystore_engine):
            event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.n += 1


def route_exists(app: Any, path: str) -> bool:
    """Whether a route of the app (not the 404 of an unknown path) answers GET ``path``."""
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


@dataclass
class Item:
    """One page to time, and what was measured."""

    name: str
    role: str | None
    template: str
    url: str
    present: bool = True
    server: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    sizes: list[int] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    location: str | None = None
    problem: str | None = None
    #: the server time of the page's very first request (nothing remembered yet: a released
    #: aggregate is computed from every decrypted customer then, and only then)
    first: float | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "role": self.role, "url": self.template}
        if not self.present:
            return {**out, "missing": True}
        status = self.statuses.most_common(1)[0][0] if self.statuses else None
        server = summary_ms(self.server)
        out.update(
            status=status,
            statuses={str(k): v for k, v in sorted(self.statuses.items())},
            bytes=int(quantile(self.sizes, 0.5)) if self.sizes else 0,
            server_ms={k: server[k] for k in ("n", "p50", "p95", "max", "mean") if k in server},
            first_server_ms=None if self.first is None else round(self.first * 1000, 2),
            wall_ms={k: v for k, v in summary_ms(self.wall).items() if k in ("p50", "p95", "max")},
            sql_statements=int(quantile(self.statements, 0.5)) if self.statements else 0,
        )
        if self.location:
            out["location"] = self.location
        if self.error:
            out["error"] = self.problem or f"status {status}"
        out["meets"] = not self.error and server.get("p95", 1e9) < TARGET["p95_server_ms"]
        return out

    @property
    def error(self) -> bool:
        return any(s >= 400 for s in self.statuses)


_TAGS = re.compile(r"<[^>]+>")


def _problem(body: str) -> str:
    """The visible text of an error page's main part, shortened (flows' reasons never carry a
    personal value)."""
    main = body.split("<main", 1)[-1]
    return " ".join(_TAGS.sub(" ", main).split())[:240]


class Driver:
    """The app and one client per person (and one anonymous), each with its own cookies."""

    def __init__(self, world: World, lang: str, stack: ExitStack) -> None:
        self.world = world
        settings = world.settings
        app = create_app(settings, keyring=world.keyring, stores=world.stores,
                         mailer=world.inbox.send)  # fmt: skip
        self.app = app
        self.timer = ServerTimer(app)
        self.sql = StatementCounter(world.stores)
        with warnings.catch_warnings():  # it will move to httpx2; driven with httpx here
            warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
            from starlette.testclient import TestClient
        self.clients: dict[str | None, TestClient] = {}
        for role in (None, *world.people):
            c = stack.enter_context(
                TestClient(self.timer, base_url="https://testserver", client=(CLIENT, 50000),
                           follow_redirects=False)
            )  # fmt: skip
            c.cookies.set(LANG_COOKIE, lang)
            if role is not None:
                c.cookies.set(COOKIE, world.people[role].secret)
                c.cookies.set(CSRF_COOKIE, world.people[role].csrf)
            self.clients[role] = c

    def request(self, item: Item, *, keep: bool) -> None:
        client = self.clients[item.role]
        before = self.sql.n
        t0 = time.perf_counter()
        r = client.get(item.url)
        wall = time.perf_counter() - t0
        server = self.timer.last
        if server is None:
            raise RuntimeError(f"{item.name}: the app sent no complete body")
        if r.status_code >= 400 and item.problem is None:
            item.problem = f"{r.status_code}: {_problem(r.text)}"
            log(f"  {item.name}: {item.problem}")
        if 300 <= r.status_code < 400:
            item.location = r.headers.get("location")
        if keep:
            item.server.append(server)
            item.wall.append(wall)
            item.statuses[r.status_code] += 1
            item.sizes.append(len(r.content))
            item.statements.append(self.sql.n - before)


def make_items(
    driver: Driver, world: World, pages: tuple[tuple[str, str | None, str], ...]
) -> list[Item]:
    total = _log_size(world.stores)
    last_page = max(1, -(-world.customers // RECORDS_PAGE))
    values = {
        "deal": DEAL,
        "dataset": DATASET,
        "late_page": str(min(150, last_page)),
        "deep": str(max(AUDIT_PAGE, total - 1000 * AUDIT_PAGE)),
        "seq": str(world.sample_seq),
        "clean_team": quote(world.people["bidder_clean_team"].email, safe=""),
    }
    items = []
    for name, role, template in pages:
        url = template.format(**values)
        item = Item(name=name, role=role, template=template, url=url)
        item.present = route_exists(driver.app, urlsplit(url).path)
        items.append(item)
    return items


def measure(driver: Driver, items: list[Item], *, warmup: int, repeat: int) -> float:
    """Warm every present page up, then ``repeat`` rounds over all of them; the seconds the
    rounds took."""
    present = [i for i in items if i.present]
    for item in present:
        for n in range(warmup):
            driver.request(item, keep=False)
            if n == 0:
                item.first = driver.timer.last
    t0 = time.perf_counter()
    for r in range(repeat):
        for item in present:
            driver.request(item, keep=True)
        if (r + 1) % 5 == 0 or r + 1 == repeat:
            log(f"  round {r + 1}/{repeat}")
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- profiling


@contextmanager
def inline_threadpool() -> Iterator[None]:
    """Run FastAPI's sync handlers and dependencies on the event loop's thread (so a
    profiler started there sees them); for one request at a time only."""
    import fastapi.dependencies.utils as deps_utils
    import fastapi.routing as routing

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    saved = (routing.run_in_threadpool, deps_utils.run_in_threadpool)
    routing.run_in_threadpool = inline  # type: ignore[assignment]
    deps_utils.run_in_threadpool = inline  # type: ignore[assignment]
    try:
        yield
    finally:
        routing.run_in_threadpool, deps_utils.run_in_threadpool = saved


def profile_pages(driver: Driver, items: list[Item], out_dir: Path, repeat: int) -> None:
    """Each present page ``repeat`` times under pyinstrument; HTML and text per page."""
    from pyinstrument import Profiler

    out_dir.mkdir(parents=True, exist_ok=True)
    inner = driver.timer.app

    class Profiled:
        def __init__(self) -> None:
            self.profiler: Any = None

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or self.profiler is None:
                await inner(scope, receive, send)
                return
            self.profiler.start()
            try:
                await inner(scope, receive, send)
            finally:
                self.profiler.stop()

    profiled = Profiled()
    driver.timer.app = profiled
    try:
        with inline_threadpool():
            for item in items:
                if not item.present:
                    continue
                profiled.profiler = Profiler(interval=0.0005, async_mode="disabled")
                for _ in range(repeat):
                    driver.request(item, keep=False)
                slug = re.sub(r"[^a-z0-9]+", "-", item.name.lower()).strip("-")
                (out_dir / f"{slug}.html").write_text(profiled.profiler.output_html())
                (out_dir / f"{slug}.txt").write_text(
                    profiled.profiler.output_text(unicode=True, show_all=False)
                )
                profiled.profiler = None
    finally:
        driver.timer.app = inner
    log(f"profiles written to {out_dir}")


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--lang", choices=("en", "zh"), default="en")
    ap.add_argument("--pg-url", default=None, help="PostgreSQL instead of the embedded SQLite")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--strict-missing", action="store_true")
    args = ap.parse_args()
    if args.customers < 1 or args.repeat < 1 or args.warmup < 0:
        ap.error("--customers and --repeat at least 1, --warmup at least 0")
    if args.profile is not None:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            ap.error("--profile needs pyinstrument (pip install pyinstrument)")

    dbs: Databases | None = None
    store_name = "sqlite"
    if args.pg_url:
        try:
            admin_engine = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin_engine.connect() as conn:
                store_name = "postgresql " + str(
                    conn.execute(text("SHOW server_version")).scalar_one()
                )
        except Exception as exc:
            log(f"PostgreSQL is not reachable at {args.pg_url} ({type(exc).__name__})")
            return 2
        dbs = Databases(admin=admin_engine, base_url=args.pg_url, bench="web")
    work = scratch_dir("web")
    world: World | None = None
    try:
        with stopped_by_signals(), ExitStack() as stack:
            log(f"set-up on {store_name}: {args.customers:,} customers, {args.events:,} audit "
                f"events, {len(PEOPLE)} people ...")  # fmt: skip
            t0 = time.perf_counter()
            world = build_world(work, dbs, customers=args.customers)
            fill_audit_log(world, args.events)
            setup_s = time.perf_counter() - t0
            log(f"set-up done in {setup_s:.1f} s")
            driver = Driver(world, args.lang, stack)
            items = make_items(driver, world, PAGES)
            base = make_items(driver, world, BASELINE)
            events_before = _log_size(world.stores)
            missing = [i.name for i in items if not i.present]
            if missing:
                log(f"missing (no route yet): {', '.join(missing)}")
            log(f"timing {sum(i.present for i in items)} pages + {len(base)} baseline: "
                f"{args.warmup} warm-up, {args.repeat} rounds ...")  # fmt: skip
            rounds_s = measure(driver, base + items, warmup=args.warmup, repeat=args.repeat)
            events_after = _log_size(world.stores)
            if args.profile is not None:
                profile_pages(driver, items, args.profile, args.repeat)
    finally:
        if world is not None:
            world.stores.dispose()
        if args.keep:
            log(f"kept {work}" + (f" and databases {dbs.names}" if dbs else ""))
            if dbs:
                dbs.admin.dispose()
        else:
            if dbs:
                dbs.drop()
            remove_tree(work)
    pages = [i.record() for i in items]
    for p in pages:
        if p.get("missing"):
            log(f"{p['name']:<30} missing")
        else:
            s = p["server_ms"]
            log(f"{p['name']:<30} {p['status']} first {p.get('first_server_ms')} "
                f"p50 {s.get('p50')} p95 {s.get('p95')} "
                f"max {s.get('max')} ms, {p['bytes']:,} B, {p['sql_statements']} SQL")  # fmt: skip
    timed = [p for p in pages if not p.get("missing")]
    errors = [p["name"] for p in timed if "error" in p]
    slow = [p["name"] for p in timed if "error" not in p and not p["meets"]]
    slowest = max(timed, key=lambda p: p["server_ms"].get("p95", 0), default=None)
    meets = {
        "p95_server_ms": not slow,
        "no_errors": not errors,
    }
    if args.strict_missing:
        meets["no_missing"] = not missing
    baseline = {i.name: i.record() for i in base}
    for b in baseline.values():
        b.pop("meets", None)
    emit(
        {
            "name": "web",
            "input": f"{args.customers:,} customers (+ orders), {events_before:,} audit events, "
            f"{len(PEOPLE)} signed-in people (one per role); the app in-process on {store_name}, "
            f"pages in {args.lang}",
            "rows": args.customers,
            "customers": args.customers,
            "audit_events": events_before,
            "audit_events_after": events_after,
            "store": store_name,
            "lang": args.lang,
            "warmup": args.warmup,
            "repeat": args.repeat,
            "unit": "ms of server time per page",
            "seconds": round(rounds_s, 2),
            "pages": pages,
            "present": len(timed),
            "missing": missing,
            "errors": errors,
            "slow": slow,
            "slowest": None if slowest is None else {
                "name": slowest["name"], "p95_server_ms": slowest["server_ms"].get("p95")},
            "baseline": baseline,
            "setup": {"seconds": round(setup_s, 1), "steps_s": world.setup_s if world else {},
                      "audit": world.audit if world else {}},
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "profiled": args.profile is not None,
            # where the measured code came from (a tree other than this checkout's is possible)
            "dealvault_src": str(Path(dealvault.__file__).resolve().parent),
            "target": TARGET,
            "meets": meets,
            "meets_target": all(meets.values()),
            **git_state(),
            "machine": machine(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )  # fmt: skip
    if args.strict and not all(meets.values()):
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
