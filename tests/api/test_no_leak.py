"""A property of the whole API: random sequences of calls (any path, any method, plausible
and hostile parameters and bodies, right, missing and wrong CSRF headers, ended, garbage and
half-signed-in credentials) by a stranger, and by a signed-in analyst of another bidder who
holds no grant, never answer with a server error and never show a personal value of an
imported customer, in a body or a header.

The store is set up once per test; Hypothesis draws the sequences (derandomized, bounded),
and each sequence starts with a fresh session for the analyst, so that a sign-out drawn in
one sequence does not decide the next."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from sqlalchemy import select, update

from dealvault.access.models import Person
from dealvault.access.principal import Authn, Principal
from dealvault.accounts import secrets as sec
from dealvault.accounts import service as acc
from dealvault.accounts.models import ApiToken, AuthSession
from dealvault.api.deps import COOKIE, CSRF_HEADER
from dealvault.db.base import utcnow
from dealvault.errors import Forbidden
from dealvault.flows import accounts, admin, own_account
from tests.api.conftest import (
    ANALYST,
    CUSTOMERS,
    OTHER,
    PASSWORD,
    Server,
    Signed,
    activate,
    leaked,
    personal_values,
)
from tests.conftest import OP, SELLER, STEWARD, P

#: sequences per caller, calls per sequence (at least 3)
SEQUENCES = 40
CALLS = 8
SETTINGS = hypothesis.settings(
    max_examples=SEQUENCES,
    deadline=None,
    derandomize=True,
    database=None,
    # the store is shared by the sequences on purpose (set up once)
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)
METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH")
#: paths no route has (404 in the error shape, never a stack trace)
UNKNOWN = ("/api", "/api/deals/{deal}/datasets", "/api/admin", "/api/deals/{deal}/customers",
           "/api/deals/{deal}/datasets/{dataset}", "/openapi.json/../api/deals")  # fmt: skip
#: what answers a caller without a (complete) sign-in: nothing else may ever say 2xx to one
OPEN = frozenset({"/api/auth/login", "/api/account/activate", "/api/account/reset-request",
                  "/api/account/reset", "/api/auth/logout", "/healthz", "/readyz",
                  "/openapi.json", "/docs"})  # fmt: skip
#: a deal bidder B is no party to (bidder A's exclusive round)
ELSEWHERE = "other-2026"


@dataclass(frozen=True)
class World:
    """What the callers aim at: the other bidder's request, session and token ids, the
    paths of every route, and the credentials a caller may (mis)use."""

    #: every (method, path) the app routes
    routes: tuple[tuple[str, str], ...]
    request_id: int
    analyst_session: str
    analyst_token: str
    analyst_csrf: str
    #: name -> (cookie secret or None, bearer secret or None, the cookie's CSRF token)
    credentials: dict[str, tuple[str | None, str | None, str]]


@dataclass
class Call:
    """One drawn call: who, how, where, with what."""

    who: str
    method: str
    path: str
    #: the values put into the path (unquoted)
    path_values: tuple[str, ...] = ()
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    csrf: str = "right"


def _hostile_text() -> st.SearchStrategy[str]:
    customer = st.sampled_from(CUSTOMERS).flatmap(
        lambda row: st.sampled_from([row["邮箱"], row["手机号"], row["身份证号"], row["姓名"]])
    )
    return st.one_of(
        st.sampled_from(["clean-2026", "crm", "full", "masked", "../..", "%2e%2e", "' OR 1=1 --",
                         "${jndi:x}", "<script>", "\u202e", "a\u0000b", "测试", " ", ""]),
        customer,
        st.text(max_size=12),
    )  # fmt: skip


def _emails() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([ANALYST, OTHER, STEWARD, "operator@seller.example", "x@invalid"]),
        st.sampled_from([row["邮箱"] for row in CUSTOMERS]),
        _hostile_text(),
    )


def _path_value(name: str, world: World) -> st.SearchStrategy[str]:
    if name == "deal":
        return st.one_of(st.sampled_from(["clean-2026", ELSEWHERE, "CLEAN-2026", "nope"]),
                         _hostile_text())  # fmt: skip
    if name == "dataset":
        return st.one_of(st.sampled_from(["crm", "customers", "orders"]), _hostile_text())
    if name == "request_id":
        ids = [world.request_id, world.request_id + 1, 0, -1, 2**31, 2**63, 10**30]
        return st.one_of(st.sampled_from([str(i) for i in ids]), _hostile_text())
    if name == "session_id":
        return st.one_of(st.just(world.analyst_session), _hostile_text())
    if name == "token_id":
        return st.one_of(st.just(world.analyst_token), _hostile_text())
    return _hostile_text()


def _query() -> st.SearchStrategy[dict[str, Any]]:
    values: dict[str, st.SearchStrategy[Any]] = {
        "purpose": st.one_of(st.sampled_from(["sizing", "call them all"]), _hostile_text()),
        "level": st.sampled_from(
            ["full", "masked", "pseudonymized", "aggregate", "metadata", "FULL", "", "secret"]
        ),
        "group_by": st.lists(
            st.sampled_from(
                [
                    "name",
                    "phone",
                    "email",
                    "id_number",
                    "gender",
                    "address",
                    "customer_key",
                    "姓名",
                    "手机号",
                ]
            ),
            max_size=3,
        ),
        "measure": st.lists(st.sampled_from(["count", "sum:amount", "list:phone"]), max_size=2),
        "format": st.sampled_from(["csv", "xlsx", "parquet", "json", "exe"]),
        "table": st.sampled_from(["customers", "orders", "accounts"]),
        "offset": st.sampled_from(["0", "-1", "19", str(10**12), "x"]),
        "limit": st.sampled_from(["1", "0", "500", str(10**6)]),
        "status": st.sampled_from(["pending", "approved", "any"]),
        "mine": st.sampled_from(["true", "false", "maybe"]),
        "action": st.sampled_from(["read", "disclose", "auth.login", "%"]),
        "since": st.sampled_from(["2020-01-01T00:00:00", "yesterday", "9999-12-31T23:59:59Z"]),
    }
    return st.fixed_dictionaries({}, optional=values)


def _body() -> st.SearchStrategy[Any]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "email": _emails(),
        "password": st.sampled_from([PASSWORD, "wrong " + PASSWORD, ""]),
        "secret": st.sampled_from(["dvi_garbage", "dvr_garbage", ""]),
        "code": st.sampled_from(["000000", "123456", "recovery-x"]),
        "name": _hostile_text(),
        "scopes": st.lists(
            st.sampled_from(["read", "request", "approve", "manage", "root"]), max_size=4
        ),
        "days": st.sampled_from([1, 30, 365, 0, -5, 10**9]),
        "dataset": st.sampled_from(["crm", "orders", ""]),
        "categories": st.lists(
            st.sampled_from(["identity", "contact", "sensitive", "x"]), max_size=3
        ),
        "level": st.sampled_from(["full", "masked", "aggregate"]),
        "purpose": _hostile_text(),
        "duration_days": st.sampled_from([1, 7, 365, 0]),
        "row_cap": st.sampled_from([None, 1, 10**12]),
        "comment": _hostile_text(),
        "role": st.sampled_from(["seller_steward", "bidder_business", "auditor", "counsel", ""]),
        "reason": _hostile_text(),
        "organization": st.sampled_from(["Bidder A", "Bidder B", "洁净日化有限公司"]),
    }
    return st.one_of(
        st.none(),
        st.fixed_dictionaries({}, optional=fields),
        st.sampled_from([[], "x", 7, {"email": None}]),
    )


def _calls(world: World, callers: tuple[str, ...]) -> st.SearchStrategy[list[Call]]:
    """A sequence of calls, each to a different route, now and then with another method or
    to a path no route has. The routes are an even sample seeded by a drawn number (drawing
    them one by one, Hypothesis favours the first of the list)."""
    paths = sorted({p for _, p in world.routes}) + list(UNKNOWN)

    @st.composite
    def call(draw: st.DrawFn, route: tuple[str, str]) -> Call:
        method, path = route
        if draw(st.integers(0, 4)) == 0:
            method, path = draw(st.sampled_from(METHODS)), draw(st.sampled_from(paths))
        values: list[str] = []
        for name in ("deal", "dataset", "request_id", "session_id", "token_id"):
            if "{" + name + "}" in path:
                values.append(draw(_path_value(name, world)))
                path = path.replace("{" + name + "}", quote(values[-1], safe=""))
        return Call(
            who=draw(st.sampled_from(callers)),
            method=method,
            path=path,
            path_values=tuple(values),
            query=draw(_query()),
            body=draw(_body()),
            csrf=draw(st.sampled_from(["right", "missing", "wrong", "other"])),
        )

    @st.composite
    def sequence(draw: st.DrawFn) -> list[Call]:
        seed = draw(st.integers(0, 2**32 - 1))
        routes = random.Random(seed).sample(world.routes, draw(st.integers(3, CALLS)))
        return [draw(call(route)) for route in routes]

    return sequence()


def _setup(server: Server) -> tuple[World, Signed]:
    """Bidder A's analyst (trained, a member) files a request and holds a token; bidder B's
    analyst is invited and signs in, with no training and no grant; a second deal has
    bidder A only."""
    ctx = server.app.state.dealvault
    admin.create_deal(server.stores, actor=OP, code=ELSEWHERE, name="Exclusive round",
                      kind="asset", seller=SELLER, bidders=["Bidder A"],
                      stewards=[STEWARD])  # fmt: skip
    for email in (ANALYST, OTHER):
        accounts.invite(server.stores, actor=P(STEWARD), rules=ctx.rules, mailer=ctx.mailer,
                        deal=server.world.deal, email=email, role="bidder_business")  # fmt: skip
    a = activate(server, ANALYST)
    filed = a.post("/api/deals/clean-2026/requests", json={
        "dataset": "crm", "categories": ["contact"], "level": "masked",
        "purpose": "call the top customers", "duration_days": 5})  # fmt: skip
    assert filed.status_code == 201, filed.text
    made = a.post("/api/account/tokens", json={"name": "a", "scopes": ["read"]})
    assert made.status_code == 201, made.text
    a_session = a.http.get("/api/account/sessions").json()[0]["id"]
    b = activate(server, OTHER)
    b_token = b.post("/api/account/tokens", json={"name": "b", "scopes": ["read", "request"]})
    assert b_token.status_code == 201, b_token.text
    b_old = b.post("/api/account/tokens", json={"name": "old", "scopes": ["read"]})
    half = server.client().post("/api/auth/login", json={"email": OTHER, "password": PASSWORD})
    assert half.status_code == 200 and half.json()["next"] == "totp", half.text
    ended = _mint_session(server, OTHER)
    past = utcnow() - timedelta(seconds=1)
    with server.stores.unit_of_work() as uow:  # an ended session and an expired token of B's
        ended_row = AuthSession.secret_digest == sec.digest(ended[0])
        old_row = ApiToken.id == b_old.json()["token"]["id"]
        uow.records.execute(update(AuthSession).where(ended_row).values(expires_at=past))
        uow.records.execute(update(ApiToken).where(old_row).values(expires_at=past))
    described = server.app.openapi()["paths"]
    routes = tuple(sorted((m.upper(), p) for p, ops in described.items() for m in ops))
    routes += (("GET", "/openapi.json"), ("GET", "/docs"))
    world = World(
        routes=routes,
        request_id=int(filed.json()["id"]),
        analyst_session=a_session,
        analyst_token=made.json()["token"]["id"],
        analyst_csrf=a.csrf,
        credentials={
            "nobody": (None, None, ""),
            "garbage cookie": ("dvs_" + "x" * 43, None, "csrf_" + "x" * 43),
            "garbage token": (None, "dvt_" + "x" * 43, ""),
            "empty bearer": (None, "", ""),
            "ended session": (ended[0], None, ended[1]),
            "expired token": (None, b_old.json()["secret"], ""),
            "half signed in": (half.cookies.get(COOKIE), None, half.json()["csrf"]),
            "token": (None, b_token.json()["secret"], ""),
        },
    )
    return world, a


def _mint_session(server: Server, email: str) -> tuple[str, str]:
    """A session past both factors (as the second-factor step leaves it), without spending
    a TOTP code: every sequence starts with its own."""
    ctx = server.app.state.dealvault
    with server.stores.unit_of_work() as uow:
        person = uow.records.scalar(select(Person).where(Person.email == email))
        assert person is not None
        secret, csrf, row = acc.open_session(
            uow.records, person=person, client="127.0.0.1", timeouts=ctx.rules.timeouts
        )
        row.factor = "totp"
    return secret, csrf


def _send(server: Server, world: World, call: Call, session: tuple[str, str]) -> httpx.Response:
    # "signed in": the sequence's own fresh session
    cookie, bearer, own = world.credentials.get(call.who, (session[0], None, session[1]))
    csrf = {"right": own, "wrong": "csrf_" + "y" * 43, "other": world.analyst_csrf}
    headers: dict[str, str] = {}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if call.csrf != "missing":
        headers[CSRF_HEADER] = csrf[call.csrf]
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    content = None if call.body is None else json.dumps(call.body, ensure_ascii=False)
    if content is not None:
        headers["Content-Type"] = "application/json"
    http = server.client()
    return http.request(call.method, call.path, params=call.query, content=content, headers=headers)


def _check(call: Call, response: httpx.Response, needles: frozenset[str]) -> None:
    where = f"{call.who}: {call.method} {call.path} {call.query} {call.body!r}"
    assert response.status_code < 500, f"{where} -> {response.status_code} {response.text}"
    sent = " ".join([*call.path_values, json.dumps(call.query, ensure_ascii=False),
                     json.dumps(call.body, ensure_ascii=False)])  # fmt: skip
    shown = leaked(
        needles,
        content_type=response.headers.get("content-type", ""),
        body=response.content,
        headers=str(list(response.headers.items())),
        sent=sent,
    )
    assert not shown, f"{where} -> {response.status_code} showed {shown}"
    # neither caller may read the data at any level (the stranger has no identity, the
    # analyst of bidder B no training), however the request is put
    if call.path.endswith(("/view", "/download")):
        assert response.status_code >= 400, f"{where} -> {response.status_code}"
    # a credential that does not hold (garbage, ended, expired, password only) opens nothing
    if call.who not in ("signed in", "token") and response.status_code < 300:
        assert call.path in OPEN, f"{where} -> {response.status_code} {response.text[:200]}"


#: a body every operation would take (each takes the fields it knows)
PLAUSIBLE = {"email": OTHER, "password": PASSWORD, "secret": "dvi_x", "code": "000000",
             "name": "n", "scopes": ["read"], "days": 7, "dataset": "crm",
             "categories": ["contact"], "level": "masked", "purpose": "p", "duration_days": 5,
             "reason": "r", "role": "bidder_business"}  # fmt: skip


def _sweep(world: World, who: str) -> list[Call]:
    """Every route once, as ``who``, with the right CSRF token and a plausible request on
    the real deal (run before the drawn sequences: a random draw may miss a route)."""
    known = {"deal": "clean-2026", "dataset": "crm", "request_id": str(world.request_id),
             "session_id": world.analyst_session, "token_id": world.analyst_token}  # fmt: skip
    calls = []
    for method, template in world.routes:
        path, values = template, []
        for name, value in known.items():
            if "{" + name + "}" in path:
                path, values = path.replace("{" + name + "}", value), [*values, value]
        query = {"purpose": "p", "level": "aggregate", "group_by": ["gender"]}
        body = PLAUSIBLE if method in ("POST", "PUT", "PATCH") else None
        calls.append(Call(who, method, path, tuple(values), query, body, "right"))
    return calls


def _run(
    server: Server,
    world: World,
    callers: tuple[str, ...],
    email: str | None,
    sweeps: tuple[str, ...] = (),
) -> Counter[tuple[str, int]]:
    """Run the sequences (first a sweep of every route for each of ``sweeps``); how often
    each caller got each status."""
    needles = personal_values()
    seen: Counter[tuple[str, int]] = Counter()

    @SETTINGS
    @hypothesis.given(calls=_calls(world, callers))
    def sequence(calls: list[Call]) -> None:
        session = _mint_session(server, email) if email else ("", "")
        for call in calls:
            response = _send(server, world, call, session)
            seen[call.who, response.status_code] += 1
            _check(call, response, needles)

    for who in sweeps:
        sequence = hypothesis.example(calls=_sweep(world, who))(sequence)
    sequence()
    return seen


def test_strangers_and_a_bidder_without_a_grant_see_no_customer(server: Server) -> None:
    world, a = _setup(server)
    broken = tuple(k for k in world.credentials if k != "token")
    # (a) no identity, or one that does not hold: garbage, ended, expired, half signed in
    strangers = _run(server, world, broken, None, sweeps=("half signed in", "nobody"))
    assert sum(n for (_, status), n in strangers.items() if status == 401) > SEQUENCES
    # (b) bidder B's analyst, signed in (a fresh session per sequence) or with her token,
    # now and then with a broken credential
    callers = ("signed in",) * 6 + ("token",) * 2 + broken
    bidder = _run(server, world, callers, OTHER, sweeps=("signed in", "token"))
    statuses = {status for (who, status) in bidder if who == "signed in"}
    assert {200, 403, 404, 422} <= statuses, bidder
    # and nothing they sent ended bidder A's session or token
    assert a.http.get("/api/account/sessions").status_code == 200
    mine = a.http.get("/api/account/tokens").json()
    assert [t["revoked"] for t in mine if t["id"] == world.analyst_token] == [False]


def test_a_password_alone_makes_no_token_and_tells_nothing(server: Server) -> None:
    """A session with the password only made an API token (then read with it: the second
    factor bypassed) and told an existing deal (403) from an unknown one (404)."""
    ctx = server.app.state.dealvault
    accounts.invite(server.stores, actor=P(STEWARD), rules=ctx.rules, mailer=ctx.mailer,
                    deal=server.world.deal, email=OTHER, role="bidder_business")  # fmt: skip
    activate(server, OTHER)
    http = server.client()
    half = http.post("/api/auth/login", json={"email": OTHER, "password": PASSWORD})
    assert half.status_code == 200 and half.json()["next"] == "totp"
    csrf = {CSRF_HEADER: half.json()["csrf"]}
    made = http.post("/api/account/tokens", json={"name": "x", "scopes": ["read"]}, headers=csrf)
    assert made.status_code == 403 and "not complete" in made.json()["message"], made.text
    answers = {http.get(f"/api/deals/{code}/audit").status_code for code in ("clean-2026", "x")}
    assert answers == {403}
    assert http.get("/api/account/sessions").status_code == 403
    # the flow refuses too, whatever edge calls it
    who = Principal(email=OTHER, authn=Authn.PASSWORD, session_id=half.json()["session_id"])
    with pytest.raises(Forbidden, match="complete sign-in"):
        own_account.create_token(server.stores, actor=who, rules=ctx.rules, name="x",
                            scopes=["read"], days=1)  # fmt: skip
