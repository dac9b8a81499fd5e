"""One step of a retention run: what a rule that reached its end would destroy (or what holds
it back), and its destruction with a signed certificate, in the caller's transaction."""

from __future__ import annotations

from datetime import date

from dealvault.access.models import Deal
from dealvault.access.principal import Principal
from dealvault.access.stages import PartyRole
from dealvault.audit.service import EventIn, SubjectPacker
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.db.stores import UnitOfWork
from dealvault.errors import KeyUnavailable
from dealvault.flows.closing import record_certificate
from dealvault.flows.context import AppStores
from dealvault.flows.guard import completed, person_of
from dealvault.flows.retention import RunItem
from dealvault.retention import erase
from dealvault.retention import service as rules
from dealvault.retention.models import RetentionRule
from dealvault.transfer.certificates import (
    CRYPTO_ERASE,
    DELETED,
    Certificate,
    live_subjects,
    subjects_digest,
)
from dealvault.vault.models import Dataset
from dealvault.vault.shred import shred_dataset


def _scope(uow: UnitOfWork, rule_id: int) -> tuple[RetentionRule, Deal, Dataset]:
    s = uow.records
    row = rules.get(s, rule_id=rule_id)
    deal, ds = s.get(Deal, row.deal_id), s.get(Dataset, row.dataset_id)
    assert deal is not None and ds is not None  # foreign keys
    return row, deal, ds


def plan_rule(
    uow: UnitOfWork, *, rule_id: int, today: date, dry_run: bool = False
) -> RunItem | None:
    """What the run does with the rule: None when it is not (or no longer) due; superseded
    when its dataset went already (marked so, unless a dry run); held with the reasons; else
    would-destroy with counts."""
    s = uow.records
    row, deal, ds = _scope(uow, rule_id)
    if not rules.ended(row, today=today):  # a run before this one took it already
        return None
    item = RunItem(rule=row.id, deal=deal.code, dataset=ds.name, category=row.category,
                   end=row.end, outcome="would-destroy")  # fmt: skip
    whole = next((r for r in rules.rules_of(s, deal=deal, dataset=ds)
                  if r.category is None and r.status == "destroyed"), None)  # fmt: skip
    if ds.status == "shredded":
        if not dry_run:
            row.status, row.destroyed_at = "superseded", utcnow()
            row.certificate_id = whole.certificate_id if whole is not None else None
            s.flush()
        why = f"dataset {ds.name} is destroyed already"
        return item.model_copy(update={"outcome": "superseded", "why": why})
    held = rules.holds(s, deal=deal, dataset=ds)
    if held:
        return item.model_copy(update={"outcome": "held", "why": "; ".join(held)})
    if row.category is None:
        _, packer = live_subjects(s, [ds.id])
        return item.model_copy(update={"customers": packer.count})
    found = erase.counts(s, dataset=ds, category=row.category)
    return item.model_copy(update=found)


def destroy(
    stores: AppStores,
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    actor: Principal,
    rule_id: int,
    item: RunItem,
) -> RunItem:
    """Destroy what the rule covers and certify it: a whole dataset crypto-shredded (every
    key destroyed, as ``certificate issue``), or one category's envelopes deleted (the
    customer keys stay: the certificate says so). The rule is marked destroyed."""
    signer = stores.audit.signer
    if signer is None:  # pragma: no cover - checked before the run
        raise KeyUnavailable("this store has no audit signing key; run 'dealvault init'")
    s = uow.records
    row, deal, ds = _scope(uow, rule_id)
    person = person_of(s, actor)
    seller = next(p for p in deal.parties if p.role == PartyRole.SELLER).organization
    now = utcnow().replace(microsecond=0)
    reason = f"retention rule #{row.id} ended {row.end.isoformat()}"
    if row.category is None:
        digest, packer = live_subjects(s, [ds.id])
        entry = shred_dataset(uow, keyring, dataset=ds, actor=person, reason=reason)
        cert = Certificate(
            certificate=0, deal=deal.code, organisation=seller.name, party="seller",
            datasets=(ds.name,), customers=entry.customers, subjects=digest,
            method=CRYPTO_ERASE, time=now, by=person.email, keys_destroyed=entry.keys_destroyed,
            reason=reason,
        )  # fmt: skip
        for other in rules.rules_of(s, deal=deal, dataset=ds, active=True):
            if other.id != row.id:
                other.status, other.destroyed_at = "superseded", now
        keys, children = entry.keys_destroyed, 0
        subjects: SubjectPacker | list[str] = packer
    else:
        cat = row.category
        ids = erase.subject_ids(s, dataset=ds, category=cat)
        done = erase.erase_category(uow, dataset=ds, category=cat)
        cert = Certificate(
            certificate=0, deal=deal.code, organisation=seller.name, party="seller",
            datasets=(ds.name,), customers=done["customers"], subjects=subjects_digest(ids),
            method=DELETED, time=now, by=person.email,
            reason=f"{reason}: category {cat} erased; {erase.METHOD_NOTE}",
        )  # fmt: skip
        keys, children, subjects = 0, done["child_rows"], ids
    event = completed(
        EventIn(action="certificate.issue", purpose="retention",
                objects={"retention_rule": row.id, "category": row.category}),
        actor=actor, deal=deal,
    )  # fmt: skip
    out = record_certificate(stores, uow, signer=signer, cert=cert, packer=subjects,
                             deal=deal, org=seller, person=person, event=event)  # fmt: skip
    row.status, row.destroyed_at, row.certificate_id = "destroyed", now, out.id
    s.flush()
    return item.model_copy(update={
        "outcome": "destroyed", "customers": cert.customers, "child_rows": children,
        "keys_destroyed": keys, "certificate": out.id,
    })  # fmt: skip
