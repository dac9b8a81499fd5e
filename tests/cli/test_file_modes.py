"""Everything the commands write is private (0600 files, 0700 directories), whatever the umask;
a store open to other users is warned about and a key file open to them is refused."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyrage import x25519
from typer.testing import CliRunner, Result

from dealvault.audit.note import generate_signer
from dealvault.cli.main import app
from dealvault.db.engine import make_engine
from dealvault.files import private_file
from tests.cli.seller import OPERATOR, STEWARD, seller_deal
from tests.vault.helpers import customer_row, write_csv

BASE = ("--deal", "d1", "--dataset", "crm")
OP = ("--as", OPERATOR)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (
        f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    )
    return result


def too_wide(*roots: Path) -> list[str]:
    """Every file not 0600 and directory not 0700 under ``roots`` (the roots included)."""
    bad = []
    for root in roots:
        for dirpath, _dirs, filenames in os.walk(root):
            here = Path(dirpath)
            if mode(here) != 0o700:
                bad.append(f"{here} {mode(here):04o}")
            bad += [
                f"{here / n} {mode(here / n):04o}" for n in filenames if mode(here / n) != 0o600
            ]
    return bad


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A passphrase store in tmp/store, commands run under umask 000: a file left to the
    umask (or to a library's default) would come out readable and writable by everyone."""
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "store"
    for k, v in {
        "DEALVAULT_HOME": str(home),
        "DEALVAULT_PASSPHRASE": "correct horse battery",
        "DEALVAULT_ARGON2_MEMORY_KIB": "1024",
        "DEALVAULT_ARGON2_TIME_COST": "1",
        "DEALVAULT_ACTOR": STEWARD,
    }.items():
        monkeypatch.setenv(k, v)
    old = os.umask(0)
    try:
        yield home
    finally:
        os.umask(old)


def _deal(tmp_path: Path) -> None:
    seller_deal(invoke)
    rows = [customer_row(i) for i in range(1, 13)] + [customer_row(13, 手机号="12345")]
    source = write_csv(tmp_path / "crm.csv", rows)
    invoke("import", str(source), *BASE)


def test_home_and_outputs_are_private(store: Path, tmp_path: Path) -> None:
    _deal(tmp_path)
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    age = x25519.Identity.generate()
    invoke("rejects", "1", "--deal", "d1", "--out", str(out / "rejects.csv"))
    for name in ("full.csv", "full.xlsx", "full.parquet"):
        invoke("disclose", "--level", "full", *BASE, "--purpose", "modes", "-o", str(out / name))
    invoke("disclose", "--level", "masked", *BASE, "--purpose", "modes",
           "--recipient", "Bidder A", "-o", str(out / "masked.csv"))  # fmt: skip
    invoke("inventory", *BASE, "--html", str(out / "inventory.html"))
    invoke(*OP, "audit", "export", str(out / "bundle"))
    invoke(*OP, "audit", "prove", "3", "--out", str(out / "e3.tlog-proof"))
    invoke(*OP, "audit", "report", str(out / "report.html"))
    invoke("audit", "cosigner-key", "w.example/witness", "--out", str(out / "w.key"))
    invoke(*OP, "backup", "create", "--recipient", str(age.to_public()))
    invoke(*OP, "backup", "create", "--recipient", str(age.to_public()), "--out", str(out / "bk"))

    made = {p.relative_to(tmp_path).as_posix() for root in (store, out) for p in root.rglob("*")}
    for expected in (
        "store/master.key", "store/vault.sqlite", "store/keystore.sqlite",
        "store/rejects", "store/backups", "out/rejects.csv", "out/full.xlsx", "out/masked.csv",
        "out/inventory.html", "out/bundle/events.jsonl", "out/bundle/checkpoints",
        "out/e3.tlog-proof", "out/e3.event.json", "out/report.html", "out/w.key",
    ):  # fmt: skip
        assert expected in made, expected  # the walk below covers what it should
    assert "store/audit.key" not in made  # the log's signing key is in the key store
    assert any(m.startswith("store/rejects/import-") for m in made)
    assert any(m.startswith("store/backups/dealvault-backup-") for m in made)
    assert too_wide(store, out) == []
    # while the store is open, SQLite's -wal and -shm files are private too
    engine = make_engine(f"sqlite:///{store / 'vault.sqlite'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM canaries")
        side = [store / f"vault.sqlite{s}" for s in ("-wal", "-shm")]
        assert [mode(p) for p in side] == [0o600, 0o600]
    engine.dispose()


def test_a_wide_store_is_warned_about(store: Path, tmp_path: Path) -> None:
    _deal(tmp_path)
    store.chmod(0o755)
    (store / "vault.sqlite").chmod(0o644)
    result = invoke(*OP, "org", "list")
    assert result.stdout.count("Seller Co") == 1  # the command still runs
    warned = result.stderr
    assert f"warning: DEALVAULT_HOME {store} is open to other users (mode 0755)" in warned
    assert f"chmod 700 '{store}'" in warned
    assert f"database {store / 'vault.sqlite'} is open to other users (mode 0644)" in warned
    store.chmod(0o700)
    private_file(store / "vault.sqlite")
    assert "warning" not in invoke(*OP, "org", "list").stderr


def test_a_key_file_open_to_others_is_refused(store: Path, tmp_path: Path) -> None:
    seller_deal(invoke)
    key = store / "master.key"
    key.chmod(0o644)
    result = invoke(*OP, "keys", "status", code=7)
    assert f"{key} is open to other users (mode 0644)" in result.stderr
    assert f"run chmod 600 '{key}'" in result.stderr
    key.chmod(0o600)
    invoke(*OP, "keys", "status")


def test_an_older_stores_audit_key_file_open_to_others_is_refused(store: Path) -> None:
    """The plain audit.key of a store made before the key store held it: not read when wide."""
    seller_deal(invoke)
    plain = store / "audit.key"
    plain.write_text(generate_signer("dealvault.invalid/log-x")[0] + "\n")
    plain.chmod(0o644)
    result = invoke(*OP, "audit", "key", "import", code=7)
    assert f"audit key file {plain} is open to other users (mode 0644)" in result.stderr
    assert "Traceback" not in result.output
    plain.chmod(0o600)
    result = invoke(*OP, "audit", "key", "import", code=5)  # a key is already stored
    assert "move the file away" in result.output
