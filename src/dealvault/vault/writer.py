"""The import hot path: blind-index, merge, encrypt per customer and bulk-store a batch."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dealvault import native
from dealvault.crypto import envelope as env
from dealvault.crypto.blind import blind_many
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.db.bulk import bulk_insert
from dealvault.db.stores import UnitOfWork
from dealvault.ingest.fields import Category
from dealvault.vault import blinds
from dealvault.vault.blind_buffer import BlindBuffer
from dealvault.vault.flags import COLUMN as FLAGS
from dealvault.vault.models import BLIND_FIELDS, ChildRecord, CustomerRecord, Dataset
from dealvault.vault.payloads import category_columns, payload_columns
from dealvault.vault.seen import SeenFilter

CATEGORY_ORDER = ("identity", "contact", "transaction", "preference", "sensitive", "free_text")
RECORD_COLUMNS = (
    "id",
    "dataset_id",
    "subject_id",
    "status",
    "key_version",
    "import_id",
    *(f"enc_{c}" for c in CATEGORY_ORDER),
    "flags",
)
CHILD_COLUMNS = ("id", "record_id", "table_id", "import_id", "category", "key_version", "envelope")
#: Match priority for merging duplicates of one customer: ID number, then phone.
MATCH_FIELDS = ("id_number", "phone")


@dataclass
class WriteStats:
    inserted: int = 0
    merged: int = 0
    rejected_rows: list[tuple[int, str, str]] = field(default_factory=list)
    #: Subject ids of the customers this batch touched (new or merged into), for the audit log.
    subjects: list[str] = field(default_factory=list)


def next_id(session: Session, model: type[CustomerRecord] | type[ChildRecord]) -> int:
    """First free id; the caller's transaction already holds the write lock."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {model.__tablename__} IN EXCLUSIVE MODE"))
    return int(session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0) + 1


def dedupe_batch(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Merge rows of one customer inside the batch: first non-null value of each column wins."""
    present = [f"__bi_{f}" for f in MATCH_FIELDS if f"__bi_{f}" in frame.columns]
    if not present or frame.height == 0:
        return frame, 0
    keyed = frame.with_columns(pl.coalesce([pl.col(c) for c in present]).alias("__mk"))
    if keyed.get_column("__mk").drop_nulls().is_unique().all():
        return frame, 0
    with_key = keyed.filter(pl.col("__mk").is_not_null())
    without = keyed.filter(pl.col("__mk").is_null())
    merged = with_key.group_by("__mk", maintain_order=True).agg(
        [
            pl.col(c).bitwise_or() if c == FLAGS else pl.col(c).drop_nulls().first()
            for c in frame.columns
        ]
    )
    out = pl.concat([merged.select(frame.columns), without.select(frame.columns)])
    return out, frame.height - out.height


class CustomerWriter:
    """Writes normalised customer batches of one import into the two stores."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        keyring: KeyRing,
        dataset: Dataset,
        import_id: int,
        category_overrides: Mapping[str, Category] | None = None,
    ) -> None:
        self.uow = uow
        self.keyring = keyring
        self.dataset = dataset
        self.import_id = import_id
        self.version = dataset.data_key_version
        self.overrides = category_overrides
        ks = uow.keys
        self.index_key = keyring.dataset_key(ks, dataset_id=dataset.id, purpose=INDEX, version=1)
        self.payload_header = env.Header(env.ALG_AES_256_GCM, "ck", self.version)
        self.next_record_id = next_id(uow.records, CustomerRecord)
        self.seen = SeenFilter()
        self.held = BlindBuffer(uow.records)
        for chunk in blinds.stored_values(uow.records, dataset_id=dataset.id, fields=MATCH_FIELDS):
            self.seen.add(chunk)

    def write(self, frame: pl.DataFrame) -> WriteStats:
        stats = WriteStats()
        frame = blinds.blind_columns(frame, self.index_key)
        frame, stats.merged = dedupe_batch(frame)
        frame, merged_existing, touched = self._merge_existing(frame)
        stats.merged += merged_existing
        stats.subjects.extend(touched)
        if frame.height:
            stats.subjects.extend(self._insert_new(frame))
            stats.inserted = frame.height
        return stats

    def finish(self) -> None:
        """Write the blind rows still held; call once after the last batch."""
        self.held.flush()

    # -- merging into customers already stored -------------------------------------------
    def _merge_existing(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, int, list[str]]:
        existing = self._find_existing(frame)
        if not existing:
            return frame, 0, []
        hit = frame.get_column("__row").is_in(list(existing))
        matched = frame.filter(hit)
        touched = self._fill_missing(
            matched, [existing[r] for r in matched.get_column("__row").to_list()]
        )
        return frame.filter(~hit), matched.height, touched

    def _find_existing(self, frame: pl.DataFrame) -> dict[int, tuple[int, int]]:
        """Batch row number -> (record id, key version) of a stored record of the same customer.

        A row matches on its highest-priority key only (ID number, else phone).
        Only values the filter may have seen are looked up in the database.
        """
        found: dict[int, tuple[int, int]] = {}
        for n, name in enumerate(MATCH_FIELDS):
            col = f"__bi_{name}"
            if col not in frame.columns:
                continue
            cand = frame.filter(pl.col(col).is_not_null())
            for higher in MATCH_FIELDS[:n]:
                if f"__bi_{higher}" in cand.columns:
                    cand = cand.filter(pl.col(f"__bi_{higher}").is_null())
            if cand.height == 0:
                continue
            cand = cand.filter(pl.Series(self.seen.might_contain(cand.get_column(col).to_list())))
            if cand.height == 0:
                continue
            values = cand.get_column(col).to_list()
            hits = {
                v: owner[:2]
                for v, owner in blinds.owners(
                    self.uow.records, dataset_id=self.dataset.id, field=name, values=values
                ).items()
            }
            # customers of this import whose rows are still held; the lowest id wins
            for v, rid in self.held.owners(field=BLIND_FIELDS[name], values=values).items():
                if v not in hits or rid < hits[v][0]:
                    hits[v] = (rid, self.version)
            for row, value in zip(cand.get_column("__row").to_list(), values, strict=True):
                if value in hits:
                    found[row] = hits[value]
        return found

    def _fill_missing(self, matched: pl.DataFrame, owners: Sequence[tuple[int, int]]) -> list[str]:
        """Add categories and blind indexes the stored record lacks; what it has is kept."""
        s = self.uow.records
        ds = self.dataset
        record_ids = [rid for rid, _ in owners]
        payloads = payload_columns(
            matched, category_columns(matched.columns, overrides=self.overrides)
        )
        records = {
            r.id: r
            for r in s.scalars(select(CustomerRecord).where(CustomerRecord.id.in_(set(record_ids))))
        }
        keys: dict[int, bytes] = {}
        for version in {v for _, v in owners}:
            keys.update(
                self.keyring.unwrap_customer_keys(
                    self.uow.keys,
                    dataset_id=ds.id,
                    version=version,
                    record_ids=[rid for rid, v in owners if v == version],
                )
            )
        new_blinds: list[tuple[int, int, bytes, int]] = []
        flags = matched.get_column(FLAGS).to_list() if FLAGS in matched.columns else None
        for i, (rid, version) in enumerate(owners):
            rec, key = records[rid], keys.get(rid)
            if key is None:
                continue
            if flags is not None:  # a customer imported before flags gets them now
                rec.flags = (rec.flags or 0) | int(flags[i] or 0)
            sealer = env.Sealer(key, env.Header(env.ALG_AES_256_GCM, "ck", version))
            for cat, values in payloads.items():
                attr, value = f"enc_{cat.value}", values[i]
                if getattr(rec, attr) is None and value is not None:
                    ctx = env.record_context(ds.id, rid, cat.value, ds.schema_version)
                    setattr(rec, attr, sealer.seal(value, ctx))
            # A second phone of the same customer is indexed too, so it finds the customer.
            for name, indexed_as in blinds.INDEXED.items():
                col = f"__bi_{name}"
                value_b = matched.get_column(col)[i] if col in matched.columns else None
                if value_b is not None:
                    new_blinds.append((ds.id, BLIND_FIELDS[indexed_as], value_b, rid))
        s.flush()
        self.held.add_rows([r for r in new_blinds if self.held.holds(r[3])])
        blinds.insert_missing(s, rows=[r for r in new_blinds if not self.held.holds(r[3])])
        self.seen.add(v for _, code, v, _ in new_blinds if code != BLIND_FIELDS["customer_key"])
        return sorted({records[rid].subject_id for rid, _ in owners})

    # -- new customers ------------------------------------------------------------------
    def _seal_rows(
        self, start: int, key_blob: bytes, payloads: Mapping[Category, list[bytes | None]]
    ) -> dict[str, list[bytes | None]]:
        """Encrypt every row's payloads under its own new key, in one call of the batch
        kernel (:func:`dealvault.native.seal_rows`); nonces are drawn for the batch at once."""
        n = len(key_blob) // 32
        cats = [c.value for c in payloads]
        posts = tuple(b"|%s|%d" % (c.encode(), self.dataset.schema_version) for c in cats)
        sealed = native.seal_rows(
            key_blob,
            self.payload_header.encode(),
            b"rec|%d|" % self.dataset.id,
            start,
            posts,
            [list(v) for v in payloads.values()],
            os.urandom(env.NONCE_LEN * n * max(1, len(cats))),
        )
        return dict(zip(cats, sealed, strict=True))

    def _insert_new(self, frame: pl.DataFrame) -> list[str]:
        n = frame.height
        ds, version = self.dataset.id, self.version
        start = self.next_record_id
        self.next_record_id += n
        ids = range(start, start + n)
        payloads = payload_columns(frame, category_columns(frame.columns, overrides=self.overrides))
        key_blob = os.urandom(32 * n)
        enc = self._seal_rows(start, key_blob, payloads)
        randoms = secrets.token_hex(8 * n)
        subjects = [f"{start + i:08x}{randoms[16 * i : 16 * i + 16]}" for i in range(n)]
        none_col: list[bytes | None] = [None] * n
        flags = frame.get_column(FLAGS).to_list() if FLAGS in frame.columns else [None] * n
        record_rows = list(
            zip(
                ids,
                [ds] * n,
                subjects,
                ["active"] * n,
                [version] * n,
                [self.import_id] * n,
                *(enc.get(c, none_col) for c in CATEGORY_ORDER),
                flags,
                strict=True,
            )
        )
        self.keyring.put_customer_keys(
            self.uow.keys,
            dataset_id=ds,
            version=version,
            keys={start + i: key_blob[32 * i : 32 * i + 32] for i in range(n)},
        )
        s = self.uow.records
        bulk_insert(s, table="customer_records", columns=RECORD_COLUMNS, rows=record_rows)
        self.held.add(
            blinds.blind_frame(dataset_id=ds, frame=frame, record_ids=ids), first_record_id=start
        )
        for name in (*MATCH_FIELDS, "phone_2"):  # a second phone is stored as a phone too
            if f"__bi_{name}" in frame.columns:
                self.seen.add(frame.get_column(f"__bi_{name}"))
        return subjects


class ChildWriter:
    """Writes child rows (orders, notes), each encrypted under its customer's key."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        keyring: KeyRing,
        dataset: Dataset,
        table_id: int,
        import_id: int,
        category: Category,
    ) -> None:
        self.uow = uow
        self.keyring = keyring
        self.dataset = dataset
        self.table_id = table_id
        self.import_id = import_id
        self.category = category
        self.index_key = keyring.dataset_key(
            uow.keys, dataset_id=dataset.id, purpose=INDEX, version=1
        )
        self.next_child_id = next_id(uow.records, ChildRecord)

    def finish(self) -> None:
        """Nothing is held back for child rows."""

    def write(self, frame: pl.DataFrame) -> WriteStats:
        stats = WriteStats()
        keys = blind_many(
            self.index_key,
            "customer_key",
            frame.get_column("customer_key").cast(pl.String).to_list(),
        )
        owner_of = blinds.owners(
            self.uow.records,
            dataset_id=self.dataset.id,
            field="customer_key",
            values=[k for k in keys if k is not None],
        )
        ckeys: dict[int, bytes] = {}
        for version in {v for _, v, _ in owner_of.values()}:
            ckeys.update(
                self.keyring.unwrap_customer_keys(
                    self.uow.keys,
                    dataset_id=self.dataset.id,
                    version=version,
                    record_ids=[rid for rid, v, _ in owner_of.values() if v == version],
                )
            )
        body = frame.drop(["__row"])
        payloads = (
            body.select(
                pl.struct([pl.col(c).cast(pl.String) for c in body.columns])
                .struct.json_encode()
                .cast(pl.Binary)
            )
            .to_series()
            .to_list()
        )
        rows_out = []
        touched: set[str] = set()
        cat, ds, cid = self.category.value, self.dataset.id, self.next_child_id
        for row, bi, pt in zip(frame.get_column("__row").to_list(), keys, payloads, strict=True):
            owner = owner_of.get(bi) if bi is not None else None
            key = ckeys.get(owner[0]) if owner is not None else None
            if owner is None or key is None:
                stats.rejected_rows.append(
                    (row, "customer_key", "no stored customer has this customer key")
                )
                continue
            rid, version, subject = owner
            touched.add(subject)
            sealer = env.Sealer(key, env.Header(env.ALG_AES_256_GCM, "ck", version))
            rows_out.append(
                (
                    cid,
                    rid,
                    self.table_id,
                    self.import_id,
                    cat,
                    version,
                    sealer.seal(pt, env.child_context(ds, cid, rid, cat)),
                )
            )
            cid += 1
        self.next_child_id = cid
        bulk_insert(self.uow.records, table="child_records", columns=CHILD_COLUMNS, rows=rows_out)
        stats.inserted = len(rows_out)
        stats.subjects = sorted(touched)
        return stats
