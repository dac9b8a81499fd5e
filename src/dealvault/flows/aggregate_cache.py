"""Released aggregates remembered per process, keyed on the dataset's content, so a page of
aggregates viewed again (another person, the same grouping) is not computed again from
every decrypted customer.

What is kept is the release itself: a safe aggregate that already passed suppression (no
customer's value, nothing finer than any recipient of an aggregate receives), never the
decrypted customers it was made from. Every request still passes the decision point and
records its own audit event; only the computation is shared.

The key holds everything the release depends on: the store, the dataset, its content (the number of
active customers, the sum of their record ids, its newest import: an import, an opt-out, an
objection, a re-activation or a shredding changes it), the stored classification, the day
(ages are computed on it), and every parameter of the request. A release with noise
(``epsilon``) is remembered too: the same question then gets the same noisy answer, which
keeps repeated questions from averaging the noise away.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import func, select

from dealvault.db.stores import UnitOfWork
from dealvault.vault.models import CustomerRecord, Dataset, ImportRun

#: releases kept per process (each a small table)
MOST = 128
_kept: OrderedDict[Hashable, tuple[pl.DataFrame, dict[str, Any]]] = OrderedDict()
_lock = threading.Lock()


def content_key(uow: UnitOfWork, *, ds: Dataset, types: dict[str, str | None]) -> Hashable:
    """What the dataset holds now, as far as an aggregate of it can tell (two queries)."""
    s = uow.records
    count, total = s.execute(
        select(func.count(), func.coalesce(func.sum(CustomerRecord.id), 0)).where(
            CustomerRecord.dataset_id == ds.id, CustomerRecord.status == "active"
        )
    ).one()
    newest = s.scalar(select(func.max(ImportRun.id)).where(ImportRun.dataset_id == ds.id))
    typed = hashlib.sha256(repr(sorted(types.items())).encode()).hexdigest()
    store = str(s.get_bind().engine.url)  # a process may open more than one store (tests do)
    return (store, ds.id, ds.schema_version, int(count), int(total), newest, typed, date.today())


def remembered(
    key: Hashable, make: Callable[[], tuple[pl.DataFrame, dict[str, Any]]]
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The release kept under ``key``, else ``make()``'s (then kept)."""
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
    if found is not None:
        table, report = found
        return table.clone(), {**report, "cached": True}
    table, report = make()
    with _lock:
        _kept[key] = (table, report)
        while len(_kept) > MOST:
            _kept.popitem(last=False)
    return table.clone(), report


def forget() -> None:
    """Drop every kept release (tests)."""
    with _lock:
        _kept.clear()
