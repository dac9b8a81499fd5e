"""Nothing readable is left behind: the real CLI's ``package build`` and ``package receive``
are killed (SIGKILL) at chosen points, the disk is scanned for the customers' clear values,
and the next run cleans up what the killed one left."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyrage
import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.audit.note import Signer, generate_signer
from dealvault.audit.service import AuditConfig
from dealvault.crypto.keyring import KeyRing
from dealvault.flows import packages as pkg_flows
from dealvault.flows import transfer as flows
from dealvault.flows.context import AppStores
from dealvault.transfer.package import PARTIAL
from dealvault.transfer.scratch import Scratch, clean_leftovers
from tests.conftest import STEWARD, P, World
from tests.transfer.leftovers import clear_values, scan
from tests.transfer.test_package import BUYER_DEAL, BUYER_IT, buyer, buyer_steward
from tests.transfer.test_plans import approved_plan, prepare

N = 12
__all__ = ["buyer"]  # the buyer's store fixture, shared with test_package
REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("dealvault")
SELLER_KEY, _ = generate_signer("dealvault.invalid/kill-seller")
RNG = random.Random(13)  # the random kill points are the same on every run


@pytest.fixture(scope="session")
def audit_config() -> AuditConfig:
    """The seller's audit signer, also written to the CLI's home."""
    signer = Signer.from_key(SELLER_KEY)
    return AuditConfig(origin=signer.name, signer=signer, checkpoint_every=50)


@pytest.fixture
def backend() -> str:
    """What is left on disk does not depend on the database: SQLite keeps everything there."""
    return "sqlite"


def cli_env(home: Path, tmp: Path, **settings: str) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALVAULT_")}
    env |= {f"DEALVAULT_{k.upper()}": v for k, v in settings.items()}
    env |= {"DEALVAULT_HOME": str(home), "TMPDIR": str(tmp), "PYTHONPATH": str(REPO)}
    return env


def kill_at(point: str, n: int, args: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run the CLI until the n-th call of ``point``, then SIGKILL it there."""
    with (cwd / "stdout.txt").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.transfer.killpoint", point, str(n), "--", *args],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        for line in proc.stderr:  # blocks until the child reports or ends
            if line.startswith(b"AT "):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                proc.stderr.close()
                return
        proc.wait()
    raise AssertionError(
        f"{point} #{n} not reached (exit {proc.returncode}): {(cwd / 'stdout.txt').read_text()}"
    )


def cli(args: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run([CLI, *args], env=env, cwd=cwd, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()


@dataclass
class Seller:
    stores: AppStores
    env: dict[str, str]
    plan: int
    identity: pyrage.x25519.Identity
    out: Path
    root: Path
    skip: Path


@pytest.fixture
def seller(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    store_urls: tuple[str, str],
    master_key: bytes,
) -> Seller:
    inputs = tmp_path / "input"  # the seller's source file: clear by nature, not scanned
    inputs.mkdir()
    prepare(stores, keyring, world, inputs, customers_n=N)
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()))
    home = tmp_path / "seller-home"
    env = cli_env(
        home,
        tmp_path / "tmp",
        database_url=store_urls[0],
        keystore_url=store_urls[1],
        key_provider="env",
        master_key=master_key.hex(),
        master_key_id="test",
        actor=world.steward,
        workers="1",
    )
    (home / "audit.key").write_text(SELLER_KEY + "\n")
    (home / "audit.key").chmod(0o600)
    out = tmp_path / "out"
    out.mkdir()
    return Seller(stores, env, plan.id, ident, out, tmp_path, inputs)


def built_events(stores: AppStores) -> int:
    with stores.records_session() as s:
        return len(s.scalars(select(AuditEvent).where(AuditEvent.action == "package.build")).all())


BUILD_POINTS = [
    ("dealvault.transfer.package:AgeSink.write", RNG.randint(1, 4)),  # records half-written
    ("dealvault.flows.packages:write_manifest", 1),  # records written, not signed
    ("dealvault.flows.packages:install_headers", 1),  # recorded, not yet decryptable
    ("after:dealvault.flows.packages:install_headers", 1),  # recorded, not yet in place
]


@pytest.mark.parametrize(("point", "n"), BUILD_POINTS)
def test_a_killed_build_leaves_nothing_readable_unrecorded(
    seller: Seller, point: str, n: int
) -> None:
    needles = clear_values(N)
    args = ["package", "build", str(seller.plan), "--out", str(seller.out / "pkg"), "--json"]
    kill_at(point, n, args, seller.env, seller.root)
    left = scan([seller.root], needles, identities=[seller.identity], skip=[seller.skip])
    assert left.hits == []
    partials = [p for p in seller.out.iterdir() if PARTIAL.fullmatch(p.name)]
    assert len(partials) == 1 and not (seller.out / "pkg").exists()
    recorded = len(flows.ledger(seller.stores, actor=P(STEWARD), deal="clean-2026"))
    assert recorded == built_events(seller.stores)  # a ledger row comes with its event
    if left.decryptable:  # only what was recorded can be opened by the recipient
        assert recorded == 1 and all(p.is_relative_to(partials[0]) for p in left.decryptable)
    else:
        assert point.endswith(("AgeSink.write", "write_manifest", ":install_headers"))
    # the next build removes the leftover and goes through
    cli([*args[:3], "--out", str(seller.out / "pkg2"), "--json"], seller.env, seller.root)
    assert sorted(p.name for p in seller.out.iterdir()) == ["pkg2", "pkg2.canaries"]
    assert scan([seller.root], needles, skip=[seller.skip]).hits == []


# -- receive -----------------------------------------------------------------------------
@dataclass
class Buyer:
    env: dict[str, str]
    args: list[str]
    home: Path
    root: Path
    skip: Path


@pytest.fixture
def buyer_cli(
    seller: Seller, keyring: KeyRing, world: World, tmp_path: Path, buyer: AppStores
) -> Iterator[Buyer]:
    package = seller.out / "pkg"
    pkg_flows.build_package(
        seller.stores, keyring, actor=P(world.steward), plan_id=seller.plan, out=package
    )
    buyer_steward(buyer)
    identity = seller.skip / "buyer.age"
    identity.write_text(str(seller.identity) + "\n")
    identity.chmod(0o600)
    assert seller.stores.audit.signer is not None
    home = tmp_path / "buyer-home"
    env = cli_env(
        home,
        tmp_path / "tmp",
        database_url=f"sqlite:///{tmp_path / 'buyer.sqlite'}",
        keystore_url=f"sqlite:///{tmp_path / 'bkeys.sqlite'}",
        key_provider="env",
        master_key=os.urandom(32).hex(),
        master_key_id="buyer",
        actor=BUYER_IT,
    )
    (home / "audit.key").write_text(generate_signer("dealvault.invalid/kill-buyer")[0] + "\n")
    (home / "audit.key").chmod(0o600)
    args = [
        "package",
        "receive",
        str(package),
        "--identity",
        str(identity),
        "--deal",
        BUYER_DEAL,
        "--dataset",
        "acquired",
        "--verifier-key",
        seller.stores.audit.signer.verifier().key_string(),
        "--canaries",
        f"{package}.canaries",
        "--json",
    ]
    yield Buyer(env, args, home, tmp_path, seller.skip)


RECEIVE_POINTS = [
    ("dealvault.transfer.spool:SealedSpool.write", 1),  # decrypting into the scratch file
    ("dealvault.transfer.intake:ReceivedRecords.batches", 1),  # verified, import starts
    ("dealvault.vault.writer:CustomerWriter.write", 1),  # importing
    ("dealvault.vault.rejects:RejectWriter.finish", 1),  # imported, not committed
]


@pytest.mark.parametrize(("point", "n"), RECEIVE_POINTS)
def test_a_killed_receive_leaves_nothing_clear(buyer_cli: Buyer, point: str, n: int) -> None:
    b = buyer_cli
    needles = clear_values(N)
    kill_at(point, n, b.args, b.env, b.root)
    assert scan([b.root], needles, skip=[b.skip]).hits == []
    assert [p.name.startswith("dealvault-receive-") for p in b.home.iterdir()].count(True) == 1
    cli(b.args, b.env, b.root)  # the next receive removes it and imports
    assert not [p for p in b.home.iterdir() if p.name.startswith("dealvault-receive-")]
    assert scan([b.root], needles, skip=[b.skip]).hits == []


def test_receive_removes_the_clear_spool_an_older_version_left(buyer_cli: Buyer) -> None:
    b = buyer_cli
    old = b.home / "dealvault-receive-k2j4_x9q"  # tempfile.mkdtemp's names
    old.mkdir(mode=0o700)
    pl.DataFrame({"手机号": [v.decode() for v in clear_values(N)]}).write_parquet(
        old / "pkg-records.parquet"
    )
    assert scan([b.home], clear_values(N)).hits  # the scan sees through Parquet
    cli(b.args, b.env, b.root)
    assert not old.exists() and scan([b.root], clear_values(N), skip=[b.skip]).hits == []


def test_cleanup_spares_directories_a_live_process_holds(tmp_path: Path) -> None:
    pattern = PARTIAL
    with Scratch.new(tmp_path, lambda: ".pkg.partial-0000aaaa") as held:
        dead = tmp_path / ".pkg.partial-0000bbbb"
        dead.mkdir()
        (dead / "records.parquet.age").write_bytes(b"x")
        other = tmp_path / ".notes.partial"  # not a partial package's name
        other.mkdir()
        assert clean_leftovers(tmp_path, pattern) == [dead.name]
        assert held.path.is_dir() and other.is_dir() and not dead.exists()
        os.symlink(held.path, tmp_path / ".pkg.partial-0000cccc")
        assert clean_leftovers(tmp_path, pattern) == []
    assert not held.path.exists()
