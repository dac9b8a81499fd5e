"""Kill -9 in the middle of long jobs: the store stays consistent; the job resumes or rolls back."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import EnvKeyProvider
from dealvault.flows.context import AppStores
from dealvault.synth import write_export
from dealvault.vault.models import CustomerRecord, ImportRun, KeyRotation

STEWARD = "steward@seller.example"
OPERATOR = "operator@seller.example"
TRAINER = "trainer@seller.example"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dealvault.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEALVAULT_HOME=str(tmp_path / "store"),
        DEALVAULT_KEY_PROVIDER="env",
        DEALVAULT_MASTER_KEY=secrets.token_hex(32),
        DEALVAULT_ACTOR=STEWARD,
        DEALVAULT_BATCH_SIZE="2000",
    )
    op, trainer = ("--as", OPERATOR), ("--as", TRAINER)
    for args in (
        ("init", "--operator", OPERATOR, "--org", "S"),
        (*op, "person", "add", STEWARD, "--name", "S", "--org", "S"),
        (*op, "person", "add", TRAINER, "--name", "T", "--org", "S"),
        (*op, "store", "grant", TRAINER, "--role", "training_admin"),
        (*op, "deal", "create", "d", "--name", "d", "--seller", "S", "--steward", STEWARD),
        (*trainer, "training", "add", "--person", STEWARD, "--course", "confidentiality",
         "--completed", "2026-01-05"),
    ):  # fmt: skip
        done = _cli(env, *args)
        assert done.returncode == 0, (args, done.stderr)
    return env


def _stores(env: dict[str, str]) -> AppStores:
    home = Path(env["DEALVAULT_HOME"])
    return AppStores.connect(
        records_url=f"sqlite:///{home / 'vault.sqlite'}",
        keystore_url=f"sqlite:///{home / 'keystore.sqlite'}",
    )


def _kill_when(proc: subprocess.Popen[bytes], ready: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        if proc.poll() is not None:
            pytest.fail("the job finished before it could be killed; make the input bigger")
        time.sleep(0.02)
    pytest.fail("the job never reached the point to kill it")


def test_killed_import_leaves_nothing_and_can_be_rerun(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    files = write_export(
        out_dir=tmp_path / "x", rows=60_000, seed=3, fmt="csv", tables=("customers",)
    )
    wal = Path(cli_env["DEALVAULT_HOME"]) / "vault.sqlite-wal"
    size0 = wal.stat().st_size if wal.exists() else 0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dealvault.cli.main",
            "import",
            str(files["customers"]),
            "--deal",
            "d",
            "--dataset",
            "crm",
        ],
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # kill once the import has written several batches into its (uncommitted) transaction
    _kill_when(proc, lambda: wal.exists() and wal.stat().st_size > size0 + 4_000_000)
    s = _stores(cli_env)
    try:
        with s.records_session() as rs:
            assert rs.scalar(select(func.count()).select_from(CustomerRecord)) == 0
            assert rs.scalar(select(func.count()).select_from(ImportRun)) == 0
    finally:
        s.dispose()
    again = _cli(
        cli_env, "import", str(files["customers"]), "--deal", "d", "--dataset", "crm", "--json"
    )
    assert again.returncode == 0, again.stderr
    assert '"rows_imported": 60000' in again.stdout


def test_killed_data_rotation_resumes(cli_env: dict[str, str], tmp_path: Path) -> None:
    files = write_export(
        out_dir=tmp_path / "x", rows=20_000, seed=4, fmt="csv", tables=("customers",)
    )
    assert (
        _cli(
            cli_env, "import", str(files["customers"]), "--deal", "d", "--dataset", "crm"
        ).returncode
        == 0
    )
    s = _stores(cli_env)

    def progressed() -> bool:
        with s.records_session() as rs:
            return (
                rs.scalar(select(KeyRotation.processed).where(KeyRotation.kind == "data")) or 0
            ) >= 500

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dealvault.cli.main",
            "keys",
            "rotate",
            "--deal",
            "d",
            "--data",
            "crm",
            "--batch-size",
            "250",
        ],
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _kill_when(proc, progressed)
        with s.records_session() as rs:
            versions = dict(
                rs.execute(
                    select(CustomerRecord.key_version, func.count()).group_by(
                        CustomerRecord.key_version
                    )
                ).all()  # type: ignore[arg-type]
            )
        assert versions.get(2, 0) >= 500 and versions.get(1, 0) > 0
        resumed = _cli(cli_env, "keys", "rotate", "--deal", "d", "--data", "crm", "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert '"resumed": true' in resumed.stdout
        with s.records_session() as rs:
            assert rs.scalar(select(func.count()).where(CustomerRecord.key_version != 2)) == 0
        ring = KeyRing(EnvKeyProvider.from_text(kek_id="env", text=cli_env["DEALVAULT_MASTER_KEY"]))
        with s.keystore_sessions() as ks:
            assert ring.count_customer_keys(ks, dataset_id=1) == 20_000
        import csv

        with files["customers"].open(encoding="utf-8", newline="") as fh:
            first = next(csv.DictReader(fh))
        looked = _cli(
            cli_env,
            "lookup",
            first["身份证号"],
            "--by",
            "id_number",
            "--deal",
            "d",
            "--dataset",
            "crm",
            "--reveal",
            "--json",
        )
        assert looked.returncode == 0, looked.stderr
        assert first["身份证号"] in looked.stdout  # readable after the resumed rotation
    finally:
        s.dispose()
