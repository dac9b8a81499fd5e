"""Backups: the restore drill (before and after a shred), tampering, wrong keys, refusals."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyrage
import pytest
import rfc8785
from pyrage import x25519
from sqlalchemy import create_engine, select, text

from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.db import migrate
from dealvault.errors import Conflict, Forbidden, IntegrityError, Invalid, KeyUnavailable, NotFound
from dealvault.flows import backups, customers
from dealvault.flows.context import AppStores
from dealvault.transfer import backup as bk
from dealvault.transfer import backup_db
from dealvault.vault.models import CustomerRecord, Dataset
from tests.conftest import P, World
from tests.vault.helpers import customer_row, do_import, lookup, write_csv

N = 6


@pytest.fixture
def ident() -> Any:
    return x25519.Identity.generate()


@pytest.fixture
def loaded(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> World:
    rows = [customer_row(i) for i in range(1, N + 1)]
    do_import(
        stores,
        keyring,
        write_csv(tmp_path / "c.csv", rows),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    return world


@pytest.fixture
def target(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], dict[str, Any]]:
    """Where to restore: a new directory (SQLite) or two new empty databases (PostgreSQL)."""
    made = [0]

    def make() -> dict[str, Any]:
        made[0] += 1
        if backend == "sqlite":
            return {"to_dir": tmp_path / f"restored{made[0]}"}
        new_db = request.getfixturevalue("pg_database")
        return {"records_url": new_db(), "keystore_url": new_db()}

    return make


def _create(
    stores: AppStores, world: World, tmp_path: Path, ident: Any, **kw: Any
) -> backups.BackupOut:
    return backups.create_backup(
        stores,
        actor=P(world.steward),
        out_dir=tmp_path / "backups",
        recipients=[str(ident.to_public())],
        reason="pre-transfer",
        **kw,
    )


def _urls(out: backups.RestoreOut, where: dict[str, Any]) -> tuple[str, str]:
    if "to_dir" in where:
        d = where["to_dir"]
        return f"sqlite:///{d / 'vault.sqlite'}", f"sqlite:///{d / 'keystore.sqlite'}"
    return where["records_url"], where["keystore_url"]


def _events(stores: AppStores, action: str) -> list[dict[str, Any]]:
    with stores.records_session() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
        return [json.loads(r.body) for r in rows]


def _plain(path: Path, ident: Any) -> tarfile.TarFile:
    return tarfile.open(fileobj=io.BytesIO(pyrage.decrypt(path.read_bytes(), [ident])))


def test_restore_drill_before_and_after_a_shred(
    stores: AppStores,
    keyring: KeyRing,
    loaded: World,
    tmp_path: Path,
    ident: Any,
    backend: str,
    target: Callable[[], dict[str, Any]],
) -> None:
    world = loaded
    victim = lookup(stores, keyring, world, "13900000003")[0]
    before = _create(stores, world, tmp_path, ident, identity=ident)
    assert before.checked == "full" and before.verified_at is not None and before.warning is None
    assert before.backend == ("postgresql" if backend == "postgres" else "sqlite")
    customers.shred(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        subject_id=victim.subject_id,
        whole_dataset=False,
        reason="erasure request",
    )
    after = _create(stores, world, tmp_path, ident)  # no identity: only the ciphertext re-read
    assert after.checked == "ciphertext" and after.verified_at is None
    assert after.warning == backups.FULL_VERIFY_HINT

    # Drill 1: the backup from before the shred restores, and the same master key reads it.
    where = target()
    out = backups.restore_backup(
        stores, actor=P(world.steward), path=Path(before.path), identity=ident, **where
    )
    assert out.customers == {"active": N} and not out.needs_upgrade
    assert out.revisions == {s: migrate.head_revision(s) for s in ("records", "keystore")}
    rec_url, ks_url = _urls(out, where)
    restored = AppStores.connect(
        records_url=rec_url, keystore_url=ks_url, audit=stores.audit, migrate_schema=False
    )
    try:
        view = lookup(restored, keyring, world, victim.subject_id, by="subject_id")[0]
        assert view.status == "active"
        assert view.data["contact"]["phone"] == "+8613900000003"
    finally:
        restored.dispose()

    # Drill 2: the backup taken after the shred holds no key for that customer.
    where = target()
    out = backups.restore_backup(
        stores, actor=P(world.steward), path=Path(after.path), identity=ident, **where
    )
    assert out.customers == {"active": N - 1, "shredded": 1}
    rec_url, ks_url = _urls(out, where)
    restored = AppStores.connect(
        records_url=rec_url, keystore_url=ks_url, audit=stores.audit, migrate_schema=False
    )
    try:
        with restored.records_session() as s:
            rec = s.scalar(
                select(CustomerRecord).where(CustomerRecord.subject_id == victim.subject_id)
            )
            ds = s.scalar(select(Dataset).where(Dataset.name == "crm"))
            assert rec is not None and ds is not None
            rec_id, ds_id = rec.id, ds.id
        with restored.keystore_sessions() as ks:
            assert (
                keyring.unwrap_customer_keys(ks, dataset_id=ds_id, version=1, record_ids=[rec_id])
                == {}
            )
            assert keyring.count_customer_keys(ks, dataset_id=ds_id) == N - 1
        view = lookup(restored, keyring, world, victim.subject_id, by="subject_id")[0]
        assert (view.status, view.data) == ("shredded", {})
        assert lookup(restored, keyring, world, "13900000004")[0].data  # the others read
    finally:
        restored.dispose()

    # Each step is in the live store's audit log.
    created = _events(stores, "backup.create")
    assert [e["objects"]["backup"] for e in created] == [before.id, after.id]
    assert created[0]["actor"] == world.steward and created[0]["purpose"] == "pre-transfer"
    verified = _events(stores, "backup.verify")
    assert [(e["objects"]["level"], e["objects"]["result"]) for e in verified] == [
        ("full", "ok"),
        ("ciphertext", "ok"),
    ]
    restores = _events(stores, "backup.restore")
    assert [e["objects"]["backup"] for e in restores] == [before.id, after.id]
    assert restores[1]["counts"] == {"customers_active": N - 1, "customers_shredded": 1}
    listed = backups.list_backups(stores)
    assert [(b.id, b.verified_at is not None) for b in listed] == [
        (before.id, True),
        (after.id, False),
    ]
    # A later full verify of the second one sets its verified_at.
    again = backups.verify_backup(
        stores, path=Path(after.path), identity=ident, actor=P(world.steward)
    )
    assert again.level == "full" and again.verified_at is not None and again.backup_id == after.id
    assert {m.store for m in again.members} == {"records", "keystore"}


def test_manifest_and_layout(
    stores: AppStores, loaded: World, tmp_path: Path, ident: Any, backend: str
) -> None:
    out = _create(stores, loaded, tmp_path, ident)
    path = Path(out.path)
    assert path.name.startswith("dealvault-backup-") and path.name.endswith(".tar.age")
    assert not list(path.parent.glob("*.part")) and not list(path.parent.glob(".backup-*"))
    assert path.stat().st_mode & 0o077 == 0
    suffix = "pgdump" if backend == "postgres" else "sqlite"
    with _plain(path, ident) as tar:
        names = tar.getnames()
        assert names == ["manifest.json", f"records.{suffix}", f"keystore.{suffix}"]
        f = tar.extractfile("manifest.json")
        assert f is not None
        raw = f.read()
    if shutil.which("tar"):  # standard tools read it: age -d FILE | tar x
        plain = tmp_path / "plain.tar"
        plain.write_bytes(pyrage.decrypt(path.read_bytes(), [ident]))
        listing = subprocess.run(
            ["tar", "-tf", str(plain)], capture_output=True, text=True, check=True
        )
        assert listing.stdout.split() == names and not listing.stderr
    manifest = json.loads(raw)
    assert rfc8785.dumps(manifest) == raw  # canonical JSON (RFC 8785)
    assert manifest["format"] == bk.FORMAT and manifest["dealvault_version"]
    assert manifest["backend"] == out.backend
    for store in ("records", "keystore"):
        entry = manifest["stores"][store]
        assert entry["member"] == f"{store}.{suffix}" and len(entry["sha256"]) == 64
        assert entry["alembic_revision"] == migrate.head_revision(store)  # type: ignore[arg-type]
    assert out.sha256 == bk.file_sha256(path)[0] and out.size_bytes == path.stat().st_size


def test_tampered_backup_fails_verify(
    stores: AppStores, loaded: World, tmp_path: Path, ident: Any
) -> None:
    out = _create(stores, loaded, tmp_path, ident)
    path = Path(out.path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    for identity in (None, ident):  # the recorded hash catches it first
        with pytest.raises(IntegrityError, match=path.name):
            backups.verify_backup(stores, path=path, identity=identity, actor=P(loaded.steward))
    failed = _events(stores, "backup.verify")[-1]
    assert failed["objects"]["result"] == "failed" and failed["objects"]["problem"] == "integrity"
    with pytest.raises(IntegrityError, match=path.name):
        backups.restore_backup(
            stores, actor=P(loaded.steward), path=path, identity=ident, to_dir=tmp_path / "never"
        )
    assert not (tmp_path / "never" / "vault.sqlite").exists()
    # An unrecorded copy: decryption itself fails (age's authenticated chunks).
    copy = tmp_path / "elsewhere.tar.age"
    copy.write_bytes(bytes(data[:-1]) + bytes([data[-1] ^ 0x01]))
    with pytest.raises(IntegrityError, match="decryption failed"):
        backups.verify_backup(stores, path=copy, identity=ident)


def test_a_member_changed_and_re_encrypted_is_named(
    stores: AppStores, loaded: World, tmp_path: Path, ident: Any
) -> None:
    """Whoever holds a recipient key can re-encrypt; the manifest's hashes still catch it."""
    out = _create(stores, loaded, tmp_path, ident)
    with _plain(Path(out.path), ident) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as forged:
        for info, body in members:
            if info.name.startswith("keystore."):
                body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
            forged.addfile(info, io.BytesIO(body))
    bad = tmp_path / "forged.tar.age"
    bad.write_bytes(pyrage.encrypt(buf.getvalue(), [ident.to_public()]))
    with pytest.raises(IntegrityError, match=r"member keystore\.\w+ does not match"):
        backups.verify_backup(stores, path=bad, identity=ident)


def test_wrong_identity_fails_clearly(
    stores: AppStores, loaded: World, tmp_path: Path, ident: Any
) -> None:
    out = _create(stores, loaded, tmp_path, ident)
    other = x25519.Identity.generate()
    with pytest.raises(KeyUnavailable, match="not one of its recipients"):
        backups.verify_backup(stores, path=Path(out.path), identity=other)
    with pytest.raises(KeyUnavailable):
        backups.restore_backup(
            stores,
            actor=P(loaded.steward),
            path=Path(out.path),
            identity=other,
            to_dir=tmp_path / "r",
        )
    with pytest.raises(KeyUnavailable):
        _create(stores, loaded, tmp_path, ident, identity=other)  # written, but not verifiable
    assert _events(stores, "backup.restore")[-1]["objects"]["problem"] == "key"


def test_restore_refuses_a_non_empty_target(
    stores: AppStores,
    loaded: World,
    tmp_path: Path,
    ident: Any,
    backend: str,
    store_urls: tuple[str, str],
    target: Callable[[], dict[str, Any]],
) -> None:
    out = _create(stores, loaded, tmp_path, ident)
    path = Path(out.path)
    if backend == "sqlite":
        busy = tmp_path / "busy"
        busy.mkdir()
        (busy / "keystore.sqlite").write_bytes(b"keep me")
        with pytest.raises(Conflict, match=r"keystore\.sqlite"):
            backups.restore_backup(
                stores, actor=P(loaded.steward), path=path, identity=ident, to_dir=busy
            )
        assert (busy / "keystore.sqlite").read_bytes() == b"keep me"
        assert not (busy / "vault.sqlite").exists()
        with pytest.raises(Invalid, match="PostgreSQL"):
            backups.restore_backup(
                stores,
                actor=P(loaded.steward),
                path=path,
                identity=ident,
                records_url="sqlite:///x",
                keystore_url="sqlite:///y",
            )
    else:
        fresh = target()
        with pytest.raises(Conflict, match="not empty"):  # the live store itself
            backups.restore_backup(
                stores,
                actor=P(loaded.steward),
                path=path,
                identity=ident,
                records_url=store_urls[0],
                keystore_url=fresh["keystore_url"],
            )
        with pytest.raises(Invalid, match="different databases"):
            backups.restore_backup(
                stores,
                actor=P(loaded.steward),
                path=path,
                identity=ident,
                records_url=fresh["records_url"],
                keystore_url=fresh["records_url"],
            )
        with pytest.raises(Invalid, match="PostgreSQL backup"):
            backups.restore_backup(
                stores, actor=P(loaded.steward), path=path, identity=ident, to_dir=tmp_path / "x"
            )
        assert not (tmp_path / "x" / "vault.sqlite").exists()
    with pytest.raises(Invalid, match="--to DIR"):
        backups.restore_backup(stores, actor=P(loaded.steward), path=path, identity=ident)


def test_only_a_seller_steward_may_create_or_restore(
    stores: AppStores, loaded: World, tmp_path: Path, ident: Any
) -> None:
    recip = [str(ident.to_public())]
    with pytest.raises(Forbidden):
        backups.create_backup(
            stores, actor=P(loaded.bidder_person), out_dir=tmp_path / "b", recipients=recip
        )
    assert not (tmp_path / "b").exists()
    denied = _events(stores, "backup.create")[-1]
    assert denied["decision"] == "deny" and denied["actor"] == loaded.bidder_person
    out = _create(stores, loaded, tmp_path, ident)
    with pytest.raises(Forbidden):
        backups.restore_backup(
            stores,
            actor=P(loaded.bidder_person),
            path=Path(out.path),
            identity=ident,
            to_dir=tmp_path / "r",
        )
    assert _events(stores, "backup.restore")[-1]["decision"] == "deny"
    with pytest.raises(NotFound):
        backups.create_backup(
            stores, actor=P("nobody@x.invalid"), out_dir=tmp_path, recipients=recip
        )


def test_a_busy_key_store_is_a_conflict_not_a_torn_snapshot(
    stores: AppStores,
    loaded: World,
    tmp_path: Path,
    ident: Any,
    backend: str,
    store_urls: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backup_db, "LOCK_WAIT_S", 0.2)
    if backend == "sqlite":
        path = store_urls[1].removeprefix("sqlite:///")
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # a long key-store write in progress
        close = writer.close
    else:
        eng = create_engine(store_urls[1])
        conn = eng.connect()
        conn.begin()
        conn.execute(text("LOCK TABLE kek_checks IN ROW EXCLUSIVE MODE"))

        def close() -> None:
            conn.close()
            eng.dispose()

    try:
        with pytest.raises(Conflict, match="busy"):
            _create(stores, loaded, tmp_path, ident)
    finally:
        close()
    assert not list((tmp_path / "backups").glob("*.age"))
    assert _create(stores, loaded, tmp_path, ident).id  # and it works once the write is done


def test_keys_and_recipients(tmp_path: Path) -> None:
    ident = x25519.Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"# created: 2026-01-05\n# public key: {ident.to_public()}\n{ident}\n")
    assert str(bk.load_identity(str(key_file))) == str(ident)
    assert str(bk.load_identity(str(ident))) == str(ident)  # the key itself (from the env)
    with pytest.raises(NotFound):
        bk.load_identity(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(Invalid, match="no age secret key"):
        bk.load_identity(str(tmp_path / "empty.txt"))
    with pytest.raises(Invalid, match="not a valid"):
        bk.load_identity("AGE-SECRET-KEY-1NOTAKEY")
    assert len(bk.parse_recipients([str(ident.to_public()), " "])) == 1
    with pytest.raises(Invalid, match="recipient #2"):
        bk.parse_recipients([str(ident.to_public()), "age1nope"])
    with pytest.raises(Invalid, match="at least one"):
        bk.parse_recipients([])
