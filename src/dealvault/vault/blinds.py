"""Blind-index rows: compute per batch, insert in key order, find owners without decrypting."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import polars as pl
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dealvault import native
from dealvault.vault.models import BLIND_FIELDS, BlindIndex, CustomerRecord

BLIND_COLUMNS = ("dataset_id", "field", "value", "record_id")
BLIND_SCHEMA = {
    "dataset_id": pl.Int64,
    "field": pl.Int64,
    "value": pl.Binary,
    "record_id": pl.Int64,
}
#: Frame column -> the blind-indexed field its values are indexed as. A customer's second
#: phone number is indexed as a phone, so a look-up by phone finds it too.
INDEXED: dict[str, str] = {
    "id_number": "id_number",
    "phone": "phone",
    "phone_2": "phone",
    "customer_key": "customer_key",
}


def blind_columns(frame: pl.DataFrame, index_key: bytes) -> pl.DataFrame:
    """Add ``__bi_<column>`` binary columns for the blind-indexed columns present."""
    cols = [
        native.blind_series(
            index_key, field.encode()[:16], frame.get_column(name).cast(pl.String)
        ).alias(f"__bi_{name}")
        for name, field in INDEXED.items()
        if name in frame.columns
    ]
    return frame.with_columns(cols) if cols else frame


def blind_frame(*, dataset_id: int, frame: pl.DataFrame, record_ids: Sequence[int]) -> pl.DataFrame:
    """Rows for ``blind_indexes`` from the ``__bi_*`` columns (row i is ``record_ids[i]``), as
    a frame ``dataset_id, field, value, record_id`` (unsorted, nulls dropped)."""
    rid = pl.Series("record_id", record_ids, dtype=pl.Int64)
    parts = [
        frame.select(
            pl.lit(dataset_id, dtype=pl.Int64).alias("dataset_id"),
            pl.lit(BLIND_FIELDS[field], dtype=pl.Int64).alias("field"),
            pl.col(f"__bi_{name}").alias("value"),
            rid,
        )
        for name, field in INDEXED.items()
        if f"__bi_{name}" in frame.columns
    ]
    if not parts:
        return pl.DataFrame(schema=BLIND_SCHEMA)
    return pl.concat(parts).drop_nulls("value")


def owners(
    session: Session,
    *,
    dataset_id: int,
    field: str,
    values: Sequence[bytes],
    active_only: bool = True,
) -> dict[bytes, tuple[int, int, str]]:
    """Blind value -> (record id, key version, subject id) of the first customer holding it."""
    found: dict[bytes, tuple[int, int, str]] = {}
    code = BLIND_FIELDS[field]
    distinct = sorted(set(values))
    for i in range(0, len(distinct), 500):
        q = (
            select(
                BlindIndex.value,
                CustomerRecord.id,
                CustomerRecord.key_version,
                CustomerRecord.subject_id,
            )
            .join(CustomerRecord, CustomerRecord.id == BlindIndex.record_id)
            .where(
                BlindIndex.dataset_id == dataset_id,
                BlindIndex.field == code,
                BlindIndex.value.in_(distinct[i : i + 500]),
            )
            .order_by(CustomerRecord.id)
        )
        if active_only:
            q = q.where(CustomerRecord.status == "active")
        for value, rid, version, subject in session.execute(q):
            found.setdefault(bytes(value), (rid, version, subject))
    return found


def stored_values(
    session: Session, *, dataset_id: int, fields: Sequence[str]
) -> Iterator[list[bytes]]:
    """Stream the stored blind values of some fields, in chunks (to fill a filter)."""
    codes = [BLIND_FIELDS[f] for f in fields]
    result = session.execute(
        select(BlindIndex.value)
        .where(BlindIndex.dataset_id == dataset_id, BlindIndex.field.in_(codes))
        .execution_options(yield_per=50_000)
    )
    for chunk in result.partitions():
        yield [bytes(r[0]) for r in chunk]


def insert_missing(session: Session, *, rows: Sequence[tuple[int, int, bytes, int]]) -> None:
    """Insert blind rows that are not there yet (the merge path; small)."""
    if not rows:
        return
    conn = session.connection()
    values = [dict(zip(BLIND_COLUMNS, r, strict=True)) for r in sorted(set(rows))]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(BlindIndex).on_conflict_do_nothing(), values)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(BlindIndex).on_conflict_do_nothing(), values)


def delete_for_records(session: Session, *, dataset_id: int, record_ids: Sequence[int]) -> None:
    """Drop every blind row of these customers (one scan of the dataset's rows per chunk)."""
    ids = sorted(set(record_ids))
    for i in range(0, len(ids), 5000):
        session.execute(
            delete(BlindIndex).where(
                BlindIndex.dataset_id == dataset_id, BlindIndex.record_id.in_(ids[i : i + 5000])
            )
        )
