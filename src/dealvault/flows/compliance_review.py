"""The content review of a transfer plan's free text (seller steward or security officer):
the notes the plan would hand over are decrypted batch by batch through the package's read
path, scanned for listed words and other people's personal data, and only counts are kept:
stored with the plan, recorded in the audit log, shown."""

from __future__ import annotations

from dataclasses import replace

from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.compliance import content
from dealvault.compliance.content import ReviewOut
from dealvault.compliance.content_words import WordList
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.flows.transfer import open_plan
from dealvault.ingest.fields import Category
from dealvault.parallel import usable_cores
from dealvault.transfer import plans
from dealvault.transfer.records import BATCH_ROWS, ReadStats, customer_batches, package_schema
from dealvault.vault.jobs import lock

#: what the review decrypts: the notes, and the customer's own values to tell them apart
_READ = (Category.IDENTITY, Category.CONTACT, Category.SENSITIVE, Category.FREE_TEXT)


def review_plan(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    plan_id: int,
    words: WordList,
    batch_rows: int = BATCH_ROWS,
    workers: int = 0,
) -> ReviewOut:
    """Review the free text ``plan_id`` would hand over against ``words`` and the customers'
    own values; the review (counts only) is stored with the plan and audited. A plan that
    hands over no free text is reviewed without reading anything (no note columns)."""
    from dealvault.compliance.content_scan import ScanCounts, own_columns, scan_batch

    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, ds = open_plan(s, plan_id)
        person, event = authorize(
            stores, s, actor=actor, action="compliance.review", deal=deal,
            event=EventIn(action="compliance.review", objects={"plan": plan.id}),
        )  # fmt: skip
        ds = lock(uow, ds, job="compliance review")  # no import or shred while it is read
        counts = ScanCounts()
        notes: list[str] = []
        if Category.FREE_TEXT.value in plans.split(plan.categories):
            schema = package_schema(uow, dataset=ds, categories=[c.value for c in _READ])
            notes = schema.by_category().get(Category.FREE_TEXT.value, [])
        if notes:
            own = own_columns(schema.columns)
            for batch in customer_batches(
                uow, keyring, actor=person, deal=deal, dataset=ds, schema=schema,
                purpose=f"content review of transfer plan #{plan.id} (counts only)",
                stats=ReadStats(), batch_rows=batch_rows, workers=workers or usable_cores(),
                level="metadata",
            ):  # fmt: skip
                scan_batch(batch.frame, notes=notes, own=own, words=words, into=counts)
        row = content.record_review(
            s, plan=plan, dataset=ds, by=person.email, words=words, counts=counts,
            columns=len(notes), at=utcnow(),
        )  # fmt: skip
        out = content.view(row)
        audit(stores, uow, replace(
            event,
            objects={**event.objects, "review": row.id, "words_version": words.version,
                     "words_sha256": words.sha256},
            counts={"columns": out.columns, "customers": out.customers, "affected": out.affected,
                    **{f"words.{k}": n for k, n in out.words.items()},
                    **{f"third_party.{k}": n for k, n in out.third_party.items()}},
        ))  # fmt: skip
        return out
