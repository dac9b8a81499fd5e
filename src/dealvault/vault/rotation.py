"""Key rotation: master key (rewrap only) and data keys (re-encrypt, resumable after a kill)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from dealvault.crypto import envelope as env
from dealvault.crypto import signing_keys
from dealvault.crypto.keyring import DATA, KeyRing
from dealvault.crypto.models import DatasetKey
from dealvault.db.base import utcnow
from dealvault.db.stores import Stores
from dealvault.errors import Conflict, NotFound
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
    with stores.keystore_sessions() as ks:
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


def rotate_data(
    stores: Stores,
    keyring: KeyRing,
    *,
    dataset_id: int,
    actor_id: int | None,
    batch_size: int = 5_000,
    after_batch: Callable[[int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RotationResult:
    """Re-encrypt every customer of a dataset under new customer keys and a new data key.

    Each batch commits on its own: new keys first, then records, then the old keys go. A
    rotation killed at any point resumes from the records still at the old version.
    """
    with stores.unit_of_work() as uow:
        ds = uow.records.get(Dataset, dataset_id)
        if ds is None:
            raise NotFound(f"dataset {dataset_id} not found")
        if ds.status != "active":
            raise Conflict(f"dataset is {ds.status}; nothing to rotate")
        rot = uow.records.scalar(
            select(KeyRotation).where(
                KeyRotation.kind == "data",
                KeyRotation.dataset_id == dataset_id,
                KeyRotation.status == "running",
            )
        )
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
        rot_id, old, new, schema = rot.id, rot.from_version, rot.to_version, ds.schema_version
        total = (
            uow.records.scalar(
                select(CustomerRecord.id)
                .where(CustomerRecord.dataset_id == dataset_id)
                .order_by(CustomerRecord.id.desc())
            )
            or 0
        )
    processed = 0
    while True:
        done = _rotate_batch(stores, keyring, dataset_id, rot_id, old, new, schema, batch_size)
        if done == 0:
            break
        processed += done
        if progress is not None:
            progress(processed, total)
        if after_batch is not None:
            after_batch(processed)
    with stores.unit_of_work() as uow:
        keyring.drop_version(uow.keys, dataset_id=dataset_id, version=old)
        ds = uow.records.get(Dataset, dataset_id)
        rot = uow.records.get(KeyRotation, rot_id)
        assert ds is not None and rot is not None
        ds.data_key_version = new
        rot.status = "done"
        rot.finished_at = utcnow()
        processed = rot.processed
    keyring.forget(dataset_id)
    stores.purge_deleted_keys()
    return RotationResult("data", old, new, processed, resumed)


def _rotate_batch(
    stores: Stores,
    keyring: KeyRing,
    dataset_id: int,
    rot_id: int,
    old: int,
    new: int,
    schema: int,
    batch_size: int,
) -> int:
    with stores.records_session() as s:
        recs = [
            (r.id, {c: getattr(r, c) for c in CATEGORY_COLUMNS})
            for r in s.scalars(
                select(CustomerRecord)
                .where(
                    CustomerRecord.dataset_id == dataset_id,
                    CustomerRecord.key_version == old,
                    CustomerRecord.status == "active",
                )
                .order_by(CustomerRecord.id)
                .limit(batch_size)
            )
        ]
        if not recs:
            return 0
        ids = [rid for rid, _ in recs]
        children = [
            (ch.id, ch.record_id, ch.category, ch.envelope)
            for ch in s.scalars(select(ChildRecord).where(ChildRecord.record_id.in_(ids)))
        ]
    with stores.keystore_sessions() as ks:
        old_keys = keyring.unwrap_customer_keys(
            ks, dataset_id=dataset_id, version=old, record_ids=ids
        )
    head = env.Header(env.ALG_AES_256_GCM, "ck", new)
    new_keys: dict[int, bytes] = {}
    updates: dict[int, dict[str, bytes | None]] = {}
    lost: list[int] = []
    for rec_id, blobs in recs:
        key = old_keys.get(rec_id)
        if key is None:  # key already destroyed: the record is shredded in fact
            lost.append(rec_id)
            continue
        opener = env.opener(key)
        fresh = os.urandom(32)
        sealer = env.Sealer(fresh, head)
        new_keys[rec_id] = fresh
        values: dict[str, bytes | None] = {}
        for col, blob in blobs.items():
            if blob is not None:
                ctx = env.record_context(dataset_id, rec_id, col[4:], schema)
                values[col] = sealer.seal(env.open_with(opener, blob, ctx), ctx)
        updates[rec_id] = values
    child_updates: dict[int, bytes] = {}
    for ch_id, owner, category, blob in children:
        if blob is None or owner not in new_keys:
            continue
        ctx = env.child_context(dataset_id, ch_id, owner, category)
        plain = env.open_envelope(old_keys[owner], blob, ctx)
        child_updates[ch_id] = env.seal(new_keys[owner], head, plain, ctx)
    # 1. new keys (merged over any a killed run left behind)
    with stores.keystore_sessions() as ks:
        keyring.put_customer_keys(ks, dataset_id=dataset_id, version=new, keys=new_keys)
        ks.commit()
    # 2. records re-encrypted, progress noted
    with stores.unit_of_work() as uow:
        s = uow.records
        for rec_id, values in updates.items():
            rec = s.get(CustomerRecord, rec_id)
            assert rec is not None
            for col, blob in values.items():
                setattr(rec, col, blob)
            rec.key_version = new
        for rec_id in lost:
            rec = s.get(CustomerRecord, rec_id)
            assert rec is not None
            rec.status = "shredded"
            for col in CATEGORY_COLUMNS:
                setattr(rec, col, None)
        for ch_id, blob in child_updates.items():
            ch = s.get(ChildRecord, ch_id)
            assert ch is not None
            ch.envelope = blob
            ch.key_version = new
        rot = s.get(KeyRotation, rot_id)
        assert rot is not None
        rot.last_record_id = max(ids)
        rot.processed += len(ids)
    # The old version's keys stay until the rotation finishes and drops that version whole.
    return len(ids)
