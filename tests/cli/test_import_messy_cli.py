"""`dealvault import` on a messy export: the dry run says what was renamed; reads still work."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dealvault.cli.main import app
from tests.cli.test_cli import env, jrun, run, setup_deal  # noqa: F401 - env is a fixture
from tests.vault.helpers import HEADERS, customer_row


def _messy_csv(path: Path) -> Path:
    headers = [*HEADERS, "", "subject_id", "手机号"]
    lines = [",".join(headers)]
    for i in range(1, 11):
        row = customer_row(i)
        lines.append(",".join([row[h] for h in HEADERS] + ["x", f"S{i}", "无"]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_dry_run_reports_generated_and_renamed_columns(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    setup_deal()
    path = _messy_csv(tmp_path / "messy.csv")
    preview = jrun("import", str(path), "--deal", "d1", "--dataset", "crm", "--dry-run")
    assert list(preview["columns"])[-3:] == ["column_11", "subject_id_src", "手机号_2"]  # type: ignore[index]
    notes = preview["notes"]  # type: ignore[index]
    assert notes == [
        "column 11 has no header: named 'column_11'",
        "column 12 header 'subject_id' is a name dealvault uses internally: "
        "renamed 'subject_id_src'",
        "column 13 header '手机号' repeats an earlier one: renamed '手机号_2'",
    ]
    human = " ".join(
        run("import", str(path), "--deal", "d1", "--dataset", "crm", "--dry-run").split()
    )
    assert "note: column 11 has no header: named 'column_11'" in human
    assert "S1" not in human  # headers only, never values
    done = " ".join(run("import", str(path), "--deal", "d1", "--dataset", "crm").split())
    assert "renamed 'subject_id_src'" in done
    found = jrun("lookup", "13900000003", "--deal", "d1", "--dataset", "crm", "--reveal")
    data = found[0]["data"]  # type: ignore[index]
    values = {k: v for cat in data.values() for k, v in cat.items()}
    assert values["subject_id_src"] == "S3" and found[0]["subject_id"] != "S3"  # type: ignore[index]
    inv = jrun("inventory", "--deal", "d1", "--dataset", "crm")
    assert "subject_id_src" in [c["column"] for c in inv["columns"]]  # type: ignore[index]


def test_deeply_nested_jsonl_fails_cleanly(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    setup_deal()
    path = tmp_path / "deep.jsonl"
    deep = 100_000
    path.write_text(
        '{"姓名": "测试甲", "手机号": "13900000001"}\n'
        '{"姓名": "SECRETNAME", "标签": ' + "[" * deep + '"SECRETTAG"' + "]" * deep + "}\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(app, ["import", str(path), "--deal", "d1", "--dataset", "crm"])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.output
    out = " ".join(r.output.split())
    assert "deep.jsonl, row 2, column '标签'" in out and "(line 2)" in out and "too deep" in out
    assert "Traceback" not in out and "SECRET" not in out
