"""A dataset's customers for a package: decided first, decrypted in subject-id order, streamed.

The counterpart of ``vault.read.disclose_table`` for a hand-over: the same decision
(``access.decision.decide`` at level ``full``), the same envelope contexts, but frames come
batch by batch in ``subject_id`` order (the package's canonical order) so memory stays bounded.
Customer keys are unwrapped once per key block into a compact cache (40 bytes per customer):
in subject-id order every batch would otherwise touch every key block of the dataset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sqlalchemy import func, select

from dealvault.access.decision import decide
from dealvault.access.models import Deal, Person
from dealvault.crypto.keyring import KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, IntegrityError, Invalid
from dealvault.ingest.fields import Category, TableRole
from dealvault.transfer.manifest import (
    CATEGORY_ORDER,
    EXCLUSION_REASONS,
    SUBJECT,
    ColumnSpec,
    PackageSchema,
)
from dealvault.vault.models import CustomerRecord, Dataset, DatasetColumn, DatasetTable
from dealvault.vault.payloads import category_columns
from dealvault.vault.read import decode_payloads, open_customer_rows

#: Customers read and decrypted per round trip (one Parquet row group each).
BATCH_ROWS = 20_000
_KEY_CHUNK = 65_536


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


def status_counts(uow: UnitOfWork, *, dataset: Dataset) -> dict[str, int]:
    """Customers of the dataset by status (active, opted_out, shredded, …)."""
    return {
        str(status): int(n)
        for status, n in uow.records.execute(
            select(CustomerRecord.status, func.count())
            .where(CustomerRecord.dataset_id == dataset.id)
            .group_by(CustomerRecord.status)
        )
    }


def exclusions(counts: dict[str, int]) -> dict[str, int]:
    """Excluded customers per reason: every status but ``active`` (no status marks an
    objection yet, so ``objecting`` stays 0 until one does)."""
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
    """Every active customer's key, unwrapped once per key block: sorted ids + packed keys."""

    def __init__(self, uow: UnitOfWork, keyring: KeyRing, *, dataset: Dataset) -> None:
        ids: list[np.ndarray] = []
        keys: list[bytes] = []
        last = 0
        conn = uow.records.connection()  # Core rows: no ORM loading on the hot path
        while True:
            rows = conn.execute(
                select(CustomerRecord.id, CustomerRecord.key_version)
                .where(
                    CustomerRecord.dataset_id == dataset.id,
                    CustomerRecord.status == "active",
                    CustomerRecord.id > last,
                )
                .order_by(CustomerRecord.id)
                .limit(_KEY_CHUNK)
            ).all()
            if not rows:
                break
            last = rows[-1][0]
            by_version: dict[int, list[int]] = {}
            for rid, version in rows:
                by_version.setdefault(version, []).append(rid)
            found: dict[int, bytes] = {}
            for version, rids in by_version.items():
                found.update(
                    keyring.unwrap_customer_keys(
                        uow.keys, dataset_id=dataset.id, version=version, record_ids=rids
                    )
                )
            got = sorted(found)
            ids.append(np.array(got, dtype=np.int64))
            keys.append(b"".join(found[r] for r in got))
        self.ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
        self.keys = b"".join(keys)

    def positions(self, record_ids: Sequence[int]) -> np.ndarray:
        """Index of each record's key, or -1 when it has none (shredded)."""
        want = np.asarray(record_ids, dtype=np.int64)
        if self.ids.size == 0:
            return np.full(want.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.ids, want), self.ids.size - 1)
        return np.where(self.ids[pos] == want, pos, -1)

    def key(self, position: int) -> bytes:
        return self.keys[32 * position : 32 * position + 32]


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
) -> Iterator[pl.DataFrame]:
    """Decide (``full`` of the schema's categories; Forbidden when denied), then yield frames of
    active customers in ``subject_id`` order with exactly the schema's columns (text)."""
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
        level="full",
        dataset=dataset.name,
        dataset_id=dataset.id,
        purpose=purpose,
    ).enforce()
    return _batches(uow, keyring, dataset=dataset, schema=schema, stats=stats, size=batch_rows)


def _batches(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    dataset: Dataset,
    schema: PackageSchema,
    stats: ReadStats,
    size: int,
) -> Iterator[pl.DataFrame]:
    cache = _KeyCache(uow, keyring, dataset=dataset)
    cats = schema.categories
    expected = schema.by_category()
    cols = [getattr(CustomerRecord, f"enc_{c}") for c in cats]
    last = ""
    conn = uow.records.connection()  # Core rows: no ORM loading on the hot path
    while True:
        rows = conn.execute(
            select(CustomerRecord.id, CustomerRecord.subject_id, *cols)
            .where(
                CustomerRecord.dataset_id == dataset.id,
                CustomerRecord.status == "active",
                CustomerRecord.subject_id > last,
            )
            .order_by(CustomerRecord.subject_id)
            .limit(size)
        ).all()
        if not rows:
            return
        last = rows[-1][1]
        positions = cache.positions([r[0] for r in rows]).tolist()
        subjects: list[str] = []
        ids: list[int] = []
        payloads: dict[str, list[bytes | None]] = {c: [] for c in cats}
        open_customer_rows(
            rows,
            keys=[cache.key(pos) if pos >= 0 else None for pos in positions],
            dataset=dataset,
            categories=cats,
            ids=ids,
            subjects=subjects,
            payloads=payloads,
        )
        stats.shredded_meanwhile += len(rows) - len(subjects)
        if not subjects:
            continue
        stats.rows += len(subjects)
        yield _frame(subjects, payloads, expected=expected, schema=schema)


def _frame(
    subjects: list[str],
    payloads: dict[str, list[bytes | None]],
    *,
    expected: dict[str, list[str]],
    schema: PackageSchema,
) -> pl.DataFrame:
    parts = [pl.DataFrame({SUBJECT: pl.Series(subjects, dtype=pl.String)})]
    for cat, values in payloads.items():
        decoded = decode_payloads(values)
        unknown = sorted(set(decoded.columns) - set(expected[cat]))
        if unknown:
            raise IntegrityError(
                f"stored {cat} values hold a column the dataset does not list ({unknown[0]!r})"
            )
        parts.append(decoded)
    frame = pl.concat(parts, how="horizontal")
    return frame.select(
        [
            pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
            for c in schema.names
        ]
    )
