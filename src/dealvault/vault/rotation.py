"""Key rotation: master key (rewrap only) and data keys (re-encrypt, resumable after a kill)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from dealvault.crypto import envelope as env
from dealvault.crypto import signing_keys
from dealvault.crypto.keyring import DATA, KeyRing
from dealvault.crypto.models import DatasetKey
from dealvault.db.base import utcnow
from dealvault.db.stores import Stores, UnitOfWork
from dealvault.errors import Conflict
from dealvault.vault.jobs import lock_by_id, running_rotation
from dealvault.vault.models import (
    CATEGORY_COLUMNS,
    ChildRecord,
    CustomerRecord,
    Dataset,
    KeyRotation,
)


@dataclass(frozen=True)
class RotationResult:
    kind: str
    from_version: int
    to_version: int
    processed: int
    resumed: bool


def rotate_master(stores: Stores, keyring: KeyRing, *, actor_id: int | None) -> RotationResult:
    """Make a new master-key version (or adopt a new env key) and rewrap every dataset key."""
    provider = keyring.provider
    with stores.keystore_session() as ks:
        keyring.verify_kek(ks)
        pending = ks.scalar(
            select(DatasetKey).where(DatasetKey.kek_version != provider.active_version())
        )
        old = provider.active_version()
        resumed = pending is not None
        if pending is None:
            provider.add_version()  # passphrase: a new key in the key file; env: explains how
        target = provider.active_version()
        keyring.register_kek(ks, target)
        n = keyring.rewrap_dataset_keys(ks, to_version=target)
        signing_keys.rewrap(ks, keyring, to_version=target)  # the audit log's key too
        ks.commit()
    for version in provider.versions():
        if version != target:
            provider.retire(version)
    with stores.unit_of_work() as uow:
        uow.records.add(
            KeyRotation(
                kind="master",
                dataset_id=None,
                from_version=old,
                to_version=target,
                status="done",
                processed=n,
                actor_id=actor_id,
                finished_at=utcnow(),
            )
        )
    return RotationResult("master", old, target, n, resumed)


#: before_write(record ids): called in each batch between reading and writing (tests)
BatchHook = Callable[[list[int]], None]
#: Customers a rotation re-encrypts: all but the shredded (opted-out ones keep their data).
_KEPT = CustomerRecord.status != "shredded"
_JOB = "key rotation"


def rotate_data(
    stores: Stores,
    keyring: KeyRing,
    *,
    dataset_id: int,
    actor_id: int | None,
    batch_size: int = 5_000,
    after_batch: Callable[[int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    before_write: BatchHook | None = None,
) -> RotationResult:
    """Re-encrypt every customer of a dataset under new customer keys and a new data key.

    Each batch is one transaction holding the dataset's job lock (``vault.jobs``): records
    and keys are read, re-encrypted and written while no shred, import or receive can run
    on the dataset, so a customer shredded meanwhile is never written back. New keys commit
    first, then the records. A rotation killed at any point resumes from the records still
    at the old version.
    """
    with stores.unit_of_work() as uow:
        ds = lock_by_id(uow, dataset_id, job=_JOB)
        if ds.status != "active":
            raise Conflict(f"dataset is {ds.status}; nothing to rotate")
        rot = running_rotation(uow, ds)
        resumed = rot is not None
        if rot is None:
            rot = KeyRotation(
                kind="data",
                dataset_id=dataset_id,
                from_version=ds.data_key_version,
                to_version=ds.data_key_version + 1,
                actor_id=actor_id,
            )
            uow.records.add(rot)
            uow.records.flush()
        keyring.create_dataset_key(
            uow.keys, dataset_id=dataset_id, purpose=DATA, version=rot.to_version
        )
        rot_id, old, new = rot.id, rot.from_version, rot.to_version
        # what this run will re-encrypt: the dataset's readable customers still on the old key
        todo = uow.records.scalar(
            select(func.count())
            .select_from(CustomerRecord)
            .where(
                CustomerRecord.dataset_id == dataset_id, CustomerRecord.key_version == old, _KEPT
            )
        )
        total = int(todo or 0)
    batch = _Batch(stores, keyring, dataset_id, rot_id, old, new, batch_size, before_write)
    processed = 0
    finished = False
    while not finished:
        done = batch.run()
        if done:
            processed += done
            if progress is not None:
                progress(processed, total)
            if after_batch is not None:
                after_batch(processed)
            continue
        finished = _finish(stores, keyring, dataset_id, rot_id, old, new)
    with stores.records_session() as s:
        rot = s.get(KeyRotation, rot_id)
        assert rot is not None
        processed = rot.processed
    keyring.forget(dataset_id)
    stores.purge_deleted_keys()
    return RotationResult("data", old, new, processed, resumed)


def _finish(
    stores: Stores, keyring: KeyRing, dataset_id: int, rot_id: int, old: int, new: int
) -> bool:
    """Under the lock: with no customer left at the old version, drop that version's keys and
    close the rotation. False when customers are left (another batch round follows)."""
    with stores.unit_of_work() as uow:
        ds = lock_by_id(uow, dataset_id, job=_JOB)
        rot = _running(uow, ds, rot_id)
        left = uow.records.scalar(
            select(CustomerRecord.id).where(
                CustomerRecord.dataset_id == dataset_id, CustomerRecord.key_version == old, _KEPT
            )
        )
        if left is not None:
            return False
        keyring.drop_version(uow.keys, dataset_id=dataset_id, version=old)
        ds.data_key_version = new
        rot.status = "done"
        rot.finished_at = utcnow()
    return True


def _running(uow: UnitOfWork, ds: Dataset, rot_id: int) -> KeyRotation:
    """The rotation, still running on a dataset still active (read under the lock)."""
    rot = uow.records.get(KeyRotation, rot_id)
    if ds.status != "active" or rot is None or rot.status != "running":
        raise Conflict(
            f"the key rotation of dataset {ds.name!r} stopped: the dataset is {ds.status}"
            + ("" if rot is None else f" and the rotation {rot.status}")
        )
    return rot


@dataclass(frozen=True)
class _Batch:
    stores: Stores
    keyring: KeyRing
    dataset_id: int
    rot_id: int
    old: int
    new: int
    size: int
    before_write: BatchHook | None

    def run(self) -> int:
        """Re-encrypt the next customers still at the old version; how many (0: none left)."""
        with self.stores.unit_of_work() as uow:
            ds = lock_by_id(uow, self.dataset_id, job=_JOB)
            rot = _running(uow, ds, self.rot_id)
            s = uow.records
            recs = list(
                s.scalars(
                    select(CustomerRecord)
                    .where(
                        CustomerRecord.dataset_id == self.dataset_id,
                        CustomerRecord.key_version == self.old,
                        _KEPT,
                    )
                    .order_by(CustomerRecord.id)
                    .limit(self.size)
                )
            )
            if not recs:
                return 0
            ids = [r.id for r in recs]
            children = list(s.scalars(select(ChildRecord).where(ChildRecord.record_id.in_(ids))))
            old_keys = self.keyring.unwrap_customer_keys(
                uow.keys, dataset_id=self.dataset_id, version=self.old, record_ids=ids
            )
            new_keys = self._reencrypt(recs, children, old_keys, ds.schema_version)
            if self.before_write is not None:
                self.before_write(ids)
            # 1. new keys (merged over any a killed run left behind); they commit first
            self.keyring.put_customer_keys(
                uow.keys, dataset_id=self.dataset_id, version=self.new, keys=new_keys
            )
            # 2. records: re-encrypted ones are set in place by _reencrypt; lost ones go
            for rec in recs:
                if rec.id not in new_keys:  # key already destroyed: shredded in fact
                    rec.status = "shredded"
                    for col in CATEGORY_COLUMNS:
                        setattr(rec, col, None)
            rot.last_record_id = max(ids)
            rot.processed += len(ids)
        # The old version's keys stay until the rotation finishes and drops that version whole.
        return len(ids)

    def _reencrypt(
        self,
        recs: list[CustomerRecord],
        children: list[ChildRecord],
        old_keys: dict[int, bytes],
        schema: int,
    ) -> dict[int, bytes]:
        """Seal every record (and its child rows) under a fresh customer key, in place."""
        head = env.Header(env.ALG_AES_256_GCM, "ck", self.new)
        new_keys: dict[int, bytes] = {}
        for rec in recs:
            key = old_keys.get(rec.id)
            if key is None:
                continue
            opener = env.opener(key)
            fresh = os.urandom(32)
            sealer = env.Sealer(fresh, head)
            new_keys[rec.id] = fresh
            for col in CATEGORY_COLUMNS:
                blob = getattr(rec, col)
                if blob is not None:
                    ctx = env.record_context(self.dataset_id, rec.id, col[4:], schema)
                    setattr(rec, col, sealer.seal(env.open_with(opener, blob, ctx), ctx))
            rec.key_version = self.new
        for ch in children:
            owner = ch.record_id
            if ch.envelope is None or owner not in new_keys:
                continue
            ctx = env.child_context(self.dataset_id, ch.id, owner, ch.category)
            plain = env.open_envelope(old_keys[owner], ch.envelope, ctx)
            ch.envelope = env.seal(new_keys[owner], head, plain, ctx)
            ch.key_version = self.new
        return new_keys
