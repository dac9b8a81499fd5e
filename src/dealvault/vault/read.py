"""The one read path: find customers by blind index and decrypt, after an access decision.

``disclose`` reads a few customers; ``disclose_table`` reads a whole table as a frame for the
de-identification engine. Both decide first, always.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import func, select

from dealvault.access.decision import decide
from dealvault.access.models import Deal, Person
from dealvault.crypto import envelope as env
from dealvault.crypto.blind import blind_index
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.db.raw import raw_rows
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Invalid, NotFound
from dealvault.ingest.fields import Category, TableRole
from dealvault.ingest.mapping import ColumnMapping
from dealvault.ingest.normalize import normalise_batch
from dealvault.vault.models import (
    BLIND_FIELDS,
    BlindIndex,
    ChildRecord,
    CustomerRecord,
    Dataset,
    DatasetTable,
)
from dealvault.vault.opening import RecordLayout, decode_payloads, open_children, open_rows

LOOKUP_FIELDS = ("phone", "id_number", "customer_key")


@dataclass(frozen=True)
class CustomerView:
    """What a reader gets for one customer. ``data`` is keyed by category, then field."""

    subject_id: str
    status: str
    data: dict[str, dict[str, str | None]] = field(default_factory=dict)
    children: dict[str, list[dict[str, str | None]]] = field(default_factory=dict)


def normalise_lookup_value(*, by: str, value: str) -> str:
    """Normalise a searched value as import did (E.164 phone, upper-case ID), or fail cleanly."""
    if by not in LOOKUP_FIELDS:
        raise Invalid(f"cannot look up by {by!r}; use one of {', '.join(LOOKUP_FIELDS)}")
    columns = {by: by, "name": "name"}  # a name makes the probe row pass the identity rule
    frame = pl.DataFrame({c: [value if c == by else "x"] for c in columns})
    result = normalise_batch(
        frame=frame,
        mapping=ColumnMapping(table_role=TableRole.CUSTOMERS, columns=dict(columns)),
        file="lookup",
        first_row=1,
    )
    if result.rejects.height or result.clean.height == 0 or result.clean.get_column(by)[0] is None:
        reasons = ", ".join(result.rejects.get_column("reason").to_list()) or "empty value"
        raise Invalid(f"the {by.replace('_', ' ')} given is not valid ({reasons})")
    return str(result.clean.get_column(by)[0])


def find_subjects(
    uow: UnitOfWork, keyring: KeyRing, *, dataset: Dataset, by: str, value: str
) -> list[str]:
    """Subject ids of the customers whose ``by`` value equals ``value``; no decryption."""
    if by == "subject_id":
        rows = uow.records.scalars(
            select(CustomerRecord.subject_id).where(
                CustomerRecord.dataset_id == dataset.id, CustomerRecord.subject_id == value
            )
        ).all()
        return list(rows)
    normalised = normalise_lookup_value(by=by, value=value)
    index_key = keyring.dataset_key(uow.keys, dataset_id=dataset.id, purpose=INDEX, version=1)
    rows = uow.records.scalars(
        select(CustomerRecord.subject_id)
        .join(BlindIndex, BlindIndex.record_id == CustomerRecord.id)
        .where(
            BlindIndex.dataset_id == dataset.id,
            BlindIndex.field == BLIND_FIELDS[by],
            BlindIndex.value == blind_index(index_key, by, normalised),
        )
        .order_by(CustomerRecord.id)
    ).all()
    return list(rows)


def disclose(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    actor: Person,
    deal: Deal,
    dataset: Dataset,
    subject_ids: Sequence[str],
    categories: Sequence[str] | None = None,
    purpose: str,
) -> list[CustomerView]:
    """The only function that returns decrypted customer data. It decides first, always."""
    wanted = [Category(c) for c in (categories or [c.value for c in Category])]
    decision = decide(
        uow.records,
        actor=actor,
        deal=deal,
        action="read",
        categories=[c.value for c in wanted],
        dataset=dataset.name,
        dataset_id=dataset.id,
    )
    decision.enforce()
    if not purpose.strip():
        raise Invalid("a purpose is required for every read")
    records = uow.records.scalars(
        select(CustomerRecord)
        .where(
            CustomerRecord.dataset_id == dataset.id,
            CustomerRecord.subject_id.in_(list(subject_ids)),
        )
        .order_by(CustomerRecord.id)
    ).all()
    if len(records) != len(set(subject_ids)):
        raise NotFound("one or more subject ids are not in this dataset")
    tables = {
        t.id: t.name
        for t in uow.records.scalars(
            select(DatasetTable).where(DatasetTable.dataset_id == dataset.id)
        )
    }
    views = []
    for rec in records:
        keys = (
            keyring.unwrap_customer_keys(
                uow.keys, dataset_id=dataset.id, version=rec.key_version, record_ids=[rec.id]
            )
            if rec.status == "active"
            else {}
        )
        key = keys.get(rec.id)
        if key is None:  # opted out or objecting: not disclosed, said as such; else shredded
            said = rec.status if rec.status in ("opted_out", "objecting") else "shredded"
            views.append(CustomerView(subject_id=rec.subject_id, status=said))
            continue
        aead = env.opener(key)
        data: dict[str, dict[str, str | None]] = {}
        for cat in wanted:
            blob = getattr(rec, f"enc_{cat.value}")
            if blob is not None:
                ctx = env.record_context(dataset.id, rec.id, cat.value, dataset.schema_version)
                data[cat.value] = json.loads(env.open_with(aead, blob, ctx))
        children: dict[str, list[dict[str, str | None]]] = {}
        child_rows = uow.records.scalars(
            select(ChildRecord)
            .where(
                ChildRecord.record_id == rec.id, ChildRecord.category.in_([c.value for c in wanted])
            )
            .order_by(ChildRecord.id)
        ).all()
        for child in child_rows:
            if child.envelope is None:
                continue
            ctx = env.child_context(dataset.id, child.id, rec.id, child.category)
            children.setdefault(tables.get(child.table_id, "?"), []).append(
                json.loads(env.open_with(aead, child.envelope, ctx))
            )
        views.append(
            CustomerView(subject_id=rec.subject_id, status=rec.status, data=data, children=children)
        )
    return views


#: Rows fetched and decrypted per round trip by ``disclose_table``.
TABLE_CHUNK = 20_000
#: Record ids named per query when chosen customers are read (below SQLite's variable limit).
ID_CHUNK = 5_000


def disclose_table(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    actor: Person,
    deal: Deal,
    dataset: Dataset,
    role: TableRole,
    categories: Sequence[str] | None = None,
    purpose: str,
    level: str,
    span: tuple[int, int] | None = None,
    records: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Decrypt every active customer (or every row of a child table) into one frame.

    Columns: ``record_id``, ``subject_id``, then the stored fields of the wanted categories
    (all text, as imported). Shredded and opted-out customers are left out. The caller turns
    the frame into the level it may release; this function only decrypts after the decision.
    ``span`` (start, count): only that run of the active customers in record order (the
    customers table only; :func:`active_customers` counts them). ``records``: only these
    customers (the customers table, in record order; :func:`active_record_ids` lists them), or
    only the child rows of these customers (a child table read for a page of customers).
    """
    wanted = [Category(c) for c in (categories or [c.value for c in Category])]
    decision = decide(
        uow.records,
        actor=actor,
        deal=deal,
        action="read",
        categories=[c.value for c in wanted],
        level=level,
        dataset=dataset.name,
        dataset_id=dataset.id,
    )
    decision.enforce()
    if not purpose.strip():
        raise Invalid("a purpose is required for every read")
    if role == TableRole.CUSTOMERS:
        return _customer_frame(
            uow, keyring, dataset=dataset, wanted=wanted, span=span, records=records
        )
    if span is not None:
        raise Invalid("only the customers table is read a page at a time")
    return _child_frame(uow, keyring, dataset=dataset, role=role, wanted=wanted, records=records)


def active_customers(uow: UnitOfWork, *, dataset: Dataset) -> int:
    """How many customers of ``dataset`` are active (what a whole read would return)."""
    return int(
        uow.records.scalar(
            select(func.count())
            .select_from(CustomerRecord)
            .where(CustomerRecord.dataset_id == dataset.id, CustomerRecord.status == "active")
        )
        or 0
    )


def active_record_ids(uow: UnitOfWork, *, dataset: Dataset) -> list[int]:
    """The record ids of the active customers of ``dataset`` in record order (no decryption):
    what a whole read of the customers table returns, and in which order."""
    return list(
        uow.records.scalars(
            select(CustomerRecord.id)
            .where(CustomerRecord.dataset_id == dataset.id, CustomerRecord.status == "active")
            .order_by(CustomerRecord.id)
        )
    )


def _customer_frame(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    dataset: Dataset,
    wanted: Sequence[Category],
    span: tuple[int, int] | None = None,
    records: Sequence[int] | None = None,
) -> pl.DataFrame:
    cols = [getattr(CustomerRecord, f"enc_{c.value}") for c in wanted]
    layout = RecordLayout(dataset.id, dataset.schema_version, tuple(c.value for c in wanted))
    ids: list[int] = []
    subjects: list[str] = []
    payloads: list[list[bytes | None]] = [[] for _ in wanted]
    last = -1
    todo = sorted(set(records)) if records is not None else None
    while True:
        chosen: tuple[Any, ...] = ()
        if todo is not None:  # the next chunk of the wanted ids, one round trip each
            if not todo:
                break
            chunk, todo = todo[:ID_CHUNK], todo[ID_CHUNK:]
            chosen = (CustomerRecord.id.in_(chunk),)
        q = (
            select(CustomerRecord.id, CustomerRecord.subject_id, *cols, CustomerRecord.key_version)
            .where(
                CustomerRecord.dataset_id == dataset.id,
                CustomerRecord.status == "active",
                CustomerRecord.id > last,
                *chosen,
            )
            .order_by(CustomerRecord.id)
        )
        if span is not None:  # one run, one round trip
            q = q.offset(span[0]).limit(span[1])
        rows = raw_rows(
            uow.records.connection(),
            q if span is not None or todo is not None else q.limit(TABLE_CHUNK),
        )
        if not rows:
            if todo:
                continue
            break
        last = rows[-1][0]
        keys = _customer_keys(uow, keyring, dataset=dataset, rows=[(r[0], r[-1]) for r in rows])
        # shredded between the status check and now: no key, left out
        opened = open_rows(layout, rows, [keys.get(r[0]) for r in rows])
        ids += opened.ids
        subjects += opened.subjects
        for sink, got in zip(payloads, opened.payloads, strict=True):
            sink += got
        if span is not None:
            break
    frame = pl.DataFrame(
        {"record_id": pl.Series(ids, dtype=pl.Int64), "subject_id": pl.Series(subjects)}
    )
    return pl.concat([frame, *(decode_payloads(p) for p in payloads)], how="horizontal")


def _child_frame(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    dataset: Dataset,
    role: TableRole,
    wanted: Sequence[Category],
    records: Sequence[int] | None = None,
) -> pl.DataFrame:
    table_ids = list(
        uow.records.scalars(
            select(DatasetTable.id).where(
                DatasetTable.dataset_id == dataset.id, DatasetTable.role == role.value
            )
        )
    )
    ids: list[int] = []
    subjects: list[str] = []
    payload: list[bytes | None] = []
    last = -1
    conn = uow.records.connection()  # the driver's rows: building result rows cost more
    while table_ids:
        rows = raw_rows(
            conn,
            select(
                ChildRecord.id,
                ChildRecord.record_id,
                CustomerRecord.subject_id,
                CustomerRecord.key_version,
                ChildRecord.category,
                ChildRecord.envelope,
            )
            .join(CustomerRecord, CustomerRecord.id == ChildRecord.record_id)
            .where(
                ChildRecord.table_id.in_(table_ids),
                ChildRecord.category.in_([c.value for c in wanted]),
                ChildRecord.envelope.is_not(None),
                CustomerRecord.status == "active",
                ChildRecord.id > last,
                *(() if records is None else (ChildRecord.record_id.in_(list(records)),)),
            )
            .order_by(ChildRecord.id)
            .limit(TABLE_CHUNK),
        )
        if not rows:
            break
        last = rows[-1][0]
        keys = _customer_keys(uow, keyring, dataset=dataset, rows=[(r[1], r[3]) for r in rows])
        got_ids, got_subjects, got = open_children(dataset.id, rows, keys)
        ids += got_ids
        subjects += got_subjects
        payload += got
    frame = pl.DataFrame(
        {"record_id": pl.Series(ids, dtype=pl.Int64), "subject_id": pl.Series(subjects)}
    )
    return pl.concat([frame, decode_payloads(payload)], how="horizontal")


def _customer_keys(
    uow: UnitOfWork, keyring: KeyRing, *, dataset: Dataset, rows: Sequence[tuple[int, int]]
) -> dict[int, bytes]:
    by_version: dict[int, list[int]] = {}
    for record_id, version in rows:
        by_version.setdefault(version, []).append(record_id)
    keys: dict[int, bytes] = {}
    for version, record_ids in by_version.items():
        keys.update(
            keyring.unwrap_customer_keys(
                uow.keys, dataset_id=dataset.id, version=version, record_ids=record_ids
            )
        )
    return keys


def customers_of(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    dataset: Dataset,
    wanted: Sequence[Category],
    records: Sequence[int],
) -> pl.DataFrame:
    """The active customers ``records`` of ``dataset``, decrypted (one key per customer):
    ``record_id, subject_id`` and the fields of the ``wanted`` categories (bulk notices)."""
    return _customer_frame(uow, keyring, dataset=dataset, wanted=wanted, records=records)
