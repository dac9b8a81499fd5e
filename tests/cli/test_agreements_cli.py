"""`dealvault agreement ...` and `dealvault training ...` end to end, with --json and errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dealvault.cli import admin, agreements
from dealvault.cli import main as cli_main
from tests.cli.test_cli import STEWARD, env  # noqa: F401 - env is a fixture

ANALYST = "b@bidder.example"
CLEAN = "clean@bidder.example"
DOC = "Signed clean team agreement — 测试 — page 1 of 1\n".encode() * 50


def _app() -> typer.Typer:
    """The root command with the admin groups and ours (independent of main's wiring)."""
    app = typer.Typer(cls=cli_main._Group, pretty_exceptions_enable=False, add_completion=False)
    app.callback()(cli_main.main)
    admin.register(app)
    agreements.register(app)
    return app


APP = _app()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # tables unwrapped, so hashes can be looked for


def invoke(*args: str) -> Any:
    return CliRunner().invoke(APP, list(args))


def run(*args: str, code: int = 0) -> str:
    result = invoke(*args)
    assert result.exit_code == code, (
        f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    )
    return str(result.output)


def jrun(*args: str) -> Any:
    return json.loads(run(*args, "--json"))


def setup() -> None:
    run("init")
    run("org", "add", "Seller Co", "--kind", "seller")
    run("org", "add", "Bidder A", "--kind", "bidder")
    run("person", "add", STEWARD, "--name", "Steward", "--org", "Seller Co")
    run("person", "add", ANALYST, "--name", "B", "--org", "Bidder A")
    run("person", "add", CLEAN, "--name", "C", "--org", "Bidder A")
    run("deal", "create", "d1", "--name", "Deal", "--seller", "Seller Co", "--bidder", "Bidder A")
    run("deal", "add-member", "d1", "--person", STEWARD, "--role", "seller_steward")
    run("deal", "add-member", "d1", "--person", ANALYST, "--role", "bidder_business")


def test_agreement_commands(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup()
    doc = tmp_path / "signed.pdf"
    doc.write_bytes(DOC)
    a = jrun(
        "agreement", "add", "--deal", "d1", "--org", "Bidder A", "--kind", "clean_team",
        "--title", "Clean team agreement", "--dataset", "crm", "--category", "contact",
        "--category", "transaction", "--effective", "2026-11-01", "--expires", "2027-06-30",
        "--signer", f"{CLEAN}:2026-11-03", "--document", str(doc),
    )  # fmt: skip
    assert a["kind"] == "clean_team" and a["status"] == "in_force"
    assert a["categories"] == ["contact", "transaction"] and a["datasets"] == ["crm"]
    assert a["signers"] == [{"person": CLEAN, "signed_on": "2026-11-03"}]
    assert a["document_sha256"] == hashlib.sha256(DOC).hexdigest()
    nda = jrun(
        "agreement", "add", "--deal", "d1", "--org", "Bidder A", "--kind", "nda",
        "--title", "NDA", "--effective", "2026-11-01",
    )  # fmt: skip
    assert nda["datasets"] == ["*"] and nda["expires"] is None

    shown = run("agreement", "show", str(a["id"]))
    assert "in force" in shown and a["document_sha256"] in shown and CLEAN in shown
    assert "测试" not in shown and "page 1" not in shown
    assert [x["id"] for x in jrun("agreement", "list", "--deal", "d1", "--in-force")] == [
        a["id"],
        nda["id"],
    ]
    assert "Clean team agreement" in run("agreement", "list", "--org", "Bidder A")

    out = tmp_path / "copy.pdf"
    got = jrun("agreement", "document", str(a["id"]), "--out", str(out))
    assert out.read_bytes() == DOC and got["sha256"] == a["document_sha256"]
    assert "checked" in run("agreement", "document", str(a["id"]), "-o", str(out), "--force")

    revoked = jrun("agreement", "revoke", str(a["id"]), "--reason", "member left the team")
    assert revoked["status"] == "revoked" and revoked["revoked_by"] == STEWARD
    assert [x["id"] for x in jrun("agreement", "list", "--in-force")] == [nda["id"]]


def test_training_commands(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup()
    t = jrun(
        "training", "add", "--person", ANALYST, "--course", "confidentiality",
        "--completed", "2026-10-01", "--expires", "2027-09-30",
    )  # fmt: skip
    assert t["person"] == ANALYST and t["valid_now"] is True
    csv_path = tmp_path / "training.csv"
    csv_path.write_bytes(
        b"\xef\xbb\xbfemail,course,completed,expires\n"
        + f"{ANALYST},confidentiality,2026-10-01,2027-09-30\n".encode()
        + f"{CLEAN},confidentiality,2026-09-15,\n".encode()
    )
    got = jrun("training", "import", str(csv_path))
    assert (got["rows"], got["imported"], got["skipped"]) == (2, 1, 1)
    assert "2 rows, 0 imported, 2 skipped" in run("training", "import", str(csv_path))
    rows = jrun("training", "list", "--course", "confidentiality")
    assert [r["person"] for r in rows] == [ANALYST, CLEAN]
    assert "never" in run("training", "list", "--person", CLEAN)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("agreement", "show", "42"), 3, "agreement #42 not found"),
        (
            ("agreement", "add", "--deal", "d1", "--org", "Bidder A", "--kind", "nda",
             "--title", "T", "--effective", "1 Nov 2026"),
            2,
            "--effective must be a date YYYY-MM-DD",
        ),
        (
            ("--as", ANALYST, "agreement", "add", "--deal", "d1", "--org", "Bidder A",
             "--kind", "nda", "--title", "T", "--effective", "2026-11-01"),
            4,
            "only a seller steward of deal d1 may add agreements",
        ),
        (("training", "import", "nope.csv"), 2, "nope.csv: file not found"),
    ],
)  # fmt: skip
def test_errors_have_exit_codes_and_json(
    env: dict[str, str],  # noqa: F811
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    setup()
    result = invoke(*args, "--json")
    assert result.exit_code == code, result.output
    err = json.loads(result.output.strip().splitlines()[-1])
    assert message in err["message"]


def test_bad_csv_row_names_file_row_and_column(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup()
    path = tmp_path / "t.csv"
    path.write_text(f"email,course,completed,expires\n{ANALYST},confidentiality,2026-13-01,\n")
    result = invoke("training", "import", str(path))
    assert result.exit_code == 2
    assert "t.csv, row 1, column 'completed': not a date" in result.output
    assert ANALYST not in result.output
    assert jrun("training", "list") == []
