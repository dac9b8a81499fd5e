"""The key hierarchy: master key -> dataset keys -> customer keys, kept in the key store."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dealvault.crypto import envelope as env
from dealvault.crypto.models import CustomerKey, DatasetKey, KekCheck
from dealvault.crypto.providers import KeyProvider
from dealvault.errors import IntegrityError, KeyUnavailable, Shredded

DATA = "data"
INDEX = "index"


def _check_value(kek: bytes, kek_id: str, version: int) -> bytes:
    return hmac.digest(kek, f"dealvault kek check|{kek_id}|{version}".encode(), "sha256")


class KeyRing:
    """Unwraps and caches keys. Never logs or shows a key; ``repr`` names the provider only."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider
        self._dataset_keys: dict[tuple[int, str, int], bytes] = {}

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
        existing = ks.get(DatasetKey, (dataset_id, purpose, version))
        if existing is not None:
            return self.dataset_key(ks, dataset_id=dataset_id, purpose=purpose, version=version)
        key = secrets.token_bytes(32)
        kv = self.provider.active_version()
        ks.add(
            DatasetKey(
                dataset_id=dataset_id,
                purpose=purpose,
                version=version,
                kek_id=self.provider.kek_id,
                kek_version=kv,
                wrapped=self._wrap_dataset_key(dataset_id, purpose, version, key, kv),
            )
        )
        self._dataset_keys[(dataset_id, purpose, version)] = key
        return key

    def dataset_key(self, ks: Session, *, dataset_id: int, purpose: str, version: int) -> bytes:
        cached = self._dataset_keys.get((dataset_id, purpose, version))
        if cached is not None:
            return cached
        row = ks.get(DatasetKey, (dataset_id, purpose, version))
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
        self._dataset_keys[(dataset_id, purpose, version)] = key
        return key

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

    def unwrap_customer_keys(
        self, ks: Session, *, dataset_id: int, version: int, record_ids: Sequence[int]
    ) -> dict[int, bytes]:
        """Customer keys by record id; shredded customers are simply absent from the result."""
        data_key = self.dataset_key(ks, dataset_id=dataset_id, purpose=DATA, version=version)
        aead = env.opener(data_key)
        out: dict[int, bytes] = {}
        for chunk in _chunks(record_ids, 500):
            rows = ks.execute(
                select(CustomerKey.record_id, CustomerKey.wrapped).where(
                    CustomerKey.dataset_id == dataset_id,
                    CustomerKey.version == version,
                    CustomerKey.record_id.in_(chunk),
                )
            ).all()
            for rid, wrapped in rows:
                out[rid] = env.open_with(
                    aead, wrapped, env.customer_key_context(dataset_id, rid, version)
                )
        return out

    def destroy_customer_keys(
        self, ks: Session, *, dataset_id: int, record_ids: Sequence[int]
    ) -> int:
        n = 0
        for chunk in _chunks(record_ids, 500):
            result = ks.execute(
                delete(CustomerKey).where(
                    CustomerKey.dataset_id == dataset_id, CustomerKey.record_id.in_(chunk)
                )
            )
            n += int(getattr(result, "rowcount", 0) or 0)
        return n

    def destroy_dataset(self, ks: Session, *, dataset_id: int) -> int:
        n = int(
            getattr(
                ks.execute(delete(CustomerKey).where(CustomerKey.dataset_id == dataset_id)),
                "rowcount",
                0,
            )
            or 0
        )
        n += int(
            getattr(
                ks.execute(delete(DatasetKey).where(DatasetKey.dataset_id == dataset_id)),
                "rowcount",
                0,
            )
            or 0
        )
        self.forget(dataset_id)
        return n


def _chunks(items: Sequence[int] | Iterable[int], size: int) -> Iterable[list[int]]:
    batch: list[int] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
