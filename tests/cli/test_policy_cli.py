"""`dealvault policy ...` on a small Typer app with the admin and policy command groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from dealvault.access.policy import default_policy
from dealvault.cli import admin
from dealvault.cli import policy as policy_cli
from dealvault.cli.context import CliContext
from dealvault.cli.main import _Group
from dealvault.config import Settings
from tests.cli.test_cli import (  # noqa: F401 - env is a fixture
    BIDDER,
    OPERATOR,
    STEWARD,
    assert_refused,
    env,
    setup_deal,
)

STEWARD2 = "steward2@seller.example"


def make_app() -> typer.Typer:
    app = typer.Typer(cls=_Group, no_args_is_help=True, pretty_exceptions_enable=False)

    @app.callback()
    def main(
        ctx: typer.Context,
        actor: Annotated[str | None, typer.Option("--as", help="Acting person.")] = None,
    ) -> None:
        ctx.obj = CliContext(settings=Settings(), actor_flag=actor)

    admin.register(app)
    policy_cli.register(app)
    return app


APP = make_app()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # tables keep a row on one line


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(APP, list(args))
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}"
    return result.output


def jrun(*args: str) -> dict[str, object]:
    out = json.loads(run(*args, "--json"))
    assert isinstance(out, dict)
    return out


def setup_store() -> None:
    """Deal d1 (the steward's) and deal d2 (another steward's), opened by the operator."""
    setup_deal()
    op = ("--as", OPERATOR)
    run(*op, "person", "add", STEWARD2, "--name", "Steward 2", "--org", "Seller Co")
    run(*op, "deal", "create", "d2", "--name", "Other deal", "--seller", "Seller Co",
        "--bidder", "Bidder A", "--steward", STEWARD2)  # fmt: skip


def test_show_check_set_history(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup_store()
    assert "no stored policy versions" in run("policy", "history", "--deal", "d1")
    shown = run("policy", "show", "--cedar")
    assert "version 0 (shipped default)" in shown and "ceiling (role x stage)" in shown
    assert '@id("cap.sensitive")' in shown
    doc = jrun("policy", "show")
    assert doc["version"] == 0 and doc["cedar"] is None
    assert doc["matrix"]["bidder_clean_team"]["due_diligence"] == "anonymized"  # type: ignore[index]

    out = run("policy", "check", "--role", "bidder_clean_team", "--stage", "clean_team")
    assert "ceiling for bidder_clean_team at clean_team (any): masked" in out
    assert "[ceiling.bidder_clean_team.clean_team]" in out  # reasons are not eaten as markup
    check = jrun(
        "policy", "check", "--role", "bidder_clean_team", "--stage", "clean_team",
        "--category", "free_text", "--category", "contact",
    )  # fmt: skip
    assert check["ceiling"] == "pseudonymized" and check["categories"] == ["contact", "free_text"]

    tighter = tmp_path / "tighter.toml"
    tighter.write_text(
        default_policy().text.replace('clean_team = "masked" ', 'clean_team = "anonymized" '),
        encoding="utf-8",
    )
    assert "valid (sha256" in run("policy", "validate", str(tighter))
    v = jrun("policy", "set", str(tighter), "--deal", "d1", "--comment", "anonymized only")
    assert v["version"] == 1 and v["actor"] == STEWARD
    by_role = ("policy", "check", "--role", "bidder_clean_team", "--stage", "clean_team")
    check = jrun(*by_role, "--deal", "d1")
    assert (check["ceiling"], check["policy_version"]) == ("anonymized", 1)
    history = json.loads(run("policy", "history", "--deal", "d1", "--json"))
    assert [(h["version"], h["comment"]) for h in history] == [(1, "anonymized only")]
    assert "anonymized only" in run("policy", "history", "--deal", "d1")
    assert "version 1 (stored)" in run("policy", "show", "--deal", "d1")

    # the policy is d1's alone: the shipped default and deal d2 keep theirs
    assert jrun("policy", "show")["version"] == 0
    assert jrun(*by_role)["ceiling"] == "masked"
    check = jrun("--as", STEWARD2, *by_role, "--deal", "d2")
    assert (check["ceiling"], check["policy_version"]) == ("masked", 0)
    # and being steward of d1 gives no say over d2's policy
    r = CliRunner().invoke(
        APP, ["policy", "set", str(tighter), "--deal", "d2", "--comment", "lock them out"]
    )
    assert_refused(r, STEWARD, "is not a member of deal d2", "policy.set needs one of the roles")
    assert json.loads(run("--as", STEWARD2, "policy", "history", "--deal", "d2", "--json")) == []


@pytest.mark.parametrize(
    ("edit", "code", "message"),
    [
        (('due_diligence = "anonymized"', 'due_diligence = "anon"'), 2, "unknown level 'anon'"),
        (('clean_team = "masked" ', 'clean_team = "full" '), 2, "may only tighten"),
    ],
)
def test_bad_files_and_refusals_exit_non_zero(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    edit: tuple[str, str],
    code: int,
    message: str,
) -> None:
    setup_store()
    bad = tmp_path / "bad.toml"
    bad.write_text(default_policy().text.replace(*edit), encoding="utf-8")
    r = CliRunner().invoke(APP, ["policy", "validate", str(bad)])
    assert r.exit_code == code and message in r.output
    r = CliRunner().invoke(
        APP, ["policy", "set", str(bad), "--deal", "d1", "--comment", "x", "--json"]
    )
    assert r.exit_code == code and json.loads(r.output)["error"] in ("invalid", "policy_loosens")
    ok = tmp_path / "ok.toml"
    ok.write_text(default_policy().text, encoding="utf-8")
    r = CliRunner().invoke(
        APP, ["--as", BIDDER, "policy", "set", str(ok), "--deal", "d1", "--comment", "x"]
    )
    assert_refused(r, BIDDER, "policy.set needs one of the roles: seller_steward")
    r = CliRunner().invoke(APP, ["policy", "validate", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "no such file" in r.output
    r = CliRunner().invoke(APP, ["policy", "check", "--role", "ceo", "--stage", "closing"])
    assert r.exit_code == 2 and "unknown member role 'ceo'" in r.output
