"""Schemathesis against ``/openapi.json`` of the real ASGI app: every operation, with a few
generated requests each, three ways (no identity; the session cookie and CSRF header of an
invited bidder analyst; her ``read`` API token). No answer is ever a server error, every
answer is one the description documents (status, content type, headers, body), and none
shows a personal value of the imported customers.

The schema is loaded from the app (``schemathesis.openapi.from_asgi``) and each operation's
cases are drawn with ``APIOperation.as_strategy`` under a bounded, derandomized Hypothesis
run, so the store is set up once per test and the run is the same every time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import APIOperation, Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dealvault.api.deps import COOKIE
from dealvault.flows import agreements
from tests.api.conftest import ANALYST, Server, activate, leaked, personal_values
from tests.api.test_signin import invite
from tests.conftest import STEWARD, P

#: generated cases per operation, by identity (on top of the explicit cases of _explicit):
#: the token is the analyst's own, so past its scope check it meets what the session met
EXAMPLES = {"anonymous": 10, "token": 6, "session": 10}
#: the operations that answer without a sign-in (and take no identity); every other one
#: refuses an anonymous caller before it reads a parameter (401). Where an identity changes
#: nothing (a stranger at a gated operation, a signed-in caller at a public one), a few cases
#: show that.
PUBLIC = frozenset({
    "POST /api/auth/login",
    "POST /api/account/activate",
    "POST /api/account/reset-request",
    "POST /api/account/reset",
    "GET /healthz",
    "GET /readyz",
    # the canary gateway signs its reports instead of signing in (off here: 404)
    "POST /api/canary/hits",
})  # fmt: skip
FEW = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SETTINGS = hypothesis.settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    # the store is shared by the examples on purpose (set up once); generation is bounded
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)
#: the identities, in this order: the analyst's own sign-out (an operation like the others)
#: ends the session, so the session comes last
IDENTITIES = ("anonymous", "token", "session")
#: a page the analyst may see (aggregate, by a column that is not identifying)
SIZING = {"purpose": "sizing the base", "level": "aggregate", "group_by": ["gender"]}


@dataclass(frozen=True)
class Analyst:
    """The invited bidder analyst's ways in, an access request she filed (so that the
    request operations also meet a real one) and a click-through NDA of her organisation
    (so that the agreement operations do too)."""

    headers: dict[str, dict[str, str]]
    request_id: int
    agreement_id: int


def _analyst(server: Server) -> Analyst:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    filed = me.post(
        "/api/deals/clean-2026/requests",
        json={"dataset": "crm", "categories": ["contact"], "level": "masked",
              "purpose": "call the top customers", "duration_days": 5},
    )  # fmt: skip
    assert filed.status_code == 201, filed.text
    made = me.post("/api/account/tokens", json={"name": "fuzz", "scopes": ["read"], "days": 7})
    assert made.status_code == 201, made.text
    cookie = me.http.cookies.get(COOKIE)
    assert cookie
    document = server.settings.home / "nda.pdf"
    document.write_bytes(b"%PDF-1.4 an invented NDA to accept online")
    nda = agreements.add_agreement(
        server.stores, server.app.state.dealvault.keyring, actor=P(STEWARD),
        deal="clean-2026", organization="Bidder A", kind="nda", title="NDA",
        effective=date.today(), document=document, acceptance="click",
    )  # fmt: skip
    return Analyst(
        headers={
            "anonymous": {},
            "token": {"Authorization": f"Bearer {made.json()['secret']}"},
            "session": {"Cookie": f"{COOKIE}={cookie}", "X-CSRF-Token": me.csrf},
        },
        request_id=int(filed.json()["id"]),
        agreement_id=nda.id,
    )


def _known(op: APIOperation, analyst: Analyst) -> dict[str, Any]:
    """The real deal, dataset, access request and agreement (an audit event, a package
    number), for the operations that take them."""
    known = {"deal": "clean-2026", "dataset": "crm", "request_id": analyst.request_id,
             "seq": 1, "package_id": 1, "agreement_id": analyst.agreement_id}  # fmt: skip
    return {k: v for k, v in known.items() if "{" + k + "}" in op.path}


def _strategy(op: APIOperation, analyst: Analyst) -> st.SearchStrategy[Case]:
    """Generated cases, half of them on the real deal, dataset and request (a generated deal
    code is nearly always unknown: 404 and nothing else)."""
    path = _known(op, analyst)
    if not path:
        return op.as_strategy()
    return st.one_of(op.as_strategy(), op.as_strategy(path_parameters=path))


def _explicit(op: APIOperation, analyst: Analyst) -> list[Case]:
    """Cases run every time: a page and the files the analyst may have, and the levels she
    may not."""
    path = _known(op, analyst)
    if op.path.endswith("/view"):
        return [
            op.Case(path_parameters=path, query=SIZING),
            op.Case(path_parameters=path, query={**SIZING, "level": "masked", "group_by": []}),
            op.Case(path_parameters=path, query={"purpose": "all of it", "level": "full"}),
        ]
    if op.path.endswith("/datasets/{dataset}/download"):
        return [
            op.Case(path_parameters=path, query={**SIZING, "format": fmt})
            for fmt in ("csv", "xlsx", "parquet")
        ]
    return [op.Case(path_parameters=path)] if path and op.method.upper() == "GET" else []


def _runner(
    op: APIOperation, how: str, headers: dict[str, str], analyst: Analyst, statuses: dict[int, int]
) -> Callable[[], None]:
    needles = personal_values()
    gated = how == "anonymous" and op.label not in PUBLIC
    matters = (how == "anonymous") == (op.label in PUBLIC)

    @hypothesis.settings(SETTINGS, max_examples=EXAMPLES[how] if matters else FEW)
    @hypothesis.given(case=_strategy(op, analyst))
    def run(case: Case) -> None:
        response = case.call(headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if gated:
            assert response.status_code == 401, f"{op.label} answered a stranger"
        case.validate_response(response, checks=CHECKS, headers=headers)
        content_type = next(iter(response.headers.get("content-type", [])), "")
        shown = leaked(
            needles,
            content_type=content_type,
            body=response.content,
            headers=repr(response.headers),
        )
        assert not shown, f"{op.label} answered {response.status_code} with {shown}"

    for case in _explicit(op, analyst):
        run = hypothesis.example(case=case)(run)
    return run


def test_every_operation_conforms_and_shows_no_personal_value(server: Server) -> None:
    analyst = _analyst(server)
    schema = schemathesis.openapi.from_asgi("/openapi.json", server.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 28
    # signing out ends the session the other operations run in: last
    operations.sort(key=lambda op: op.path == "/api/auth/logout")
    for how in IDENTITIES:
        statuses: dict[int, int] = {}
        for op in operations:
            run = _runner(op, how, analyst.headers[how], analyst, statuses)
            try:
                run()
            except BaseException as exc:
                exc.add_note(f"identity: {how}")
                raise
        # the run got past the door (successes and refusals) and never failed
        assert statuses.get(200, 0) > 0 and not any(code >= 500 for code in statuses), how
        if how != "anonymous":
            assert statuses.get(404, 0) > 0 and statuses.get(200, 0) > 10, (how, statuses)


def test_what_the_fuzz_found_stays_fixed(server: Server) -> None:
    """The answers schemathesis found wrong: each is a documented refusal now, never a
    server error, and a malformed request is answered without its input."""
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    anon = server.client()
    # an id past the store's INTEGER overflowed in the driver (500)
    for url in ("/api/requests/1088655952229141315584", "/api/requests/0"):
        r = me.http.get(url)
        assert r.status_code == 422 and r.json()["error"] == "malformed", r.text
    huge = me.http.get(
        "/api/deals/clean-2026/datasets/crm/view",
        params={**SIZING, "offset": str(2**63)},
    )
    assert huge.status_code == 422
    # NUL in text reached PostgreSQL, which refuses it (500)
    for r in (
        me.http.get("/api/deals/clean%00-2026"),
        me.post("/api/account/tokens", json={"name": "a\u0000b", "scopes": ["read"]}),
        anon.post("/api/auth/login", json={"email": "a\u0000@x.example", "password": "p"}),
    ):
        assert r.status_code == 422 and "NUL" in r.json()["message"], r.text
    # FastAPI's own 422 echoed the body: a password back to the sender, and a lone
    # surrogate it could not encode (500)
    secret = "orchid lantern 4412 meadow"
    missing = anon.post("/api/auth/login", json={"password": secret})
    assert missing.status_code == 422 and secret not in missing.text
    assert missing.json() == {
        "error": "malformed",
        "message": "malformed request: body.email: Field required",
    }
    lone = anon.post(
        "/api/auth/login",
        content=b'{"email": "a\\ud800@x.example", "password": "p"}',
        headers={"Content-Type": "application/json"},
    )
    assert lone.status_code == 422 and lone.json()["error"] == "malformed"
    # an unknown path and a method a path does not take answer in the same shape
    assert anon.get("/api/nowhere").json()["error"] == "not_found"
    assert anon.put("/api/deals").status_code == 405
    assert anon.put("/api/deals").json()["error"] == "method_not_allowed"
    # the description declares every error with the one error model
    spec = anon.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if not path.startswith("/api/"):
                continue
            for code in ("401", "403", "404", "422", "429"):
                ref = operation["responses"][code]["content"]["application/json"]["schema"]
                assert ref == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
