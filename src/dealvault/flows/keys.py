"""Use cases on keys: status of the hierarchy, master-key and data-key rotation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from pydantic import BaseModel
from sqlalchemy import func, select

from dealvault.access import service as access
from dealvault.access.models import Deal
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.models import DatasetKey
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint
from dealvault.vault import service as vault
from dealvault.vault.models import Dataset, KeyRotation, ShredRecord
from dealvault.vault.rotation import RotationResult, rotate_data, rotate_master


class DatasetKeysOut(BaseModel):
    deal: str
    dataset: str
    status: str
    data_key_version: int
    dataset_keys: list[str]
    customers_active: int
    customers_shredded: int
    customer_keys: int
    shred_events: int
    rotation_running: bool


class KeysStatusOut(BaseModel):
    provider: str
    kek_id: str
    kek_active_version: int
    kek_versions: list[int]
    datasets: list[DatasetKeysOut]


def keys_status(stores: AppStores, keyring: KeyRing, *, actor: Principal) -> KeysStatusOut:
    """The key hierarchy of every dataset (store operators only)."""
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="keys.status",
            event=EventIn(action="keys.status"),
        )
        audit(stores, uow, event)
    p = keyring.provider
    out = KeysStatusOut(
        provider=p.name,
        kek_id=p.kek_id,
        kek_active_version=p.active_version(),
        kek_versions=p.versions(),
        datasets=[],
    )
    with stores.records_session() as s, stores.keystore_sessions() as ks:
        keyring.verify_kek(ks)
        deals = {d.id: d.code for d in s.scalars(select(Deal))}
        for ds in s.scalars(select(Dataset).order_by(Dataset.id)):
            counts = vault.dataset_counts(s, dataset=ds)
            dkeys = ks.scalars(
                select(DatasetKey)
                .where(DatasetKey.dataset_id == ds.id)
                .order_by(DatasetKey.purpose, DatasetKey.version)
            ).all()
            out.datasets.append(
                DatasetKeysOut(
                    deal=deals.get(ds.deal_id, "?"),
                    dataset=ds.name,
                    status=ds.status,
                    data_key_version=ds.data_key_version,
                    dataset_keys=[f"{k.purpose} v{k.version}/m{k.kek_version}" for k in dkeys],
                    customers_active=counts["active"],
                    customers_shredded=counts["shredded"],
                    customer_keys=keyring.count_customer_keys(ks, dataset_id=ds.id),
                    shred_events=int(
                        s.scalar(
                            select(func.count())
                            .select_from(ShredRecord)
                            .where(ShredRecord.dataset_id == ds.id)
                        )
                        or 0
                    ),
                    rotation_running=s.scalar(
                        select(KeyRotation.id).where(
                            KeyRotation.dataset_id == ds.id, KeyRotation.status == "running"
                        )
                    )
                    is not None,
                )
            )
    return out


def rotate_master_key(stores: AppStores, keyring: KeyRing, *, actor: Principal) -> RotationResult:
    """Rewrap every dataset key under a new master-key version (store operators only)."""
    with stores.unit_of_work() as uow:
        person, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="keys.rotate_master",
            event=EventIn(action="keys.rotate_master"),
        )
        actor_id = person.id
    result = rotate_master(stores, keyring, actor_id=actor_id)
    with stores.unit_of_work() as uow:
        audit(
            stores,
            uow,
            replace(
                event,
                objects={"from": result.from_version, "to": result.to_version},
                counts={"dataset_keys": result.processed},
            ),
        )
        checkpoint(stores, uow, reason="master key rotated")
    return result


def rotate_data_key(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    batch_size: int = 5_000,
    progress: Callable[[int, int], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> RotationResult:
    with stores.records_session() as s:
        d = access.get_deal(s, code=deal)
        person, event = authorize(
            stores,
            s,
            actor=actor,
            action="keys.rotate_data",
            deal=d,
            event=EventIn(action="keys.rotate_data", objects={"dataset": dataset}),
        )
        ds = vault.get_dataset(s, deal=d, name=dataset)
        ds_id, actor_id = ds.id, person.id
    result = rotate_data(
        stores,
        keyring,
        dataset_id=ds_id,
        actor_id=actor_id,
        batch_size=batch_size,
        progress=progress,
        after_batch=after_batch,
    )
    with stores.unit_of_work() as uow:
        audit(
            stores,
            uow,
            replace(
                event,
                counts={"customers": result.processed},
                objects={"dataset": dataset, "from": result.from_version, "to": result.to_version},
            ),
        )
    return result
