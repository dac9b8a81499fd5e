"""`dealvault access request|approve|deny|revoke|list|show` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from dealvault.cli import access, admin, records
from dealvault.cli import main as cli_main
from tests.cli.test_cli import (  # noqa: F401 - env is a fixture
    OPERATOR,
    STEWARD,
    assert_refused,
    env,
    setup_deal,
)
from tests.vault.helpers import customer_row, write_csv

COUNSEL = "counsel@law.example"
CLEAN = "clean@bidder.example"
REQ = (
    "access", "request", "--deal", "d1", "--dataset", "crm", "--category", "contact",
    "--category", "identity", "--level", "masked", "--purpose", "spot check", "--days", "14",
)  # fmt: skip


def _app() -> typer.Typer:
    """The real app once 'access' is wired into it; until then the same root with our group."""
    if any(g.name == "access" for g in cli_main.app.registered_groups):
        return cli_main.app
    app = typer.Typer(cls=cli_main._Group, no_args_is_help=True, pretty_exceptions_enable=False)
    app.callback()(cli_main.main)
    admin.register(app)
    records.register(app)
    access.register(app)
    return app


APP = _app()


def run(*args: str, who: str = STEWARD, code: int = 0) -> str:
    result = CliRunner().invoke(APP, ["--as", who, *args])
    assert result.exit_code == code, (
        f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    )
    return result.output


def jrun(*args: str, who: str = STEWARD) -> Any:
    return json.loads(run(*args, "--json", who=who))


def setup(tmp_path: Path) -> None:
    """Deal d1 at due diligence (requests start there) with counsel and a clean team member
    (the operator registers organisations and people; the steward runs the deal)."""
    setup_deal()  # seller steward in deal d1 (run through the real app)
    run("org", "add", "Law LLP", "--kind", "law_firm", who=OPERATOR)
    run("deal", "add-party", "d1", "--org", "Law LLP", "--role", "counsel")
    for email, org, role in (
        (COUNSEL, "Law LLP", "counsel"),
        (CLEAN, "Bidder A", "bidder_clean_team"),
    ):
        run("person", "add", email, "--name", "X", "--org", org, who=OPERATOR)
        run("deal", "add-member", "d1", "--person", email, "--role", role)
    csv = write_csv(tmp_path / "crm.csv", [customer_row(i) for i in range(5)])
    run("import", str(csv), "--deal", "d1", "--dataset", "crm")
    run("deal", "advance", "d1", "--to", "due_diligence")


def test_request_approve_show_list_revoke(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup(tmp_path)
    req = jrun(*REQ, "--row-cap", "500", who=CLEAN)
    assert req["status"] == "pending" and req["still_needed"] == ["seller_steward", "counsel"]
    rid = str(req["id"])
    assert jrun("access", "approve", rid, "--comment", "ok")["still_needed"] == ["counsel"]
    done = jrun("access", "approve", rid, who=COUNSEL)
    assert done["status"] == "approved" and done["grant"]["row_cap"] == 500
    assert done["grant"]["categories"] == ["identity", "contact"]
    shown = run("access", "show", rid)
    assert "decisions" in shown and f"grant {done['grant']['id']}" in shown
    assert [r["id"] for r in jrun("access", "list", "--deal", "d1", "--status", "approved")] == [
        req["id"]
    ]
    assert jrun("access", "list", "--deal", "d1", "--mine") == []
    assert len(jrun("access", "list", "--deal", "d1", "--mine", who=CLEAN)) == 1
    assert "access requests" in run("access", "list", "--deal", "d1")
    gid = str(done["grant"]["id"])
    g = jrun("access", "revoke", gid, "--reason", "done early")
    assert g["state"] == "revoked" and g["revoke_reason"] == "done early"
    assert "revoked" in run("access", "show", rid)


def test_deny_and_failures_have_exit_codes(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup(tmp_path)
    # the seller's steward decides requests; it does not file them
    r = CliRunner().invoke(APP, ["--as", STEWARD, *REQ])
    assert_refused(r, STEWARD, "access.request needs one of the roles")
    rid = str(jrun(*REQ, "--category", "sensitive", who=COUNSEL)["id"])  # counsel asks
    assert jrun("access", "show", rid)["required_roles"][-1] == "security_officer"
    r = CliRunner().invoke(APP, ["--as", COUNSEL, "access", "approve", rid, "--json"])
    assert r.exit_code == 4
    err = json.loads(r.output.strip().splitlines()[-1])
    assert err["error"] == "denied" and "nobody may access.approve for themselves" in err["message"]
    assert_refused(r, COUNSEL, "nobody may access.approve for themselves")
    r = CliRunner().invoke(APP, ["--as", CLEAN, "access", "approve", rid])
    assert_refused(r, CLEAN, "access.approve needs one of the roles")
    denied = jrun("access", "deny", rid, "--reason", "too much")
    assert denied["status"] == "denied" and denied["approvals"][0]["decision"] == "deny"
    assert "already denied" in run("access", "approve", rid, code=5)
    assert "not found" in run("access", "show", "99", code=3)
    assert "unknown level" in run(*REQ[:-6], "--level", "raw", *REQ[-4:], who=CLEAN, code=2)
    assert "duration must be 1 to 365" in run(*REQ[:-1], "0", who=CLEAN, code=2)
    assert "--reason" in run("access", "deny", rid, code=2)  # required option
    # without --as the store's only operator acts: it reads no deal's requests
    r = CliRunner().invoke(
        APP, ["access", "list", "--deal", "d1", "--mine"], env={"DEALVAULT_ACTOR": None}
    )
    assert_refused(r, OPERATOR, "access.read needs one of the roles")
