"""Bulk notices: customers' contact points from the vault, batches and their deliveries kept
by subject id, the delivery file for the gateway (CSV, mode 0600) and the gateway's status
file imported back, every row validated. Service functions; the flows decide and commit."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import polars as pl
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from dealvault.access.models import Deal
from dealvault.crypto.keyring import KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.errors import InputError, NotFound
from dealvault.files import file_problem, write_private
from dealvault.ingest.fields import Category
from dealvault.notices.models import NoticeBatch, NoticeBatchCount, NoticeDelivery
from dealvault.notices.render import CONTACTS
from dealvault.vault.models import CustomerRecord, Dataset
from dealvault.vault.read import customers_of

STATUSES: Final = ("delivered", "failed", "bounced", "unreachable")
DELIVERY_COLUMNS: Final = ("delivery_id", "channel", "address", "subject", "message")
STATUS_COLUMNS: Final = ("delivery_id", "status", "at")
_CHUNK: Final = 5_000
#: errors shown at most per refused status file
MAX_ERRORS: Final = 20


def contacts(
    uow: UnitOfWork, keyring: KeyRing, *, deal: Deal, subjects: Sequence[str]
) -> pl.DataFrame:
    """Name, phone, e-mail and address of the customers ``subjects`` (schema ``CONTACTS``),
    decrypted per customer from every dataset of the deal holding them; shredded customers
    are left out."""
    wanted = sorted(set(subjects))
    found: dict[int, list[int]] = {}
    for i in range(0, len(wanted), _CHUNK):
        rows = uow.records.execute(
            select(CustomerRecord.dataset_id, CustomerRecord.id)
            .join(Dataset, Dataset.id == CustomerRecord.dataset_id)
            .where(
                Dataset.deal_id == deal.id,
                CustomerRecord.status == "active",
                CustomerRecord.subject_id.in_(wanted[i : i + _CHUNK]),
            )
        ).all()
        for ds_key, rid in rows:
            found.setdefault(int(ds_key), []).append(int(rid))
    parts = []
    for ds_id, records in sorted(found.items()):
        dataset = uow.records.get(Dataset, ds_id)
        assert dataset is not None
        frame = customers_of(
            uow,
            keyring,
            dataset=dataset,
            wanted=[Category.IDENTITY, Category.CONTACT],
            records=records,
        )
        parts.append(
            frame.select(
                pl.col(c).cast(pl.String)
                if c in frame.columns
                else pl.lit(None, pl.String).alias(c)
                for c in CONTACTS
            )
        )
    if not parts:
        return pl.DataFrame(schema=CONTACTS)
    return pl.concat(parts).unique("subject_id", keep="first", maintain_order=True)


def create_batch(
    session: Session,
    *,
    deal: str,
    ref: str,
    template_set: str,
    channel: str,
    rendered: pl.DataFrame,
    by: str,
    now: datetime,
) -> tuple[NoticeBatch, pl.DataFrame]:
    """A batch of ``rendered`` messages: a delivery per customer (``unreachable`` at once when
    the customer has no contact point for the channel). Returns the batch and the delivery
    file's rows (delivery_id, channel, address, subject, message) of the reachable ones."""
    batch = NoticeBatch(
        deal=deal,
        ref=ref,
        template_set=template_set,
        channel=channel,
        customers=rendered.height,
        created_by=by,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    frame = rendered.with_columns(
        delivery_id=pl.format(
            "{}-{}", pl.lit(batch.id), (pl.int_range(1, pl.len() + 1)).cast(pl.String).str.zfill(6)
        ),
        reachable=pl.col("address").is_not_null() & (pl.col("address").str.strip_chars() != ""),
    )
    rows = frame.select(
        pl.col("delivery_id").alias("id"),
        pl.lit(batch.id).alias("batch_id"),
        "subject_id",
        "language",
        pl.when("reachable")
        .then(pl.lit("pending"))
        .otherwise(pl.lit("unreachable"))
        .alias("status"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("status_at"),
    ).to_dicts()
    for i in range(0, len(rows), _CHUNK):
        session.execute(insert(NoticeDelivery), rows[i : i + _CHUNK])
    recount(session, batch_id=batch.id)
    out = frame.filter("reachable").select(
        "delivery_id", pl.lit(channel).alias("channel"), "address", "subject", "message"
    )
    return batch, out


def write_delivery_file(rows: pl.DataFrame, *, path: Path) -> str:
    """The delivery file (CSV, UTF-8, header ``delivery_id,channel,address,subject,message``)
    written whole with mode 0600; returns its SHA-256."""
    buf = io.BytesIO()
    rows.select(DELIVERY_COLUMNS).write_csv(buf)
    data = buf.getvalue()
    write_private(path, data)
    return hashlib.sha256(data).hexdigest()


def read_status_file(path: Path, *, statuses: Sequence[str] = STATUSES) -> pl.DataFrame:
    """The gateway's status file (CSV: delivery_id, status, at), every row checked; refused
    naming file, row and column of each problem (never the value). Row 1 is the header.
    ``statuses``: those the file may give (a transfer notice's also ``objected``)."""
    name = path.name
    problem = file_problem(path)
    if problem is not None:
        raise InputError(problem, file=name)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError):
        raise InputError("not a readable UTF-8 CSV file", file=name) from None
    absent = [c for c in STATUS_COLUMNS if c not in frame.columns]
    if absent:
        raise InputError("the header has no such column", file=name, column=absent[0])
    at = pl.col("at").str.strip_chars().str.replace(r"Z$", "+00:00")
    checked = frame.select(
        (pl.int_range(2, pl.len() + 2)).alias("row"),
        pl.col("delivery_id").str.strip_chars(),
        pl.col("status").str.strip_chars().str.to_lowercase(),
        at.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_zone="UTC").alias("at"),
        pl.col("at").is_null().alias("no_at"),
    )
    errors = pl.concat(
        [
            checked.filter(pl.col("delivery_id").is_null() | (pl.col("delivery_id") == "")).select(
                "row", pl.lit("delivery_id").alias("column"), pl.lit("is empty").alias("why")
            ),
            checked.filter(
                ~pl.col("status").is_in(list(statuses)) | pl.col("status").is_null()
            ).select(
                "row",
                pl.lit("status").alias("column"),
                pl.lit(f"is not one of {', '.join(statuses)}").alias("why"),
            ),
            checked.filter(pl.col("at").is_null()).select(
                "row",
                pl.lit("at").alias("column"),
                pl.lit(
                    "is not a time (ISO 8601 with its offset, e.g. 2026-12-08T09:30:00+08:00)"
                ).alias("why"),
            ),
            checked.filter(
                pl.col("delivery_id").is_duplicated() & pl.col("delivery_id").is_not_null()
            ).select(
                "row",
                pl.lit("delivery_id").alias("column"),
                pl.lit("is given twice in the file").alias("why"),
            ),
        ]
    ).sort("row", "column")
    refuse_rows(name, errors)
    return checked.select("row", "delivery_id", "status", "at")


def refuse_rows(name: str, errors: pl.DataFrame) -> None:
    """Refuse file ``name`` when ``errors`` (row, column, why) has rows: each named, never
    its value."""
    if errors.is_empty():
        return
    shown = [f"row {r}, column {c!r}: {w}" for r, c, w in errors.head(MAX_ERRORS).iter_rows()]
    more = f" (and {errors.height - MAX_ERRORS} more)" if errors.height > MAX_ERRORS else ""
    raise InputError(f"{errors.height} bad row(s): " + "; ".join(shown) + more, file=name)


def apply_status(
    session: Session, *, batches: Sequence[int], status: pl.DataFrame, file: str
) -> dict[int, dict[str, int]]:
    """Set each delivery's status and time from a checked status file; a delivery id of no
    batch in ``batches`` is refused naming its row. Returns the counts per batch and status."""
    ids = status.get_column("delivery_id").to_list()
    known: list[tuple[str, int]] = []
    for i in range(0, len(ids), _CHUNK):
        known += [
            (str(d), int(b))
            for d, b in session.execute(
                select(NoticeDelivery.id, NoticeDelivery.batch_id).where(
                    NoticeDelivery.id.in_(ids[i : i + _CHUNK]),
                    NoticeDelivery.batch_id.in_(list(batches)),
                )
            ).all()
        ]
    found = pl.DataFrame(
        known, schema={"delivery_id": pl.String, "batch_id": pl.Int64}, orient="row"
    )
    joined = status.join(found, on="delivery_id", how="left")
    refuse_rows(
        file,
        joined.filter(pl.col("batch_id").is_null()).select(
            "row",
            pl.lit("delivery_id").alias("column"),
            pl.lit("is no delivery of these notice batches").alias("why"),
        ),
    )
    params: list[dict[str, Any]] = joined.select(
        pl.col("delivery_id").alias("id"), "status", pl.col("at").alias("status_at")
    ).to_dicts()
    for i in range(0, len(params), _CHUNK):  # ORM bulk update by primary key
        session.execute(update(NoticeDelivery), params[i : i + _CHUNK])
    touched = sorted(set(joined.get_column("batch_id").to_list()))
    return {b: recount(session, batch_id=b) for b in touched}


def recount(session: Session, *, batch_id: int) -> dict[str, int]:
    """Store (and return) how many deliveries of the batch are in each status."""
    session.flush()
    rows = session.execute(
        select(NoticeDelivery.status, func.count())
        .where(NoticeDelivery.batch_id == batch_id)
        .group_by(NoticeDelivery.status)
    ).all()
    counts = {str(s): int(n) for s, n in rows}
    session.execute(delete(NoticeBatchCount).where(NoticeBatchCount.batch_id == batch_id))
    if counts:
        session.execute(
            insert(NoticeBatchCount),
            [{"batch_id": batch_id, "status": s, "count": n} for s, n in sorted(counts.items())],
        )
    return counts


def batches_of(session: Session, *, ref: str) -> list[NoticeBatch]:
    return list(
        session.scalars(select(NoticeBatch).where(NoticeBatch.ref == ref).order_by(NoticeBatch.id))
    )


def counts_of(session: Session, *, batch_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {b: {} for b in batch_ids}
    for b, s, n in session.execute(
        select(NoticeBatchCount.batch_id, NoticeBatchCount.status, NoticeBatchCount.count).where(
            NoticeBatchCount.batch_id.in_(list(batch_ids))
        )
    ).all():
        out[int(b)][str(s)] = int(n)
    return out


def get_batch(session: Session, *, batch_id: int) -> NoticeBatch:
    row = session.get(NoticeBatch, batch_id)
    if row is None:
        raise NotFound(f"notice batch {batch_id} not found")
    return row
