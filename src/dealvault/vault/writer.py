"""The import hot path: blind-index, merge, encrypt per customer and bulk-store a batch."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dealvault.crypto import envelope as env
from dealvault.crypto.blind import blind_many
from dealvault.crypto.keyring import DATA, INDEX, KeyRing
from dealvault.db.bulk import bulk_insert
from dealvault.db.stores import UnitOfWork
from dealvault.ingest.fields import Category
from dealvault.vault.models import ChildRecord, CustomerRecord, Dataset
from dealvault.vault.payloads import BLIND_FIELDS, category_columns, payload_columns
from dealvault.vault.seen import SeenFilter

RECORD_COLUMNS = (
    "id",
    "dataset_id",
    "subject_id",
    "status",
    "key_version",
    "import_id",
    "bi_id_number",
    "bi_phone",
    "bi_email",
    "bi_customer_key",
    "enc_identity",
    "enc_contact",
    "enc_transaction",
    "enc_preference",
    "enc_sensitive",
    "enc_free_text",
)
CHILD_COLUMNS = ("id", "record_id", "table_id", "import_id", "category", "key_version", "envelope")
KEY_COLUMNS = ("dataset_id", "record_id", "version", "wrapped")
#: Match priority for merging duplicates of one customer: ID number, then phone, then e-mail.
MATCH_FIELDS = ("id_number", "phone", "email")


@dataclass
class WriteStats:
    inserted: int = 0
    merged: int = 0
    rejected_rows: list[tuple[int, str, str]] = field(default_factory=list)


def next_id(session: Session, model: type[CustomerRecord] | type[ChildRecord]) -> int:
    """First free id; the caller's transaction already holds the write lock."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {model.__tablename__} IN EXCLUSIVE MODE"))
    return int(session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0) + 1


def blind_columns(frame: pl.DataFrame, index_key: bytes) -> pl.DataFrame:
    """Add ``__bi_<field>`` binary columns for the blind-indexed fields present."""
    cols = []
    for name in BLIND_FIELDS:
        if name in frame.columns:
            values = blind_many(index_key, name, frame.get_column(name).cast(pl.String).to_list())
            cols.append(pl.Series(f"__bi_{name}", values, dtype=pl.Binary))
    return frame.with_columns(cols) if cols else frame


def dedupe_batch(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Merge rows of one customer inside the batch: first non-null value of each column wins."""
    present = [f"__bi_{f}" for f in MATCH_FIELDS if f"__bi_{f}" in frame.columns]
    if not present or frame.height == 0:
        return frame, 0
    keyed = frame.with_columns(pl.coalesce([pl.col(c) for c in present]).alias("__mk"))
    with_key = keyed.filter(pl.col("__mk").is_not_null())
    without = keyed.filter(pl.col("__mk").is_null())
    merged = with_key.group_by("__mk", maintain_order=True).agg(
        [pl.col(c).drop_nulls().first() for c in frame.columns]
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
        data_key = keyring.dataset_key(
            ks, dataset_id=dataset.id, purpose=DATA, version=self.version
        )
        self.key_sealer = env.Sealer(
            data_key, keyring.customer_sealer_header(dataset.id, self.version)
        )
        self.payload_header = env.Header(env.ALG_AES_256_GCM, "ck", self.version)
        self.next_record_id = next_id(uow.records, CustomerRecord)
        self.seen = SeenFilter()
        self._load_seen()

    def _load_seen(self) -> None:
        """Put the blind indexes already stored in this dataset into the filter."""
        cols = [getattr(CustomerRecord, f"bi_{f}") for f in MATCH_FIELDS]
        result = self.uow.records.execute(
            select(*cols)
            .where(CustomerRecord.dataset_id == self.dataset.id, CustomerRecord.status == "active")
            .execution_options(yield_per=50_000)
        )
        for chunk in result.partitions():
            for j in range(len(cols)):
                self.seen.add(bytes(r[j]) if r[j] is not None else None for r in chunk)

    def write(self, frame: pl.DataFrame) -> WriteStats:
        stats = WriteStats()
        frame = blind_columns(frame, self.index_key)
        frame, stats.merged = dedupe_batch(frame)
        frame, merged_existing = self._merge_existing(frame)
        stats.merged += merged_existing
        if frame.height:
            self._insert_new(frame)
            stats.inserted = frame.height
        return stats

    # -- merging into customers already stored -------------------------------------------
    def _merge_existing(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        existing = self._find_existing(frame)
        if not existing:
            return frame, 0
        rows = frame.get_column("__row").to_list()
        hit = pl.Series([r in existing for r in rows])
        matched = frame.filter(hit)
        self._fill_missing(matched, [existing[r] for r in matched.get_column("__row").to_list()])
        return frame.filter(~hit), matched.height

    def _find_existing(self, frame: pl.DataFrame) -> dict[int, int]:
        """Map batch row number -> id of an already stored record of the same customer."""
        found: dict[int, int] = {}
        remaining = frame
        for name in MATCH_FIELDS:
            col = f"__bi_{name}"
            if col not in remaining.columns or remaining.height == 0:
                continue
            cand = remaining.filter(pl.col(col).is_not_null())
            if cand.height:  # only values the filter may have seen go to the database
                maybe = self.seen.might_contain(cand.get_column(col).to_list())
                cand = cand.filter(pl.Series(maybe))
            # Rows with a higher-priority key match on that key only.
            higher = [f"__bi_{f}" for f in MATCH_FIELDS[: MATCH_FIELDS.index(name)]]
            for h in higher:
                if h in cand.columns:
                    cand = cand.filter(pl.col(h).is_null())
            if cand.height == 0:
                continue
            values = cand.get_column(col).to_list()
            db_col = getattr(CustomerRecord, f"bi_{name}")
            hits: dict[bytes, int] = {}
            for i in range(0, len(values), 500):
                chunk = values[i : i + 500]
                for rid, bi in self.uow.records.execute(
                    select(CustomerRecord.id, db_col).where(
                        CustomerRecord.dataset_id == self.dataset.id,
                        CustomerRecord.status == "active",
                        db_col.in_(chunk),
                    )
                ):
                    if bi is not None:
                        hits.setdefault(bytes(bi), rid)
            for row, bi in zip(cand.get_column("__row").to_list(), values, strict=True):
                rid = hits.get(bi)
                if rid is not None:
                    found[row] = rid
        return found

    def _fill_missing(self, matched: pl.DataFrame, record_ids: Sequence[int]) -> None:
        """Add categories the stored record lacks; what it has already is kept."""
        s = self.uow.records
        cats = category_columns(matched.columns, overrides=self.overrides)
        payloads = payload_columns(matched, cats)
        records = {
            r.id: r
            for r in s.scalars(select(CustomerRecord).where(CustomerRecord.id.in_(set(record_ids))))
        }
        by_version: dict[int, list[int]] = {}
        for rid in set(record_ids):
            by_version.setdefault(records[rid].key_version, []).append(rid)
        keys: dict[int, bytes] = {}
        for version, rids in by_version.items():
            keys.update(
                self.keyring.unwrap_customer_keys(
                    self.uow.keys, dataset_id=self.dataset.id, version=version, record_ids=rids
                )
            )
        for i, rid in enumerate(record_ids):
            rec = records[rid]
            key = keys.get(rid)
            if key is None:
                continue
            sealer = env.Sealer(key, env.Header(env.ALG_AES_256_GCM, "ck", rec.key_version))
            for cat, values in payloads.items():
                attr = f"enc_{cat.value}"
                if getattr(rec, attr) is None and values[i] is not None:
                    setattr(
                        rec,
                        attr,
                        sealer.seal(
                            values[i],  # type: ignore[arg-type]
                            env.record_context(
                                self.dataset.id, rid, cat.value, self.dataset.schema_version
                            ),
                        ),
                    )
            for name in BLIND_FIELDS:
                col = f"__bi_{name}"
                if col in matched.columns and getattr(rec, f"bi_{name}") is None:
                    setattr(rec, f"bi_{name}", matched.get_column(col)[i])
        for name in MATCH_FIELDS:
            if f"__bi_{name}" in matched.columns:
                self.seen.add(matched.get_column(f"__bi_{name}").to_list())
        s.flush()

    # -- new customers ------------------------------------------------------------------
    def _seal_rows(
        self,
        start: int,
        key_blob: bytes,
        payloads: Mapping[Category, list[bytes | None]],
        schema: int,
    ) -> tuple[list[bytes], dict[str, list[bytes | None]]]:
        """Encrypt every row's payloads under its own new key; wrap the keys.

        This is the one per-row loop of the import: each customer has its own key, so there is
        no batch call to make. Nonces, keys and context prefixes are prepared up front.
        """
        n = len(key_blob) // 32
        ds, version = self.dataset.id, self.version
        head = self.payload_header.encode()
        nl = env.NONCE_LEN
        cats = [(c.value, payloads[c]) for c in payloads]
        outs: dict[str, list[bytes | None]] = {c: [None] * n for c, _ in cats}
        prefix = b"rec|%d|" % ds
        posts = [b"|%s|%d" % (c.encode(), schema) for c, _ in cats]
        nonces = os.urandom(nl * n * max(1, len(cats)))
        seal_key = self.key_sealer.seal
        ckey_ctx = env.customer_key_context
        aead_for = env.AESGCM
        wrapped: list[bytes] = []
        step = nl * len(cats)
        for i in range(n):
            rid = start + i
            ck = key_blob[32 * i : 32 * i + 32]
            encrypt = aead_for(ck).encrypt
            rid_b = b"%d" % rid
            base = step * i
            for j, (cat, values) in enumerate(cats):
                pt = values[i]
                if pt is not None:
                    nonce = nonces[base + nl * j : base + nl * (j + 1)]
                    outs[cat][i] = (
                        head + nonce + encrypt(nonce, pt, head + prefix + rid_b + posts[j])
                    )
            wrapped.append(seal_key(ck, ckey_ctx(ds, rid, version)))
        return wrapped, outs

    def _insert_new(self, frame: pl.DataFrame) -> None:
        n = frame.height
        ds = self.dataset.id
        schema = self.dataset.schema_version
        version = self.version
        start = self.next_record_id
        self.next_record_id += n
        cats = category_columns(frame.columns, overrides=self.overrides)
        payloads = payload_columns(frame, cats)
        blind = [
            frame.get_column(f"__bi_{f}").to_list() if f"__bi_{f}" in frame.columns else [None] * n
            for f in ("id_number", "phone", "email", "customer_key")
        ]
        key_blob = os.urandom(32 * n)
        subjects = secrets.token_hex(8 * n)
        wrapped, enc = self._seal_rows(start, key_blob, payloads, schema)
        for values in blind[:3]:  # id number, phone, e-mail: the match fields
            self.seen.add(values)
        none_col: list[bytes | None] = [None] * n
        cols = [enc.get(c[4:], none_col) for c in RECORD_COLUMNS[10:]]
        record_rows = list(
            zip(
                range(start, start + n),
                [ds] * n,
                [f"{start + i:08x}{subjects[16 * i : 16 * i + 16]}" for i in range(n)],
                ["active"] * n,
                [version] * n,
                [self.import_id] * n,
                *blind,
                *cols,
                strict=True,
            )
        )
        key_rows = list(zip([ds] * n, range(start, start + n), [version] * n, wrapped, strict=True))
        bulk_insert(self.uow.keys, table="customer_keys", columns=KEY_COLUMNS, rows=key_rows)
        bulk_insert(
            self.uow.records, table="customer_records", columns=RECORD_COLUMNS, rows=record_rows
        )


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

    def write(self, frame: pl.DataFrame) -> WriteStats:
        stats = WriteStats()
        keys = blind_many(
            self.index_key,
            "customer_key",
            frame.get_column("customer_key").cast(pl.String).to_list(),
        )
        owners: dict[bytes, tuple[int, int]] = {}
        distinct = list({k for k in keys if k is not None})
        for i in range(0, len(distinct), 500):
            for rid, bi, ver in self.uow.records.execute(
                select(
                    CustomerRecord.id, CustomerRecord.bi_customer_key, CustomerRecord.key_version
                ).where(
                    CustomerRecord.dataset_id == self.dataset.id,
                    CustomerRecord.status == "active",
                    CustomerRecord.bi_customer_key.in_(distinct[i : i + 500]),
                )
            ):
                if bi is not None:
                    owners[bytes(bi)] = (rid, ver)
        by_version: dict[int, list[int]] = {}
        for rid, ver in owners.values():
            by_version.setdefault(ver, []).append(rid)
        ckeys: dict[int, bytes] = {}
        for ver, rids in by_version.items():
            ckeys.update(
                self.keyring.unwrap_customer_keys(
                    self.uow.keys, dataset_id=self.dataset.id, version=ver, record_ids=rids
                )
            )
        body = frame.drop(["__row"])
        text_payload = (
            body.select(
                pl.struct([pl.col(c).cast(pl.String) for c in body.columns])
                .struct.json_encode()
                .cast(pl.Binary)
            )
            .to_series()
            .to_list()
        )
        rows_out = []
        cat = self.category.value
        ds = self.dataset.id
        cid = self.next_child_id
        for row, bi, pt in zip(
            frame.get_column("__row").to_list(), keys, text_payload, strict=True
        ):
            owner = owners.get(bi) if bi is not None else None
            key = ckeys.get(owner[0]) if owner is not None else None
            if owner is None or key is None:
                stats.rejected_rows.append(
                    (row, "customer_key", "no stored customer has this customer key")
                )
                continue
            rid, ver = owner
            sealer = env.Sealer(key, env.Header(env.ALG_AES_256_GCM, "ck", ver))
            rows_out.append(
                (
                    cid,
                    rid,
                    self.table_id,
                    self.import_id,
                    cat,
                    ver,
                    sealer.seal(pt, env.child_context(ds, cid, rid, cat)),
                )
            )
            cid += 1
        self.next_child_id = cid
        bulk_insert(self.uow.records, table="child_records", columns=CHILD_COLUMNS, rows=rows_out)
        stats.inserted = len(rows_out)
        return stats
