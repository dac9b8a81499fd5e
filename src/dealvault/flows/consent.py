"""Consent use cases: import the seller's consent records (seller steward) and read their
summary per purpose. Each decided with its own action and recorded with counts only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
from pydantic import BaseModel, Field

from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.consent import service as consents
from dealvault.consent.records import read_consent_file
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, resolve
from dealvault.vault.jobs import lock

#: unmatched rows named at most (row numbers only)
SHOWN_ROWS = 20


class ConsentImportOut(BaseModel):
    deal: str
    dataset: str
    file: str
    rows: int
    added: int
    updated: int
    unmatched: int = Field(description="Rows naming no customer of the dataset: not kept.")
    unmatched_rows: list[int] = Field(description=f"The first {SHOWN_ROWS} of them (file rows).")
    by_purpose: dict[str, int]


class ConsentSummaryOut(BaseModel):
    deal: str
    dataset: str
    purposes: dict[str, dict[str, int]] = Field(
        description="Per purpose: records, withdrawn, customers_in_force (active customers "
        "holding one in force now)."
    )
    active_customers: int


def import_consents(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    path: Path,
) -> ConsentImportOut:
    """Read the consent file (every row checked first: refused whole, naming file, row and
    column), match its customers by their blind-indexed customer number and keep their consents
    (a consent already held for the same customer, purpose and time is updated)."""
    rows = read_consent_file(path)
    with stores.unit_of_work() as uow:
        s = uow.records
        _, d, ds = resolve(s, actor=actor, deal=deal, dataset=dataset)
        _, event = authorize(
            stores, s, actor=actor, action="consent.import", deal=d,
            event=EventIn(action="consent.import", objects={"dataset": ds.name}),
        )  # fmt: skip
        ds = lock(uow, ds, job="consent import")
        matched = consents.match(uow, keyring, dataset=ds, rows=rows)
        added, updated = consents.merge(s, dataset_id=ds.id, rows=matched, now=utcnow())
        missing = matched.filter(pl.col("subject_id").is_null())
        kept = matched.filter(pl.col("subject_id").is_not_null())
        by_purpose = {str(p): int(n) for p, n in kept.group_by("purpose").len().iter_rows()}
        audit(stores, uow, replace(event, counts={
            "rows": rows.height, "added": added, "updated": updated, "unmatched": missing.height,
        }))  # fmt: skip
        return ConsentImportOut(
            deal=d.code, dataset=ds.name, file=path.name, rows=rows.height, added=added,
            updated=updated, unmatched=missing.height,
            unmatched_rows=missing.get_column("row").head(SHOWN_ROWS).to_list(),
            by_purpose=dict(sorted(by_purpose.items())),
        )  # fmt: skip


def consent_summary(
    stores: AppStores, *, actor: Principal, deal: str, dataset: str
) -> ConsentSummaryOut:
    """Consents held per purpose, and how many active customers hold one in force now."""
    with stores.unit_of_work() as uow:
        s = uow.records
        _, d, ds = resolve(s, actor=actor, deal=deal, dataset=dataset)
        _, event = authorize(
            stores, s, actor=actor, action="consent.read", deal=d,
            event=EventIn(action="consent.summary", objects={"dataset": ds.name}),
        )  # fmt: skip
        out = ConsentSummaryOut(
            deal=d.code, dataset=ds.name,
            purposes=consents.summary(s, dataset_id=ds.id, at=utcnow()),
            active_customers=consents.count_active(s, dataset_id=ds.id),
        )  # fmt: skip
        audit(stores, uow, event)
        return out
