"""The ``dealvault synth`` command."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from dealvault.cli.synth import register

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test root."""

    register(app)
    return app


def test_help_lists_options() -> None:
    result = runner.invoke(_app(), ["synth", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in (
        "--rows", "--seed", "--out", "--format", "--encoding", "--orders-per-customer",
        "--notes-per-customer", "--tables", "--json",
    ):  # fmt: skip
        assert option in result.output


def test_json_summary(tmp_path: Path) -> None:
    out = tmp_path / "export"
    args = ["synth", "--rows", "300", "--seed", "3", "--out", str(out), "--encoding", "gbk"]
    result = runner.invoke(_app(), [*args, "--tables", "customers,notes", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["customers"] == 300 and summary["encoding"] == "gbk"
    assert set(summary["files"]) == {"customers", "notes"}
    customers = summary["files"]["customers"]
    assert customers["rows"] == 300
    assert Path(customers["path"]).stat().st_size == customers["bytes"]
    Path(customers["path"]).read_bytes().decode("gbk")


def test_table_output_and_parquet(tmp_path: Path) -> None:
    result = runner.invoke(
        _app(), ["synth", "-n", "50", "--out", str(tmp_path), "--format", "parquet"]
    )
    assert result.exit_code == 0, result.output
    assert "customers" in result.stdout
    assert (tmp_path / "orders.parquet").exists()


def test_bad_tables_option(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["synth", "--out", str(tmp_path), "--tables", "clients"])
    assert result.exit_code != 0
    assert not (tmp_path / "customers.csv").exists()
