"""Send one batch of per-customer notices: the customers' contact points from the vault,
their messages rendered, the batch and its deliveries kept, the delivery file written for
the gateway (CSV, mode 0600); what the flow's audit event records of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dealvault.access.models import Deal
from dealvault.audit.service import SubjectPacker
from dealvault.crypto.keyring import KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.notices import render
from dealvault.notices import service as bulk
from dealvault.notices.models import NoticeBatch


@dataclass
class Sent:
    batch: NoticeBatch
    #: deliveries per status after the batch was made
    counts: dict[str, int]
    customers: int
    rows: int
    #: the customers' subject ids, for the audit event
    subjects: SubjectPacker

    def objects(self) -> dict[str, Any]:
        b = self.batch
        return {"batch": b.id, "channel": b.channel, "template_set": b.template_set,
                "sha256": b.file_sha256}  # fmt: skip

    def event_counts(self) -> dict[str, int]:
        return {"customers": self.customers, "rows": self.rows,
                "unreachable": self.counts.get("unreachable", 0)}  # fmt: skip


def send(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    deal: Deal,
    ref: str,
    tset: render.TemplateSet,
    channel: str,
    context: Mapping[str, Mapping[str, str]],
    subjects: Sequence[str],
    by: str,
    now: datetime,
    out: Path,
) -> Sent:
    """Render the notices of ``subjects`` and keep them as a batch referred to as ``ref``."""
    s = uow.records
    people = bulk.contacts(uow, keyring, deal=deal, subjects=subjects)
    rendered = render.render(people, tset=tset, channel=channel, context=context)
    batch, rows = bulk.create_batch(
        s, deal=deal.code, ref=ref, template_set=tset.name, channel=channel, rendered=rendered,
        by=by, now=now,
    )  # fmt: skip
    batch.file_sha256 = bulk.write_delivery_file(rows, path=out)
    packer = SubjectPacker()
    packer.add(rendered.get_column("subject_id").to_list())
    counts = bulk.counts_of(s, batch_ids=[batch.id])[batch.id]
    return Sent(batch=batch, counts=counts, customers=rendered.height, rows=rows.height,
                subjects=packer)  # fmt: skip
