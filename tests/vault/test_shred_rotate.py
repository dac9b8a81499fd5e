"""Crypto-shredding (also against a copy taken before) and key rotation with resumption."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from dealvault.crypto import envelope as env
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.models import CustomerKeyBlock, DatasetKey
from dealvault.crypto.providers import EnvKeyProvider, PassphraseKeyProvider
from dealvault.errors import Forbidden, IntegrityError, KeyUnavailable, NotFound
from dealvault.flows import customers, keys
from dealvault.flows.context import AppStores
from dealvault.vault.models import CustomerRecord, KeyRotation, ShredRecord
from tests.conftest import OP, OPERATOR, P, World
from tests.vault.helpers import customer_row, do_import, last_event, lookup, write_csv


def _load(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path, n: int = 30) -> None:
    rows = [customer_row(i) for i in range(1, n + 1)]
    do_import(
        stores,
        keyring,
        write_csv(tmp_path / "c.csv", rows),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    orders = [
        {
            "订单号": f"D{i}",
            "客户编号": f"C{i:06d}",
            "金额": "10.00",
            "下单时间": "2024-01-01 08:00:00",
        }
        for i in range(1, n + 1)
    ]
    do_import(
        stores,
        keyring,
        write_csv(tmp_path / "o.csv", orders, headers=list(orders[0])),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )


def _read(stores: AppStores, keyring: KeyRing, world: World, phone: str) -> customers.CustomerView:
    return lookup(stores, keyring, world, phone)[0]


def _copy_records(
    stores: AppStores, store_urls: tuple[str, str], tmp_path: Path, backend: str
) -> str:
    """A copy of the record store as an attacker or an old backup would have it."""
    if backend == "sqlite":
        with stores.records_engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        stores.records_engine.dispose()
        src = make_url(store_urls[0]).database
        assert src is not None
        shutil.copy(src, tmp_path / "copy.sqlite")
        return f"sqlite:///{tmp_path / 'copy.sqlite'}"
    stores.records_engine.dispose()
    url = make_url(store_urls[0])
    name = "dv_copy_" + secrets.token_hex(5)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def test_shredded_customer_is_unreadable_even_from_an_older_copy(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    store_urls: tuple[str, str],
    backend: str,
) -> None:
    _load(stores, keyring, world, tmp_path)
    victim = _read(stores, keyring, world, "13900000005")
    assert victim.children["orders"][0]["order_id"] == "D5"
    copy_url = _copy_records(stores, store_urls, tmp_path, backend)
    out = customers.shred(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        subject_id=victim.subject_id,
        whole_dataset=False,
        reason="erasure request",
    )
    assert (out.customers, out.keys_destroyed, out.scope) == (1, 1, "customer")
    assert "800-88" in out.method and out.actor == world.steward
    after = lookup(stores, keyring, world, victim.subject_id, by="subject_id")[0]
    assert (after.status, after.data, after.children) == ("shredded", {}, {})
    with pytest.raises(NotFound):  # its blind indexes are gone too
        _read(stores, keyring, world, "13900000005")
    assert _read(stores, keyring, world, "13900000006").data  # the others are intact
    # The copy taken before the shred still holds the ciphertext, marked active...
    old = AppStores.connect(records_url=copy_url, keystore_url=store_urls[1])
    try:
        with old.records_session() as s:
            rec = s.scalar(
                select(CustomerRecord).where(CustomerRecord.subject_id == victim.subject_id)
            )
            assert rec is not None and rec.status == "active" and rec.enc_identity is not None
            rec_id, blob = rec.id, rec.enc_identity
        # ...but with the live key store its key is gone: nothing decrypts it.
        view = customers.lookup(
            old,
            keyring,
            actor=P(world.steward),
            deal=world.deal,
            dataset="crm",
            by="subject_id",
            value=victim.subject_id,
            categories=None,
            purpose="t",
        )[0]
        assert view.status == "shredded" and view.data == {}
        with old.keystore_sessions() as ks:
            assert (
                keyring.unwrap_customer_keys(ks, dataset_id=1, version=1, record_ids=[rec_id]) == {}
            )
            assert keyring.count_customer_keys(ks, dataset_id=1) == 29
        with pytest.raises(IntegrityError):  # and no other key opens it
            env.open_envelope(
                secrets.token_bytes(32), blob, env.record_context(1, rec_id, "identity", 1)
            )
    finally:
        old.dispose()
        if backend == "postgres":  # drop the copy
            url = make_url(copy_url)
            admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            admin.dispose()
    with stores.records_session() as s:
        entry = s.scalar(select(ShredRecord))
        assert (
            entry is not None
            and entry.subject_id == victim.subject_id
            and entry.actor_id is not None
        )


def test_shred_whole_dataset(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _load(stores, keyring, world, tmp_path, n=5)
    out = customers.shred(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        subject_id=None,
        whole_dataset=True,
        reason="deal closed",
    )
    assert out.customers == 5 and out.keys_destroyed == 5 + 2
    with stores.keystore_sessions() as ks:
        assert ks.scalar(select(func.count()).select_from(DatasetKey)) == 0
    with pytest.raises(KeyUnavailable):  # the index key is gone too: no look-ups at all
        _read(stores, keyring, world, "13900000001")


def test_master_rotation_rewraps_only(stores: AppStores, world: World, tmp_path: Path) -> None:
    provider = PassphraseKeyProvider.create(
        path=tmp_path / "m.key",
        passphrase="passphrase!",
        time_cost=1,
        memory_kib=1024,
        parallelism=1,
    )
    ring = KeyRing(provider)
    _load(stores, ring, world, tmp_path, n=4)
    with stores.records_session() as s:
        before = [
            r.enc_contact for r in s.scalars(select(CustomerRecord).order_by(CustomerRecord.id))
        ]
    # the master key is the whole store's: a deal's steward may not rotate it
    with pytest.raises(Forbidden, match=r"keys\.rotate_master needs one of the roles: operator"):
        keys.rotate_master_key(stores, ring, actor=P(world.steward))
    denied = last_event(stores, action="keys.rotate_master")
    assert (denied["decision"], denied["actor"]) == ("deny", world.steward)
    assert any("keys.rotate_master" in r for r in denied["reasons"])
    assert PassphraseKeyProvider(path=tmp_path / "m.key", passphrase="passphrase!").versions() == [
        1
    ]
    result = keys.rotate_master_key(stores, ring, actor=OP)
    assert (result.from_version, result.to_version, result.processed) == (1, 2, 2)
    assert PassphraseKeyProvider(path=tmp_path / "m.key", passphrase="passphrase!").versions() == [
        2
    ]
    with stores.records_session() as s:
        after = [
            r.enc_contact for r in s.scalars(select(CustomerRecord).order_by(CustomerRecord.id))
        ]
    assert after == before  # records untouched
    fresh = KeyRing(PassphraseKeyProvider(path=tmp_path / "m.key", passphrase="passphrase!"))
    assert _read(stores, fresh, world, "13900000002").data["contact"]["phone"] == "+8613900000002"
    done = last_event(stores, action="keys.rotate_master")
    assert (done["decision"], done["actor"], done["authn"]) == ("allow", OPERATOR, "local")
    status = keys.keys_status(stores, fresh, actor=OP)
    assert status.kek_active_version == 2 and all(
        k.endswith("/m2") for k in status.datasets[0].dataset_keys
    )


def test_env_master_rotation_adopts_the_new_key(
    stores: AppStores, world: World, tmp_path: Path
) -> None:
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    ring = KeyRing(EnvKeyProvider.from_text(kek_id="ci", text=k1.hex()))
    _load(stores, ring, world, tmp_path, n=3)
    ring2 = KeyRing(EnvKeyProvider.from_text(kek_id="ci", text=f"2:{k2.hex()},1:{k1.hex()}"))
    assert keys.rotate_master_key(stores, ring2, actor=OP).to_version == 2
    only_new = KeyRing(EnvKeyProvider.from_text(kek_id="ci", text=f"2:{k2.hex()}"))
    assert _read(stores, only_new, world, "13900000001").data
    wrong = KeyRing(
        EnvKeyProvider.from_text(kek_id="ci", text=f"2:{secrets.token_bytes(32).hex()}")
    )
    with pytest.raises(KeyUnavailable, match="does not match"):
        keys.keys_status(stores, wrong, actor=OP)


def test_data_rotation_resumes_after_interruption(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _load(stores, keyring, world, tmp_path, n=25)
    with stores.records_session() as s:
        before = {r.id: r.enc_contact for r in s.scalars(select(CustomerRecord))}

    def crash(done: int) -> None:
        if done >= 10:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        keys.rotate_data_key(
            stores,
            keyring,
            actor=P(world.steward),
            deal=world.deal,
            dataset="crm",
            batch_size=10,
            after_batch=crash,
        )
    with stores.records_session() as s:
        versions = {
            v: n
            for v, n in s.execute(
                select(CustomerRecord.key_version, func.count()).group_by(
                    CustomerRecord.key_version
                )
            )
        }
        assert versions == {2: 10, 1: 15}
        assert s.scalar(select(KeyRotation.status)) == "running"
    # mid-rotation every customer still reads, whichever version it is at
    assert _read(stores, keyring, world, "13900000003").children["orders"][0]["order_id"] == "D3"
    assert _read(stores, keyring, world, "13900000020").data["identity"]
    result = keys.rotate_data_key(
        stores, keyring, actor=P(world.steward), deal=world.deal, dataset="crm", batch_size=10
    )
    assert result.resumed and (result.from_version, result.to_version, result.processed) == (
        1,
        2,
        25,
    )
    with stores.records_session() as s, stores.keystore_sessions() as ks:
        recs = s.scalars(select(CustomerRecord)).all()
        assert {r.key_version for r in recs} == {2}
        assert all(before[r.id] != r.enc_contact for r in recs)  # re-encrypted
        assert (
            ks.scalar(
                select(func.count())
                .select_from(CustomerKeyBlock)
                .where(CustomerKeyBlock.version == 1)
            )
            == 0
        )
        assert (
            ks.scalar(
                select(DatasetKey).where(DatasetKey.purpose == "data", DatasetKey.version == 1)
            )
            is None
        )
    v = _read(stores, keyring, world, "13900000021")
    assert (
        v.data["contact"]["phone"] == "+8613900000021"
        and v.children["orders"][0]["order_id"] == "D21"
    )
    # a fresh key ring (no cached keys) reads too
    fresh = KeyRing(keyring.provider)
    assert _read(stores, fresh, world, "13900000001").data["identity"]
