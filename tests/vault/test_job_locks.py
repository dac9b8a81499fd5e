"""Shred, key rotation and import exclude each other: a shred is never undone (both backends)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from dealvault.audit.service import AuditConfig
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.models import CustomerKeyBlock
from dealvault.db import locks
from dealvault.errors import Busy, Conflict
from dealvault.flows import customers, keys
from dealvault.flows.context import AppStores
from dealvault.vault.models import CATEGORY_COLUMNS, CustomerRecord, KeyRotation
from dealvault.vault.rotation import rotate_data
from tests.conftest import P, World
from tests.vault.helpers import customer_row, do_import, lookup, write_csv

N = 30


@pytest.fixture
def fast(store_urls: tuple[str, str], audit_config: AuditConfig) -> Iterator[AppStores]:
    """A second client of the same stores that waits only 0.3 s for a lock."""
    s = AppStores.connect(
        records_url=store_urls[0], keystore_url=store_urls[1], audit=audit_config, lock_timeout=0.3
    )
    yield s
    s.dispose()


def _load(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path, n: int = N) -> None:
    do_import(
        stores,
        keyring,
        write_csv(tmp_path / "c.csv", [customer_row(i) for i in range(1, n + 1)]),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )


def _subject(stores: AppStores, keyring: KeyRing, world: World, phone: str) -> str:
    return lookup(stores, keyring, world, phone)[0].subject_id


def _shred(stores: AppStores, keyring: KeyRing, world: World, subject: str) -> None:
    customers.shred(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        subject_id=subject,
        whole_dataset=False,
        reason="erasure request",
    )


def _key_holders(stores: AppStores, keyring: KeyRing) -> dict[int, set[int]]:
    """Record id -> key versions holding a key for it (every version in the key store)."""
    out: dict[int, set[int]] = {}
    with stores.keystore_sessions() as ks:
        versions = sorted(set(ks.scalars(select(CustomerKeyBlock.version))))
        for v in versions:
            for rid in keyring.unwrap_customer_keys(
                ks, dataset_id=1, version=v, record_ids=range(1, 10 * N)
            ):
                out.setdefault(rid, set()).add(v)
    return out


def assert_shreds_hold(stores: AppStores, keyring: KeyRing) -> int:
    """Every shredded customer has no ciphertext and no key of any version; returns how
    many customers are shredded."""
    holders = _key_holders(stores, keyring)
    with stores.records_session() as s:
        shredded = s.scalars(select(CustomerRecord).where(CustomerRecord.status == "shredded"))
        n = 0
        for rec in shredded:
            n += 1
            assert all(getattr(rec, c) is None for c in CATEGORY_COLUMNS), rec.id
            assert rec.id not in holders, (rec.id, holders.get(rec.id))
    return n


def test_a_shred_inside_a_rotation_batch_waits_for_it_and_is_not_undone(
    stores: AppStores, fast: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    """The interleaving of the report, made deterministic: the shred is attempted exactly
    between a batch's read and its write. It must not slip in (it used to, and the batch
    then wrote the customer back under a new key)."""
    _load(stores, keyring, world, tmp_path)
    victim = _subject(stores, keyring, world, "13900000005")
    attempts: list[BaseException | str] = []

    def shred_now(ids: list[int]) -> None:
        if attempts:
            return
        try:
            _shred(fast, keyring, world, victim)
            attempts.append("shredded")
        except Busy as exc:
            attempts.append(exc)

    rotate_data(stores, keyring, dataset_id=1, actor_id=None, batch_size=10, before_write=shred_now)
    assert isinstance(attempts[0], Busy), attempts
    assert "dataset 'crm' is held by another job" in str(attempts[0])
    assert "run the shred again" in str(attempts[0]) and "13900000005" not in str(attempts[0])
    # nothing happened to the victim: still active, rotated, readable
    assert lookup(stores, keyring, world, "13900000005")[0].data["identity"]
    assert assert_shreds_hold(stores, keyring) == 0
    _shred(fast, keyring, world, victim)  # retried after the rotation: goes through
    gone = lookup(stores, keyring, world, victim, by="subject_id")[0]
    assert (gone.status, gone.data) == ("shredded", {})
    assert assert_shreds_hold(stores, keyring) == 1
    with stores.records_session() as s:
        assert set(s.scalars(select(CustomerRecord.key_version))) == {2}


def test_a_shred_waiting_on_a_rotation_batch_lands_after_it(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shred from another thread blocks on the batch's lock, then destroys the keys the
    batch has just written: the customer stays shredded, the rotation completes."""
    _load(stores, keyring, world, tmp_path)
    victim = _subject(stores, keyring, world, "13900000007")
    waiting = threading.Event()
    real = locks.take_job_lock

    def announced(uow: object, *, scope: str, busy: str) -> None:
        if threading.current_thread().name == "shredder":
            waiting.set()
        real(uow, scope=scope, busy=busy)  # type: ignore[arg-type]

    monkeypatch.setattr("dealvault.vault.jobs.take_job_lock", announced)
    errors: list[BaseException] = []

    def shred() -> None:
        try:
            _shred(stores, keyring, world, victim)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=shred, name="shredder")

    def start_shred(ids: list[int]) -> None:
        if not thread.is_alive() and not waiting.is_set():
            thread.start()
            assert waiting.wait(timeout=60)

    result = rotate_data(
        stores, keyring, dataset_id=1, actor_id=None, batch_size=10, before_write=start_shred
    )
    thread.join(timeout=120)
    assert not thread.is_alive() and errors == []
    assert result.processed == N and result.to_version == 2
    gone = lookup(stores, keyring, world, victim, by="subject_id")[0]
    assert (gone.status, gone.data) == ("shredded", {})
    assert assert_shreds_hold(stores, keyring) == 1
    assert (
        lookup(stores, keyring, world, "13900000008")[0]
        .data["contact"]["phone"]
        .endswith("13900000008")
    )


def test_import_waits_out_no_rotation_and_opted_out_customers_survive_one(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _load(stores, keyring, world, tmp_path, n=12)
    resting = _subject(stores, keyring, world, "13900000004")
    customers.set_status(
        stores,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        subject_id=resting,
        status="opted_out",
        reason="asked on 2026-01-02",
    )

    def stop(done: int) -> None:
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        keys.rotate_data_key(
            stores,
            keyring,
            actor=P(world.steward),
            deal=world.deal,
            dataset="crm",
            batch_size=5,
            after_batch=stop,
        )
    more = write_csv(tmp_path / "more.csv", [customer_row(i) for i in range(40, 43)])
    with pytest.raises(Conflict, match="data-key rotation of dataset 'crm' is under way"):
        do_import(
            stores, keyring, more, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path
        )
    keys.rotate_data_key(stores, keyring, actor=P(world.steward), deal=world.deal, dataset="crm")
    do_import(stores, keyring, more, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)
    # the opted-out customer was re-encrypted too: its data is intact once it is active again
    customers.set_status(
        stores,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        subject_id=resting,
        status="active",
        reason="withdrawn on 2026-02-01",
    )
    back = lookup(stores, keyring, world, resting, by="subject_id")[0]
    assert back.data["contact"]["phone"] == "+8613900000004"
    assert lookup(stores, keyring, world, "13900000041")[0].data["identity"]


def test_shredding_the_dataset_stops_a_rotation(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _load(stores, keyring, world, tmp_path, n=12)

    def stop(done: int) -> None:
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        rotate_data(stores, keyring, dataset_id=1, actor_id=None, batch_size=5, after_batch=stop)
    customers.shred(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        subject_id=None,
        whole_dataset=True,
        reason="deal closed",
    )
    with pytest.raises(Conflict, match="dataset is shredded; nothing to rotate"):
        rotate_data(stores, keyring, dataset_id=1, actor_id=None)
    with stores.records_session() as s:
        assert s.scalar(select(KeyRotation.status)) == "stopped"
    status = keys.keys_status(stores, keyring, actor=P(world.operator))
    assert status.datasets[0].rotation_running is False
    assert assert_shreds_hold(stores, keyring) == 12
