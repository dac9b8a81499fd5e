"""`dealvault disclose` and `dealvault token resolve` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dealvault.cli.main import app
from dealvault.deidentify.writers import read_disclosure, read_disclosure_meta
from dealvault.synth.writers import write_export
from tests.cli.test_cli import env, jrun, run, setup_deal  # noqa: F401 - env is a fixture

BASE = ("--deal", "d1", "--dataset", "crm", "--purpose", "cli test")


def _load(tmp_path: Path) -> None:
    setup_deal()
    paths = write_export(out_dir=tmp_path / "export", rows=600, seed=5, fmt="csv")
    for table in ("customers", "orders"):
        run("import", str(paths[table]), "--deal", "d1", "--dataset", "crm")


def test_disclose_levels_to_files_and_terminal(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    _load(tmp_path)
    out = tmp_path / "anon.parquet"
    doc = jrun(
        "disclose", "--level", "anonymized", *BASE, "--recipient", "Bidder A",
        "--k", "5", "--keep", "order_count:range=5,purchase_frequency", "--out", str(out),
        "--non-identifying", "purchase_frequency=the seller's own estimate, not known outside",
    )  # fmt: skip
    assert doc["report"]["k_achieved"] >= 5  # type: ignore[index]
    meta = read_disclosure_meta(out)
    assert meta["recipient"] == "Bidder A"
    assert meta["report"]["non_identifying"] == {
        "purchase_frequency": "the seller's own estimate, not known outside"
    }
    assert meta["report"]["risk_columns"][-1] == "order_count"
    frame = read_disclosure(out)
    assert frame.group_by(["age", "gender", "region_code"]).len().get_column("len").min() >= 5

    csv_out = tmp_path / "masked.csv"
    run("disclose", "--level", "masked", *BASE, "--recipient", "Bidder A", "-o", str(csv_out))
    first = csv_out.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# dealvault-disclosure: ")
    header = json.loads(first.split(": ", 1)[1])
    assert header["level"] == "masked"
    assert "main protection" in header["report"]["linkage"]["statement"]
    assert header["report"]["linkage"]["unique_share_any"] > 0.5
    shown = run("disclose", "--level", "masked", *BASE, "--recipient", "Bidder A", "--limit", "1")
    assert "anyone holding the customer list" in " ".join(shown.split())

    shown = run(
        "disclose", "--level", "aggregate", *BASE, "--recipient", "Bidder A",
        "--group-by", "gender", "--measure", "count,mean:total_amount",
    )  # fmt: skip
    assert "aggregate disclosure" in shown and "Bidder A" in shown

    pseudo = tmp_path / "p.xlsx"
    run("disclose", "--level", "pseudonymized", *BASE, "--recipient", "Bidder A", "-o", str(pseudo))
    tokens = read_disclosure(pseudo).get_column("token").head(12).to_list()
    matches = jrun("token", "resolve", *tokens, *BASE, "--recipient", "Bidder A")
    assert [m["token"] for m in matches] == tokens  # type: ignore[index]
    # the recipient's canary customers are in no store record: their tokens resolve to
    # nothing; a copy carries a few of them among its rows, wherever its key puts them
    resolved = [m["subject_id"] for m in matches if m["subject_id"]]  # type: ignore[index]
    assert len(resolved) >= len(tokens) - 5 and len(set(resolved)) == len(resolved)


def test_disclose_errors_have_exit_codes(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    _load(tmp_path)
    r = CliRunner().invoke(app, ["disclose", "--level", "masked", *BASE])
    assert r.exit_code == 2 and "--recipient is required" in r.output
    r = CliRunner().invoke(
        app, ["disclose", "--level", "aggregate", *BASE, "--recipient", "Bidder A",
              "--measure", "median:amount"],
    )  # fmt: skip
    assert r.exit_code == 2 and "median" in r.output
    r = CliRunner().invoke(
        app, ["--as", "b@bidder.example", "disclose", "--level", "aggregate", *BASE,
              "--recipient", "Bidder A"],
    )  # fmt: skip
    assert r.exit_code == 4
    r = CliRunner().invoke(
        app, ["disclose", "--level", "masked", *BASE, "--recipient", "Bidder A", "-o", "x.txt"]
    )
    assert r.exit_code == 2 and "output format" in r.output
    assert not list(tmp_path.glob("*.part"))
    anonymized = ["disclose", "--level", "anonymized", *BASE, "--recipient", "Bidder A"]
    r = CliRunner().invoke(app, [*anonymized, "--keep", "total_amount"])
    assert r.exit_code == 2 and "--keep 'total_amount': numeric values" in r.output
    assert "total_amount:range=WIDTH" in r.output
    r = CliRunner().invoke(app, [*anonymized, "--keep", "order_count:range=5",
                                 "--non-identifying", "order_count"])  # fmt: skip
    assert r.exit_code == 2 and "--non-identifying needs COLUMN=REASON" in r.output
