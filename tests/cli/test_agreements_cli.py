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
from tests.cli.test_cli import (  # noqa: F401 - env is a fixture
    BIDDER,
    OPERATOR,
    STEWARD,
    TRAINER,
    assert_refused,
    env,
    last_event,
    setup_deal,
)

ANALYST = BIDDER
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
    """Deal d1 (the operator's store, the steward trained by the training admin) with the
    bidder's analyst as a member and a clean team person registered."""
    setup_deal()
    run("--as", OPERATOR, "person", "add", CLEAN, "--name", "C", "--org", "Bidder A")
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
    assert a["acceptance"] == "signed"
    offline = {"method": "offline", "accepted_at": None, "client": None, "document_sha256": None}
    assert a["signers"] == [{"person": CLEAN, "signed_on": "2026-11-03", **offline}]
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
    assert "Clean team agreement" in run("agreement", "list", "--deal", "d1", "--org", "Bidder A")

    out = tmp_path / "copy.pdf"
    got = jrun("agreement", "document", str(a["id"]), "--out", str(out))
    assert out.read_bytes() == DOC and got["sha256"] == a["document_sha256"]
    assert "checked" in run("agreement", "document", str(a["id"]), "-o", str(out), "--force")

    revoked = jrun("agreement", "revoke", str(a["id"]), "--reason", "member left the team")
    assert revoked["status"] == "revoked" and revoked["revoked_by"] == STEWARD
    assert [x["id"] for x in jrun("agreement", "list", "--deal", "d1", "--in-force")] == [nda["id"]]


def test_training_commands(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup()
    add = ("training", "add", "--person", ANALYST, "--course", "confidentiality",
           "--completed", "2026-10-01", "--expires", "2027-09-30")  # fmt: skip
    # training is recorded by a training administrator, never by a steward or the trainee
    assert_refused(invoke(*add), STEWARD, "training.record needs one of the roles: training_admin")
    assert_refused(invoke("--as", ANALYST, *add), ANALYST, "training.record needs one of the roles")
    own = ("--as", TRAINER, "training", "add", "--person", TRAINER, "--course", "confidentiality",
           "--completed", "2026-10-01")  # fmt: skip
    assert_refused(invoke(*own), TRAINER, "nobody may training.record for themselves")
    t = jrun("--as", TRAINER, *add)
    assert t["person"] == ANALYST and t["valid_now"] is True
    csv_path = tmp_path / "training.csv"
    csv_path.write_bytes(
        b"\xef\xbb\xbfemail,course,completed,expires\n"
        + f"{ANALYST},confidentiality,2026-10-01,2027-09-30\n".encode()
        + f"{CLEAN},confidentiality,2026-09-15,\n".encode()
    )
    assert_refused(
        invoke("training", "import", str(csv_path)),
        STEWARD,
        "training.record needs one of the roles: training_admin",
    )
    got = jrun("--as", TRAINER, "training", "import", str(csv_path))
    assert (got["rows"], got["imported"], got["skipped"]) == (2, 1, 1)
    assert "2 rows, 0 imported, 2 skipped" in run(
        "--as", TRAINER, "training", "import", str(csv_path)
    )
    rows = jrun("--as", TRAINER, "training", "list", "--course", "confidentiality")
    # the steward's own record comes from the training admin in setup_deal
    assert [r["person"] for r in rows] == [STEWARD, ANALYST, CLEAN]
    assert "never" in run("--as", TRAINER, "training", "list", "--person", CLEAN)
    assert_refused(invoke("training", "list"), STEWARD, "training.read needs one of the roles")


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
            "agreement.add needs one of the roles: seller_steward",
        ),
        (
            ("agreement", "add", "--deal", "d1", "--org", "Bidder A", "--kind", "nda",
             "--title", "T", "--effective", "2026-11-01", "--signer", f"{STEWARD}:2026-11-03"),
            4,
            "nobody may agreement.add for themselves",
        ),
        (
            ("agreement", "add", "--deal", "d1", "--org", "Seller Co", "--kind", "nda",
             "--title", "T", "--effective", "2026-11-01"),
            4,
            "nobody may agreement.add for themselves",
        ),
        (("--as", TRAINER, "training", "import", "nope.csv"), 2, "nope.csv: file not found"),
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
    if code == 4:  # a refusal is recorded, with its reason, as a denial by the actor
        actor = args[1] if args[0] == "--as" else STEWARD
        event = last_event(actor)
        assert (event["decision"], event["action"]) == ("deny", "agreement.add")
        assert any(message in r for r in event["reasons"])


def test_bad_csv_row_names_file_row_and_column(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup()
    path = tmp_path / "t.csv"
    path.write_text(f"email,course,completed,expires\n{ANALYST},confidentiality,2026-13-01,\n")
    result = invoke("--as", TRAINER, "training", "import", str(path))
    assert result.exit_code == 2
    assert "t.csv, row 1, column 'completed': not a date" in result.output
    assert ANALYST not in result.output
    assert jrun("--as", TRAINER, "training", "list", "--person", ANALYST) == []
