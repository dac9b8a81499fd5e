"""Consent records kept per customer: matched to customers by the blind index (no decryption),
merged into the store, and asked as SQL: who holds a consent in force for a purpose, who lacks
one. Service functions; the flows decide and commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from dealvault.consent.models import ConsentRecord
from dealvault.crypto.blind import blind_many
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.ingest.fields import TableRole
from dealvault.ingest.mapping import ColumnMapping
from dealvault.ingest.normalize import normalise_batch
from dealvault.vault.blinds import owners
from dealvault.vault.models import CustomerRecord, Dataset

_CHUNK: Final = 2_000


def _normalised_keys(keys: pl.Series) -> pl.Series:
    """Customer numbers normalised as the import normalised them (one batch)."""
    frame = pl.DataFrame({"customer_key": keys, "name": pl.repeat("x", keys.len(), eager=True)})
    out = normalise_batch(
        frame=frame,
        mapping=ColumnMapping(
            table_role=TableRole.CUSTOMERS,
            columns={"customer_key": "customer_key", "name": "name"},
        ),
        file="consents",
        first_row=2,
    )
    if out.clean.height != keys.len():  # pragma: no cover - text keys are never rejected
        return keys
    return out.clean.get_column("customer_key").cast(pl.String)


def match(
    uow: UnitOfWork, keyring: KeyRing, *, dataset: Dataset, rows: pl.DataFrame
) -> pl.DataFrame:
    """``rows`` (from ``read_consent_file``) with ``subject_id`` (null: no such customer in the
    dataset). Customer numbers are found by their blind index, never decrypted."""
    if rows.is_empty():
        return rows.with_columns(pl.lit(None, dtype=pl.String).alias("subject_id"))
    if rows.get_column("key_kind")[0] == "subject_id":
        keys = rows.get_column("key").to_list()
        known: set[str] = set()
        for i in range(0, len(keys), _CHUNK):
            known.update(
                uow.records.scalars(
                    select(CustomerRecord.subject_id).where(
                        CustomerRecord.dataset_id == dataset.id,
                        CustomerRecord.subject_id.in_(keys[i : i + _CHUNK]),
                    )
                )
            )
        return rows.with_columns(
            pl.when(pl.col("key").is_in(list(known))).then(pl.col("key")).alias("subject_id")
        )
    index_key = keyring.dataset_key(uow.keys, dataset_id=dataset.id, purpose=INDEX, version=1)
    blinded = blind_many(index_key, "customer_key", _normalised_keys(rows.get_column("key")))
    found = owners(
        uow.records,
        dataset_id=dataset.id,
        field="customer_key",
        values=[b for b in blinded if b is not None],
        active_only=False,
    )
    subjects = [found[b][2] if b is not None and b in found else None for b in blinded]
    return rows.with_columns(pl.Series("subject_id", subjects, dtype=pl.String))


def merge(
    session: Session, *, dataset_id: int, rows: pl.DataFrame, now: datetime
) -> tuple[int, int]:
    """Insert each matched consent, or update the one already held for the same customer,
    purpose and time (scope, separateness, withdrawal, source). Returns (added, updated)."""
    matched = rows.filter(pl.col("subject_id").is_not_null())
    held: dict[tuple[str, str, datetime], int] = {}
    subjects = matched.get_column("subject_id").unique().to_list()
    for i in range(0, len(subjects), _CHUNK):
        for rid, sub, purpose, given in session.execute(
            select(ConsentRecord.id, ConsentRecord.subject_id, ConsentRecord.purpose,
                   ConsentRecord.given_at)
            .where(ConsentRecord.dataset_id == dataset_id,
                   ConsentRecord.subject_id.in_(subjects[i : i + _CHUNK]))
        ):  # fmt: skip
            held[(sub, purpose, _utc(given))] = rid
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for r in matched.iter_rows(named=True):  # one dict per row for the bulk statements
        values = {"scope": r["scope"], "separate": bool(r["separate"]),
                  "withdrawn_at": r["withdrawn_at"], "source": r["source"]}  # fmt: skip
        known = held.get((r["subject_id"], r["purpose"], _utc(r["given_at"])))
        if known is None:
            new.append({"dataset_id": dataset_id, "subject_id": r["subject_id"],
                        "purpose": r["purpose"], "given_at": r["given_at"],
                        "imported_at": now, **values})  # fmt: skip
        else:
            changed.append({"id": known, **values})
    for i in range(0, len(new), _CHUNK):
        session.execute(insert(ConsentRecord), new[i : i + _CHUNK])
    for i in range(0, len(changed), _CHUNK):
        session.execute(update(ConsentRecord), changed[i : i + _CHUNK])
    return len(new), len(changed)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def in_force(
    *, purpose: str, at: datetime, category: str | None = None, separate: bool = False
) -> ColumnElement[bool]:
    """SQL: the customer row (``CustomerRecord``) holds a consent for ``purpose`` in force at
    ``at`` (given before, not withdrawn by then), covering ``category`` when named (an empty
    scope covers every category), given separately when ``separate``."""
    c = ConsentRecord
    conds: list[ColumnElement[bool]] = [
        c.dataset_id == CustomerRecord.dataset_id,
        c.subject_id == CustomerRecord.subject_id,
        c.purpose == purpose,
        c.given_at <= at,
        or_(c.withdrawn_at.is_(None), c.withdrawn_at > at),
    ]
    if separate:
        conds.append(c.separate.is_(True))
    if category is not None:
        padded = literal(",") + c.scope + literal(",")  # || on SQLite and PostgreSQL
        conds.append(or_(c.scope == "", padded.contains(f",{category},")))
    return exists().where(and_(*conds))


def any_held(session: Session, *, dataset_id: int) -> bool:
    """Whether any consent record was imported for the dataset."""
    return (
        session.scalar(
            select(ConsentRecord.id).where(ConsentRecord.dataset_id == dataset_id).limit(1)
        )
        is not None
    )


def count_active(
    session: Session, *, dataset_id: int, where: Sequence[ColumnElement[bool]] = ()
) -> int:
    """Active customers of the dataset meeting every condition of ``where``."""
    q = (
        select(func.count())
        .select_from(CustomerRecord)
        .where(CustomerRecord.dataset_id == dataset_id, CustomerRecord.status == "active", *where)
    )
    return int(session.scalar(q) or 0)


def count_active_each(
    session: Session, *, dataset_id: int, conditions: Mapping[str, Sequence[ColumnElement[bool]]]
) -> dict[str, int]:
    """:func:`count_active` for several sets of conditions in one pass over the dataset's
    customers (each pass reads the table, envelopes and all)."""
    if not conditions:
        return {}
    cols = [
        func.coalesce(func.sum(case((and_(*conds), 1), else_=0)), 0).label(f"c{i}")
        if conds
        else func.count().label(f"c{i}")
        for i, conds in enumerate(conditions.values())
    ]
    row = session.execute(
        select(*cols)
        .select_from(CustomerRecord)
        .where(CustomerRecord.dataset_id == dataset_id, CustomerRecord.status == "active")
    ).one()
    return {name: int(row[i] or 0) for i, name in enumerate(conditions)}


def summary(session: Session, *, dataset_id: int, at: datetime) -> dict[str, dict[str, int]]:
    """Per purpose: records held, withdrawn ones, and active customers with one in force."""
    out: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(ConsentRecord.purpose, func.count(),
               func.count(ConsentRecord.withdrawn_at))
        .where(ConsentRecord.dataset_id == dataset_id)
        .group_by(ConsentRecord.purpose)
    ).all()  # fmt: skip
    for purpose, n, withdrawn in rows:
        out[str(purpose)] = {
            "records": int(n),
            "withdrawn": int(withdrawn),
            "customers_in_force": count_active(
                session, dataset_id=dataset_id, where=[in_force(purpose=str(purpose), at=at)]
            ),
        }
    return out
