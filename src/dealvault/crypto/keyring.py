"""The key hierarchy: master key -> dataset keys -> customer keys, kept in the key store."""

from __future__ import annotations

import hmac
import secrets
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dealvault.crypto import envelope as env
from dealvault.crypto.models import CustomerKeyBlock, DatasetKey, KekCheck
from dealvault.crypto.providers import KeyProvider
from dealvault.db import memo
from dealvault.db.bulk import bulk_insert
from dealvault.errors import IntegrityError, KeyUnavailable, Shredded

DATA = "data"
INDEX = "index"
#: ``dataset_keys.dataset_id`` of the keys that belong to the store rather than to a dataset
#: (no dataset has id 0): wrapped and rewrapped by the master key like the others, and never
#: destroyed with a dataset.
STORE_SCOPE = 0


def _check_value(kek: bytes, kek_id: str, version: int) -> bytes:
    return hmac.digest(kek, f"dealvault kek check|{kek_id}|{version}".encode(), "sha256")


class KeyRing:
    """Unwraps and caches keys. Never logs or shows a key; ``repr`` names the provider only."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider
        #: unwrapped dataset keys by (dataset, purpose, version), with the wrapped blob they
        #: came from: a cached key is used only while the key store still holds that very
        #: blob (a rolled-back creation, a rotation or a shred elsewhere is never served
        #: from memory by a long-lived server process)
        self._dataset_keys: dict[tuple[int, str, int], tuple[bytes, bytes]] = {}

    def __repr__(self) -> str:
        return f"KeyRing(provider={self.provider.name!r}, kek_id={self.provider.kek_id!r})"

    # -- master key ---------------------------------------------------------------------
    def register_kek(self, ks: Session, version: int | None = None) -> None:
        """Record the check value of a master-key version (idempotent)."""
        v = self.provider.active_version() if version is None else version
        kek = self.provider.kek(v)
        row = ks.get(KekCheck, (self.provider.kek_id, v))
        if row is None:
            ks.add(
                KekCheck(
                    kek_id=self.provider.kek_id,
                    version=v,
                    check_value=_check_value(kek, self.provider.kek_id, v),
                )
            )

    def verify_kek(self, ks: Session) -> None:
        """Fail clearly when the provider's key is not the one the key store was made with."""
        rows = ks.scalars(select(KekCheck)).all()
        if not rows:
            return
        known = {(r.kek_id, r.version): r.check_value for r in rows}
        v = self.provider.active_version()
        expected = known.get((self.provider.kek_id, v))
        if expected is None:
            if any(k[0] == self.provider.kek_id for k in known):
                return  # a new version during rotation; registered by the rotation
            raise KeyUnavailable(
                f"master key id {self.provider.kek_id!r} is unknown to this key store"
            )
        if not hmac.compare_digest(
            expected, _check_value(self.provider.kek(v), self.provider.kek_id, v)
        ):
            raise KeyUnavailable(
                "master key does not match the key store (wrong key or passphrase)"
            )

    # -- dataset keys -------------------------------------------------------------------
    def _wrap_dataset_key(
        self, dataset_id: int, purpose: str, version: int, key: bytes, kek_version: int
    ) -> bytes:
        header = env.Header(env.ALG_AES_256_GCM, self.provider.kek_id, kek_version)
        return env.seal(
            self.provider.kek(kek_version),
            header,
            key,
            env.dataset_key_context(dataset_id, purpose, version),
        )

    def create_dataset_key(
        self, ks: Session, *, dataset_id: int, purpose: str, version: int
    ) -> bytes:
        existing = _key_row(ks, dataset_id=dataset_id, purpose=purpose, version=version)
        if existing is not None:
            return self.dataset_key(ks, dataset_id=dataset_id, purpose=purpose, version=version)
        key = secrets.token_bytes(32)
        kv = self.provider.active_version()
        wrapped = self._wrap_dataset_key(dataset_id, purpose, version, key, kv)
        ks.add(
            DatasetKey(
                dataset_id=dataset_id,
                purpose=purpose,
                version=version,
                kek_id=self.provider.kek_id,
                kek_version=kv,
                wrapped=wrapped,
            )
        )
        self._dataset_keys[(dataset_id, purpose, version)] = (wrapped, key)
        return key

    def dataset_key(self, ks: Session, *, dataset_id: int, purpose: str, version: int) -> bytes:
        row = _key_row(ks, dataset_id=dataset_id, purpose=purpose, version=version)
        cached = self._dataset_keys.get((dataset_id, purpose, version))
        if cached is not None and row is not None and cached[0] == row.wrapped:
            return cached[1]
        if row is None:
            raise Shredded(
                f"{purpose} key version {version} of dataset {dataset_id} does not exist "
                "(destroyed or never made)"
            )
        if row.kek_id != self.provider.kek_id:
            raise KeyUnavailable(f"dataset key is wrapped by master key {row.kek_id!r}, not ours")
        try:
            key = env.open_envelope(
                self.provider.kek(row.kek_version),
                row.wrapped,
                env.dataset_key_context(dataset_id, purpose, version),
            )
        except IntegrityError:
            raise KeyUnavailable(
                f"cannot unwrap the {purpose} key of dataset {dataset_id}: "
                "wrong master key, or the key store was altered"
            ) from None
        self._dataset_keys[(dataset_id, purpose, version)] = (row.wrapped, key)
        return key

    def store_key(self, ks: Session, *, purpose: str, create: bool) -> bytes | None:
        """A key of the store itself (e.g. ``canary``), made on first use when ``create``;
        None when it does not exist and ``create`` is false."""
        if create:
            return self.create_dataset_key(ks, dataset_id=STORE_SCOPE, purpose=purpose, version=1)
        if ks.get(DatasetKey, (STORE_SCOPE, purpose, 1)) is None:
            return None
        return self.dataset_key(ks, dataset_id=STORE_SCOPE, purpose=purpose, version=1)

    def rewrap_dataset_keys(self, ks: Session, *, to_version: int) -> int:
        """Master-key rotation: rewrap every dataset key not yet under ``to_version``."""
        rows = ks.scalars(
            select(DatasetKey).where(
                (DatasetKey.kek_version != to_version) | (DatasetKey.kek_id != self.provider.kek_id)
            )
        ).all()
        for row in rows:
            key = self.dataset_key(
                ks, dataset_id=row.dataset_id, purpose=row.purpose, version=row.version
            )
            row.wrapped = self._wrap_dataset_key(
                row.dataset_id, row.purpose, row.version, key, to_version
            )
            row.kek_version = to_version
        return len(rows)

    def forget(self, dataset_id: int) -> None:
        for k in [k for k in self._dataset_keys if k[0] == dataset_id]:
            del self._dataset_keys[k]

    # -- customer keys ------------------------------------------------------------------
    def customer_sealer_header(self, dataset_id: int, version: int) -> env.Header:
        return env.Header(env.ALG_AES_256_GCM, f"ds{dataset_id}", version)

    def _blocks(
        self, ks: Session, *, dataset_id: int, version: int | None, blocks: Iterable[int] | None
    ) -> list[CustomerKeyBlock]:
        q = select(CustomerKeyBlock).where(CustomerKeyBlock.dataset_id == dataset_id)
        if version is not None:
            q = q.where(CustomerKeyBlock.version == version)
        if blocks is None:
            return list(ks.scalars(q))
        out: list[CustomerKeyBlock] = []
        for chunk in _chunks(sorted(set(blocks)), 500):
            out.extend(ks.scalars(q.where(CustomerKeyBlock.block.in_(chunk))))
        return out

    def _open_block(self, ks: Session, row: CustomerKeyBlock) -> dict[int, bytes]:
        return unpack_key_block(self._open_block_bytes(ks, row))

    def _open_block_bytes(self, ks: Session, row: CustomerKeyBlock) -> bytes:
        """The block's packed entries (see :data:`KEY_ENTRY`), length checked."""
        key = self.dataset_key(ks, dataset_id=row.dataset_id, purpose=DATA, version=row.version)
        plain = env.open_envelope(
            key, row.wrapped, env.key_block_context(row.dataset_id, row.version, row.block)
        )
        if len(plain) % _ENTRY.size:
            raise IntegrityError("customer key block has a bad length")
        return plain

    def _seal_block(
        self, ks: Session, dataset_id: int, version: int, block: int, keys: dict[int, bytes]
    ) -> bytes:
        key = self.dataset_key(ks, dataset_id=dataset_id, purpose=DATA, version=version)
        return env.seal(
            key,
            self.customer_sealer_header(dataset_id, version),
            pack_key_block(keys),
            env.key_block_context(dataset_id, version, block),
        )

    def put_customer_keys(
        self, ks: Session, *, dataset_id: int, version: int, keys: Mapping[int, bytes]
    ) -> None:
        """Store new customer keys (record id -> key), merging into existing blocks."""
        grouped: dict[int, dict[int, bytes]] = {}
        for rid, key in keys.items():
            grouped.setdefault(rid >> BLOCK_BITS, {})[rid] = key
        existing = {
            r.block: r
            for r in self._blocks(ks, dataset_id=dataset_id, version=version, blocks=grouped)
        }
        new_rows = []
        for block, entries in grouped.items():
            row = existing.get(block)
            if row is not None:
                merged = self._open_block(ks, row)
                merged.update(entries)
                row.wrapped = self._seal_block(ks, dataset_id, version, block, merged)
                row.entries = len(merged)
            else:
                new_rows.append(
                    (
                        dataset_id,
                        version,
                        block,
                        len(entries),
                        self._seal_block(ks, dataset_id, version, block, entries),
                    )
                )
        ks.flush()
        bulk_insert(ks, table="customer_key_blocks", columns=BLOCK_COLUMNS, rows=new_rows)

    def unwrap_customer_keys(
        self, ks: Session, *, dataset_id: int, version: int, record_ids: Sequence[int]
    ) -> dict[int, bytes]:
        """Customer keys by record id; shredded customers are simply absent from the result."""
        wanted = set(record_ids)
        out: dict[int, bytes] = {}
        rows = self._blocks(
            ks, dataset_id=dataset_id, version=version, blocks={r >> BLOCK_BITS for r in wanted}
        )
        import numpy as np  # only here: the CLI's start-up does not load NumPy

        ids = np.fromiter(wanted, dtype=np.uint64, count=len(wanted))
        for row in rows:
            entries = np.frombuffer(self._open_block_bytes(ks, row), dtype=KEY_ENTRY)
            hit = entries[np.isin(entries["record_id"], ids)]  # only the keys asked for
            out.update(
                zip(hit["record_id"].tolist(), (k.tobytes() for k in hit["key"]), strict=True)
            )
        return out

    def customer_key_blocks(
        self, ks: Session, *, dataset_id: int, version: int, per_query: int = 256
    ) -> Iterator[bytes]:
        """Every customer-key block of a dataset version, opened, in block order: packed
        entries (8-byte big-endian record id, 32-byte key), see :data:`KEY_ENTRY`."""
        last = -1
        while True:
            rows = ks.execute(
                select(CustomerKeyBlock.block, CustomerKeyBlock.wrapped)
                .where(
                    CustomerKeyBlock.dataset_id == dataset_id,
                    CustomerKeyBlock.version == version,
                    CustomerKeyBlock.block > last,
                )
                .order_by(CustomerKeyBlock.block)
                .limit(per_query)
            ).all()
            if not rows:
                return
            last = rows[-1][0]
            key = self.dataset_key(ks, dataset_id=dataset_id, purpose=DATA, version=version)
            for block, wrapped in rows:
                plain = env.open_envelope(
                    key, wrapped, env.key_block_context(dataset_id, version, block)
                )
                if len(plain) % _ENTRY.size:
                    raise IntegrityError("customer key block has a bad length")
                yield plain

    def destroy_customer_keys(
        self, ks: Session, *, dataset_id: int, record_ids: Sequence[int]
    ) -> int:
        """Remove these customers' keys (every version); returns how many keys were destroyed."""
        doomed = set(record_ids)
        n = 0
        rows = self._blocks(
            ks, dataset_id=dataset_id, version=None, blocks={r >> BLOCK_BITS for r in doomed}
        )
        for row in rows:
            keys = self._open_block(ks, row)
            kept = {rid: k for rid, k in keys.items() if rid not in doomed}
            if len(kept) == len(keys):
                continue
            n += len(keys) - len(kept)
            if kept:
                row.wrapped = self._seal_block(ks, dataset_id, row.version, row.block, kept)
                row.entries = len(kept)
            else:
                ks.delete(row)
        ks.flush()
        return n

    def count_customer_keys(self, ks: Session, *, dataset_id: int) -> int:
        total = ks.scalar(
            select(func.coalesce(func.sum(CustomerKeyBlock.entries), 0)).where(
                CustomerKeyBlock.dataset_id == dataset_id
            )
        )
        return int(total or 0)

    def drop_version(self, ks: Session, *, dataset_id: int, version: int) -> None:
        """After a data-key rotation: the old version's customer keys and data key go."""
        ks.execute(
            delete(CustomerKeyBlock).where(
                CustomerKeyBlock.dataset_id == dataset_id, CustomerKeyBlock.version == version
            )
        )
        ks.execute(
            delete(DatasetKey).where(
                DatasetKey.dataset_id == dataset_id,
                DatasetKey.purpose == DATA,
                DatasetKey.version == version,
            )
        )
        self._dataset_keys.pop((dataset_id, DATA, version), None)

    def destroy_dataset(self, ks: Session, *, dataset_id: int) -> int:
        """Every key of a dataset; returns customer keys + dataset keys destroyed."""
        n = self.count_customer_keys(ks, dataset_id=dataset_id)
        ks.execute(delete(CustomerKeyBlock).where(CustomerKeyBlock.dataset_id == dataset_id))
        result = ks.execute(delete(DatasetKey).where(DatasetKey.dataset_id == dataset_id))
        n += int(getattr(result, "rowcount", 0) or 0)
        self.forget(dataset_id)
        return n


BLOCK_BITS = 10
BLOCK_COLUMNS = ("dataset_id", "version", "block", "entries", "wrapped")
_ENTRY = struct.Struct(">Q32s")
#: The layout of a customer-key block's entries, as a NumPy structured dtype.
KEY_ENTRY = [("record_id", ">u8"), ("key", "V32")]


def pack_key_block(keys: Mapping[int, bytes]) -> bytes:
    return b"".join(_ENTRY.pack(rid, keys[rid]) for rid in sorted(keys))


def _key_row(ks: Session, *, dataset_id: int, purpose: str, version: int) -> DatasetKey | None:
    """The stored key row; inside ``db.memo.remembered`` every key row of the dataset is read
    with the first (a disclosure uses its data, index and canary keys in one transaction)."""
    if not memo.active(ks):
        return ks.get(DatasetKey, (dataset_id, purpose, version))

    def load() -> dict[tuple[str, int], DatasetKey]:
        rows = ks.scalars(select(DatasetKey).where(DatasetKey.dataset_id == dataset_id))
        return {(r.purpose, r.version): r for r in rows}

    found = memo.recall(ks, ("dataset_keys", dataset_id), load).get((purpose, version))
    return found if found is not None else ks.get(DatasetKey, (dataset_id, purpose, version))


def unpack_key_block(data: bytes) -> dict[int, bytes]:
    if len(data) % _ENTRY.size:
        raise IntegrityError("customer key block has a bad length")
    return {rid: key for rid, key in _ENTRY.iter_unpack(data)}


def _chunks(items: Sequence[int] | Iterable[int], size: int) -> Iterable[list[int]]:
    batch: list[int] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
