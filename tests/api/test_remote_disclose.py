"""``dealvault disclose`` through the server when signed in: the server decides, records and
writes the file; options only the local store can honour are refused, not ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dealvault.cli.context import CliContext
from dealvault.cli.main import app
from tests.api.conftest import ANALYST, Server, activate, remote_of
from tests.api.test_signin import events, invite

AGG = ["disclose", "--level", "aggregate", "--deal", "clean-2026", "--dataset", "crm",
       "--purpose", "sizing the base", "--group-by", "gender"]  # fmt: skip


def test_disclose_goes_through_the_server(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    invite(server, ANALYST)
    me = activate(server, ANALYST)
    monkeypatch.setattr(CliContext, "remote", lambda self: remote_of(server, me))
    out = tmp_path / "agg.csv"
    r = CliRunner().invoke(app, [*AGG, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text("utf-8").startswith("# dealvault-disclosure: ")
    assert (out.stat().st_mode & 0o777) == 0o600 and "13900000001" not in out.read_text("utf-8")
    r = CliRunner().invoke(app, AGG)
    assert r.exit_code == 0 and "aggregate disclosure of clean-2026/crm" in r.output, r.output
    reads = [e for e in events(server, "disclose") if e["actor"] == ANALYST]
    assert reads and all(e["authn"] == "password+totp" for e in reads)
    # above the bidder's ceiling: refused by the server, nothing written
    masked = tmp_path / "masked.csv"
    r = CliRunner().invoke(app, [*AGG[:2], "masked", *AGG[3:], "--out", str(masked)])
    assert r.exit_code == 4 and not masked.exists()
    # what only the local store does is refused, not silently dropped
    r = CliRunner().invoke(app, [*AGG, "--k-min", "5"])
    assert r.exit_code != 0 and "not available through the server" in r.output
    r = CliRunner().invoke(app, [*AGG, "--recipient", "Bidder B"])
    assert r.exit_code != 0 and "--recipient" in r.output
    # a use restricted per customer goes to the server, which refuses a dataset that carries
    # no marketing consents (and records the refusal)
    r = CliRunner().invoke(app, [*AGG, "--use", "marketing"])
    assert r.exit_code == 4 and "no per-customer marketing consent" in r.output, r.output
    denied = [e for e in events(server, "disclose") if e.get("decision") == "deny"]
    assert denied[-1]["objects"]["use"] == "marketing"
