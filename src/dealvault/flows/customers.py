"""Use cases on customers: look up and read, record an opt-out or objection, shred, and read
back an import's rejects."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
from pydantic import BaseModel

from dealvault.access import service as access
from dealvault.access.decision import decide
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import DATA, KeyRing
from dealvault.errors import Invalid, NotFound
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, enforce, person_of, resolve
from dealvault.vault import service as vault
from dealvault.vault import statuses
from dealvault.vault.models import ImportRun
from dealvault.vault.read import CustomerView, disclose, find_subjects
from dealvault.vault.rejects import read_rejects
from dealvault.vault.shred import shred_customer, shred_dataset


class ShredOut(BaseModel):
    scope: str
    dataset: str
    subject_id: str | None
    customers: int
    keys_destroyed: int
    method: str
    actor: str
    at: str


def lookup(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    by: str,
    value: str,
    categories: list[str] | None,
    purpose: str,
) -> list[CustomerView]:
    """Find customers by a blind-indexed value and read them through the one read path."""
    with stores.unit_of_work() as uow:
        person, d, ds = resolve(uow.records, actor=actor, deal=deal, dataset=dataset)
        event = EventIn(
            action="disclose",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=d.code,
            purpose=purpose,
            objects={
                "dataset": ds.name,
                "level": "full",
                "stage": d.stage,
                "by": by,
                "categories": ",".join(categories or ["all"]),
            },
        )
        enforce(stores, decide(uow.records, actor=person, deal=d, action="read"), event)
        subjects = find_subjects(uow, keyring, dataset=ds, by=by, value=value)
        if not subjects:
            raise NotFound(f"no customer with this {by.replace('_', ' ')} in dataset {dataset!r}")
        views = disclose(
            uow,
            keyring,
            actor=person,
            deal=d,
            dataset=ds,
            subject_ids=subjects,
            categories=categories,
            purpose=purpose,
        )
        audit(
            stores,
            uow,
            replace(event, decision="allow", subjects=subjects, counts={"customers": len(views)}),
        )
        return views


SETTABLE_STATUSES = statuses.SETTABLE_STATUSES


class StatusOut(BaseModel):
    dataset: str
    subject_id: str
    previous: str
    status: str
    actor: str


def set_status(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    subject_id: str,
    status: str,
    reason: str,
) -> StatusOut:
    """Record that a customer opted out or objects to the transfer (or withdrew it): such
    customers are left out of every disclosure and transfer package, counted per reason.
    Seller stewards only; audited with the reason."""
    if status not in SETTABLE_STATUSES:
        raise Invalid(f"status must be one of {', '.join(SETTABLE_STATUSES)}")
    if not reason.strip():
        raise Invalid("a reason is required (e.g. the customer's request and its date)")
    with stores.unit_of_work() as uow:
        person, d, ds = resolve(uow.records, actor=actor, deal=deal, dataset=dataset)
        event = EventIn(
            action="customer.status",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=d.code,
            purpose=reason,
            objects={"dataset": ds.name, "status": status},
        )
        enforce(stores, decide(uow.records, actor=person, deal=d, action="customer.status"), event)
        previous = statuses.set_statuses(uow, dataset=ds, subject_ids=[subject_id], status=status)[
            subject_id
        ]
        audit(
            stores,
            uow,
            replace(
                event,
                decision="allow",
                objects=dict(event.objects) | {"previous": previous},
                subjects=[subject_id],
            ),
        )
        return StatusOut(
            dataset=ds.name,
            subject_id=subject_id,
            previous=previous,
            status=status,
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
        )


def shred(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    subject_id: str | None,
    whole_dataset: bool,
    reason: str | None,
) -> ShredOut:
    if (subject_id is None) == (not whole_dataset):
        raise Invalid("give either a subject id or --all-dataset, not both and not neither")
    with stores.unit_of_work() as uow:
        person, d, ds = resolve(uow.records, actor=actor, deal=deal, dataset=dataset)
        event = EventIn(
            action="shred",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=d.code,
            purpose=reason,
            objects={
                "dataset": ds.name,
                "stage": d.stage,
                "scope": "dataset" if whole_dataset else "customer",
            },
        )
        enforce(stores, decide(uow.records, actor=person, deal=d, action="customer.shred"), event)
        subjects = [] if whole_dataset else [subject_id or ""]
        if whole_dataset:
            entry = shred_dataset(uow, keyring, dataset=ds, actor=person, reason=reason)
        else:
            assert subject_id is not None
            entry = shred_customer(
                uow, keyring, dataset=ds, subject_id=subject_id, actor=person, reason=reason
            )
        audit(
            stores,
            uow,
            replace(
                event,
                decision="allow",
                subjects=subjects,
                counts={"customers": entry.customers, "keys_destroyed": entry.keys_destroyed},
            ),
        )
        out = ShredOut(
            scope=entry.scope,
            dataset=ds.name,
            subject_id=entry.subject_id,
            customers=entry.customers,
            keys_destroyed=entry.keys_destroyed,
            method=entry.method,
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            at=entry.at.isoformat(),
        )
    stores.purge_deleted_keys()
    return out


def read_import_rejects(
    stores: AppStores, keyring: KeyRing, *, actor: Principal, deal: str, import_id: int
) -> pl.DataFrame:
    """The rejected rows of an import with their reasons and original values (steward only)."""
    with stores.unit_of_work() as uow:
        person = person_of(uow.records, actor)
        d = access.get_deal(uow.records, code=deal)
        run = uow.records.get(ImportRun, import_id)
        if run is None:
            raise NotFound(f"import #{import_id} not found")
        event = EventIn(
            action="rejects.read",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=d.code,
            objects={"import": import_id, "stage": d.stage},
        )
        enforce(stores, decide(uow.records, actor=person, deal=d, action="read"), event)
        if run.reject_file is None:
            raise NotFound(f"import #{import_id} rejected no rows")
        ds = next(
            (x for x in vault.list_datasets(uow.records, deal=d) if x.id == run.dataset_id), None
        )
        if ds is None:
            raise NotFound(f"import #{import_id} is not part of deal {deal!r}")
        key = keyring.dataset_key(
            uow.keys, dataset_id=ds.id, purpose=DATA, version=ds.data_key_version
        )
        frame = read_rejects(
            path=Path(run.reject_file), key=key, dataset_id=ds.id, import_id=run.id
        )
        audit(stores, uow, replace(event, decision="allow", counts={"rows": frame.height}))
        return frame
