"""A dataset's customers for a package: decided first, decrypted in subject-id order, streamed.

The counterpart of ``vault.read.disclose_table`` for a hand-over: the same decision
(``access.decision.decide`` at level ``full``), the same envelope contexts, but frames come
batch by batch in ``subject_id`` order (the package's canonical order) so memory stays bounded.
Customer keys are unwrapped once per key block into a compact cache (40 bytes per customer):
in subject-id order every batch would otherwise touch every key block of the dataset.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from dealvault import native, native_pack
from dealvault.access.decision import decide
from dealvault.access.models import Deal, Person
from dealvault.crypto.keyring import KEY_ENTRY, KeyRing
from dealvault.crypto.models import CustomerKeyBlock
from dealvault.db.bulk import fetch_tuples
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, Invalid
from dealvault.ingest.fields import Category, TableRole
from dealvault.parallel import BatchPool
from dealvault.transfer.batches import PreparedBatch, open_batch, open_flagged_batch
from dealvault.transfer.manifest import (
    CATEGORY_ORDER,
    EXCLUSION_REASONS,
    SUBJECT,
    ColumnSpec,
    PackageSchema,
)
from dealvault.vault.models import (
    ChildRecord,
    CustomerRecord,
    Dataset,
    DatasetColumn,
    DatasetTable,
)
from dealvault.vault.opening import RecordLayout
from dealvault.vault.payloads import category_columns

#: Customers read and decrypted per round trip (one Parquet row group each). A power of two:
#: each full batch is then a complete subtree of the package's Merkle tree.
BATCH_ROWS = 32_768


def package_schema(
    uow: UnitOfWork, *, dataset: Dataset, categories: Sequence[str]
) -> PackageSchema:
    """The customers table's columns in ``categories``, each in the category its values are
    stored under (the import writer's rule, ``vault.payloads.category_columns``)."""
    rows = uow.records.scalars(
        select(DatasetColumn)
        .join(DatasetTable, DatasetTable.id == DatasetColumn.table_id)
        .where(
            DatasetTable.dataset_id == dataset.id,
            DatasetTable.role == TableRole.CUSTOMERS.value,
        )
        .order_by(DatasetColumn.id)
    ).all()
    info: dict[str, DatasetColumn] = {}
    for col in rows:
        info.setdefault(col.field or col.source_name, col)
    if SUBJECT in info:
        raise Conflict(f"the dataset has a column named {SUBJECT}; rename it before a transfer")
    overrides = {
        name: Category(c.category)
        for name, c in info.items()
        if c.field is None and c.pii_type is not None and c.category in CATEGORY_ORDER
    }
    placed = category_columns(list(info), overrides=overrides)
    wanted = set(categories)
    specs = [
        ColumnSpec(
            name=name,
            category=cat.value,
            pii_type=info[name].override or info[name].pii_type,
            sensitive=bool(info[name].sensitive),
        )
        for cat in Category
        if cat.value in wanted
        for name in placed.get(cat, [])
    ]
    if not specs:
        raise Invalid("the dataset has no customer columns in the plan's categories")
    return PackageSchema(tuple(specs))


def status_counts(session: Session, *, dataset: Dataset) -> dict[str, int]:
    """Customers of the dataset by status (active, opted_out, shredded, …)."""
    return {
        str(status): int(n)
        for status, n in session.execute(
            select(CustomerRecord.status, func.count())
            .where(CustomerRecord.dataset_id == dataset.id)
            .group_by(CustomerRecord.status)
        )
    }


def child_rows_left_out(
    uow: UnitOfWork, *, dataset: Dataset, categories: Sequence[str]
) -> dict[str, int]:
    """Rows of the dataset's child tables (orders, notes) in the plan's categories, per
    table, for active customers: format v1 carries the customers table only, so the
    manifest says what stayed behind."""
    rows = uow.records.execute(
        select(DatasetTable.name, func.count(ChildRecord.id))
        .join(ChildRecord, ChildRecord.table_id == DatasetTable.id)
        .join(CustomerRecord, CustomerRecord.id == ChildRecord.record_id)
        .where(
            DatasetTable.dataset_id == dataset.id,
            ChildRecord.category.in_(list(categories)),
            ChildRecord.envelope.is_not(None),
            CustomerRecord.status == "active",
        )
        .group_by(DatasetTable.name)
        .order_by(DatasetTable.name)
    ).all()
    return {str(name): int(n) for name, n in rows if n}


def exclusions(counts: dict[str, int]) -> dict[str, int]:
    """Excluded customers per reason: every status but ``active`` (``opted_out`` and
    ``objecting`` are set by ``flows.customers.set_status``, ``shredded`` by a shred)."""
    out = {reason: 0 for reason in EXCLUSION_REASONS}
    for status, n in counts.items():
        if status != "active":
            out[status] = out.get(status, 0) + n
    return out


@dataclass
class ReadStats:
    """What the reader met besides the records it yielded."""

    rows: int = 0
    #: customers whose key was gone when read (shredded meanwhile): left out
    shredded_meanwhile: int = 0
    extra: Counter[str] = field(default_factory=Counter)


class _KeyCache:
    """The dataset's customer keys, every key block opened once: sorted record ids + keys.

    With one key version in the key store (the usual case) every key of that version is
    taken, without scanning the customers: only active customers are ever looked up, so keys
    of opted-out customers do no harm. During a key rotation (several versions stored) each
    version the active customers use contributes its own customers' keys.
    """

    def __init__(self, uow: UnitOfWork, keyring: KeyRing, *, dataset: Dataset) -> None:
        active = (CustomerRecord.dataset_id == dataset.id) & (CustomerRecord.status == "active")
        versions = sorted(
            v
            for (v,) in fetch_tuples(
                uow.keys,
                select(CustomerKeyBlock.version)
                .where(CustomerKeyBlock.dataset_id == dataset.id)
                .distinct(),
            )
        )
        if len(versions) > 1:  # a rotation: the versions the active customers use
            versions = sorted(
                v
                for (v,) in fetch_tuples(
                    uow.records, select(CustomerRecord.key_version).where(active).distinct()
                )
            )
        parts = []
        for version in versions:
            entries = np.frombuffer(
                b"".join(
                    keyring.customer_key_blocks(uow.keys, dataset_id=dataset.id, version=version)
                ),
                dtype=KEY_ENTRY,
            )
            if len(versions) > 1:
                mine = np.array(
                    fetch_tuples(
                        uow.records,
                        select(CustomerRecord.id).where(
                            active, CustomerRecord.key_version == version
                        ),
                    ),
                    dtype=np.int64,
                ).reshape(-1)
                entries = entries[np.isin(entries["record_id"].astype(np.int64), mine)]
            parts.append(entries)
        table = np.concatenate(parts) if parts else np.empty(0, dtype=KEY_ENTRY)
        order = np.argsort(table["record_id"], kind="stable")
        self.ids = table["record_id"][order].astype(np.int64)
        self._keys = np.ascontiguousarray(table["key"][order])

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def _find(
        self, record_ids: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Where each record's key lies in the cache, and whether it has one there."""
        pos = np.minimum(np.searchsorted(self.ids, record_ids), self.ids.size - 1)
        return pos, self.ids[pos] == record_ids

    def keys_for(self, record_ids: Sequence[int]) -> list[bytes | None]:
        """Each record's key, or None when it has none (shredded)."""
        want = np.asarray(record_ids, dtype=np.int64)
        if self.ids.size == 0:
            return [None] * len(want)
        pos, found = self._find(want)
        packed = self._keys[pos].tobytes()
        return [packed[32 * i : 32 * i + 32] if ok else None for i, ok in enumerate(found.tolist())]

    def packed_keys(self, record_ids: npt.NDArray[np.int64]) -> bytes:
        """:meth:`keys_for` as one bytes object (``native_pack.unpack_rows``'s key list):
        32 bytes per record (zeros where it has none), then one byte per record, 0 where it
        has none."""
        if self.ids.size == 0:
            return bytes(33 * record_ids.size)
        pos, found = self._find(record_ids)
        keys = self._keys[pos].view(np.uint8).reshape(-1, 32)
        keys[~found] = 0
        out: bytes = keys.tobytes() + found.astype(np.uint8).tobytes()
        return out


def customer_batches(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    actor: Person,
    deal: Deal,
    dataset: Dataset,
    schema: PackageSchema,
    purpose: str,
    stats: ReadStats,
    batch_rows: int = BATCH_ROWS,
    workers: int = 1,
    where: Sequence[ColumnElement[bool]] = (),
    level: str = "full",
    flags: Mapping[str, ColumnElement[bool]] | None = None,
) -> Iterator[PreparedBatch]:
    """Decide (``level`` of the schema's categories; Forbidden when denied), then yield batches
    of active customers in ``subject_id`` order with exactly the schema's columns (text), with
    their leaf hashes and category counts. ``workers`` > 1 decrypts in that many processes.
    ``where``: conditions on ``CustomerRecord`` the customers must meet besides being active
    (the customers a plan leaves out for want of consent fail them). ``level``: ``full`` for a
    package; ``metadata`` for a machine review that hands out counts only (the compliance
    content review). ``flags``: schema columns computed in SQL per customer (name -> truth
    value, written ``yes``/``no``), not read from the envelopes."""
    if not purpose.strip():
        raise Invalid("a purpose is required for every read")
    if batch_rows < 1:
        raise Invalid("batch rows must be at least 1")
    decide(
        uow.records,
        actor=actor,
        deal=deal,
        action="read",
        categories=schema.categories,
        level=level,
        dataset=dataset.name,
        dataset_id=dataset.id,
        purpose=purpose,
    ).enforce()
    return _batches(
        uow, keyring, dataset=dataset, schema=schema, stats=stats, size=batch_rows,
        workers=workers, where=where, flags=flags or {},
    )  # fmt: skip


def _batches(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    dataset: Dataset,
    schema: PackageSchema,
    stats: ReadStats,
    size: int,
    workers: int,
    where: Sequence[ColumnElement[bool]] = (),
    flags: Mapping[str, ColumnElement[bool]],
) -> Iterator[PreparedBatch]:
    cache = _KeyCache(uow, keyring, dataset=dataset)
    # the envelopes hold the schema's columns but the flags (computed in SQL)
    stored = PackageSchema(tuple(c for c in schema.columns if c.name not in flags))
    expected = stored.by_category()
    cats = tuple(stored.categories)
    layout = RecordLayout(
        dataset.id, dataset.schema_version, cats, tuple(tuple(expected[c]) for c in cats)
    )
    if cache.size <= size:
        workers = 1  # one batch: starting worker processes would cost more than it saves
    opener: tuple[Any, ...] = (open_batch, layout, schema)
    if flags:
        opener = (open_flagged_batch, layout, schema, tuple(flags))
    extra = [expr.label(f"flag_{i}") for i, expr in enumerate(flags.values())]
    with BatchPool(*opener, workers=workers) as pool:
        jobs = _jobs(uow, cache, dataset=dataset, cats=cats, size=size, where=where, extra=extra)
        for batch, skipped in pool.map(jobs):
            stats.shredded_meanwhile += skipped
            if batch.frame.height == 0:
                continue
            stats.rows += batch.frame.height
            yield batch


Job = tuple[list[Any], list[bytes | None]] | tuple[bytes, bytes]
"""A batch for :func:`open_batch`: rows and their keys, or a pack and its packed keys."""


def _jobs(
    uow: UnitOfWork,
    cache: _KeyCache,
    *,
    dataset: Dataset,
    cats: Sequence[str],
    size: int,
    where: Sequence[ColumnElement[bool]] = (),
    extra: Sequence[Any] = (),
) -> Iterator[Job]:
    """Batches of rows ``(record_id, subject_id, *envelopes, *extra)`` in subject-id order,
    each with the customer keys of its rows (None: shredded since the key cache was filled).

    On SQLite with the C kernels each batch comes as one blob packed inside SQLite by the
    aggregate ``dv_pack_rows`` (see :mod:`dealvault.native_pack`), its keys as one bytes
    object: no Python object per value here, one object to pickle to a worker. A batch the
    aggregate declines (NULL: a value of another type, another order) is read as rows."""
    cols = [getattr(CustomerRecord, f"enc_{c}") for c in cats]
    last = ""
    dataset_id: ColumnElement[Any] = CustomerRecord.__table__.c.dataset_id
    status: ColumnElement[Any] = CustomerRecord.__table__.c.status
    sqlite = uow.records.get_bind().dialect.name == "sqlite"
    packed = sqlite and native.NATIVE
    if sqlite:
        # Walk the subject_id index: SQLite would otherwise pick the (dataset, status, id)
        # index and sort every remaining customer of the dataset for each batch (quadratic).
        # An expression on a column keeps the planner from using an index on it.
        dataset_id, status = dataset_id + 0, status + ""
    while True:
        statement = (
            select(CustomerRecord.id, CustomerRecord.subject_id, *cols, *extra)
            .where(
                dataset_id == dataset.id,
                status == "active",
                CustomerRecord.subject_id > last,
                *where,
            )
            .order_by(CustomerRecord.subject_id)
            .limit(size)
        )
        if packed:
            try:
                pack = _read_pack(uow.records, statement)
            except sqlite3.OperationalError as exc:  # a connection without the aggregate
                if "dv_pack_rows" not in str(exc):
                    raise
                pack, packed = None, False
            if pack is not None:
                n, at, last_subject = native_pack.pack_summary(pack)
                if n == 0:
                    return
                last = last_subject
                ids = np.frombuffer(pack, dtype="<i8", count=n, offset=at)
                yield pack, cache.packed_keys(ids)
                continue
        rows = fetch_tuples(uow.records, statement)
        if not rows:
            return
        last = rows[-1][1]
        yield rows, cache.keys_for([r[0] for r in rows])


def _read_pack(session: Session, statement: Select[Any]) -> bytes | None:
    """The rows of ``statement`` packed by ``dv_pack_rows`` in the statement's order, or
    None when the aggregate declines them."""
    inner = statement.subquery()
    ((pack,),) = fetch_tuples(session, select(func.dv_pack_rows(*inner.c)))
    return pack if type(pack) is bytes else None
