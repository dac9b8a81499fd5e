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
from tests.cli.test_cli import STEWARD, env  # noqa: F401 - env is a fixture


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
    run("init")
    run("org", "add", "Seller Co", "--kind", "seller")
    run("org", "add", "Bidder A", "--kind", "bidder")
    run("person", "add", STEWARD, "--name", "Steward", "--org", "Seller Co")
    run("person", "add", "b@bidder.example", "--name", "B", "--org", "Bidder A")
    run("deal", "create", "d1", "--name", "Deal", "--seller", "Seller Co", "--bidder", "Bidder A")
    run("deal", "add-member", "d1", "--person", STEWARD, "--role", "seller_steward")


def test_show_check_set_history(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup_store()
    assert "no stored policy versions" in run("policy", "history")
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
    v = jrun("policy", "set", str(tighter), "--comment", "anonymized only")
    assert v["version"] == 1 and v["actor"] == STEWARD
    check = jrun("policy", "check", "--role", "bidder_clean_team", "--stage", "clean_team")
    assert (check["ceiling"], check["policy_version"]) == ("anonymized", 1)
    history = json.loads(run("policy", "history", "--json"))
    assert [(h["version"], h["comment"]) for h in history] == [(1, "anonymized only")]
    assert "anonymized only" in run("policy", "history")
    assert "version 1 (stored)" in run("policy", "show")


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
    r = CliRunner().invoke(APP, ["policy", "set", str(bad), "--comment", "x", "--json"])
    assert r.exit_code == code and json.loads(r.output)["error"] in ("invalid", "policy_loosens")
    ok = tmp_path / "ok.toml"
    ok.write_text(default_policy().text, encoding="utf-8")
    r = CliRunner().invoke(
        APP, ["--as", "b@bidder.example", "policy", "set", str(ok), "--comment", "x"]
    )
    assert r.exit_code == 4 and "only a seller steward" in r.output
    r = CliRunner().invoke(APP, ["policy", "validate", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "no such file" in r.output
    r = CliRunner().invoke(APP, ["policy", "check", "--role", "ceo", "--stage", "closing"])
    assert r.exit_code == 2 and "unknown member role 'ceo'" in r.output
