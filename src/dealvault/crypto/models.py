"""Tables of the key store (a database apart from the records): wrapped keys only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from dealvault.db.base import KeyBase, UTCDateTime, utcnow


class KekCheck(KeyBase):
    """A MAC made with each master-key version, so a wrong key is told apart from bad data."""

    __tablename__ = "kek_checks"

    kek_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_value: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DatasetKey(KeyBase):
    """A per-dataset key (purpose ``data`` or ``index``) wrapped by a master-key version."""

    __tablename__ = "dataset_keys"

    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(8), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(64))
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerKeyBlock(KeyBase):
    """Up to 1,024 customer keys (records ``block*1024`` to ``block*1024+1023``) in one envelope.

    Sealed under the dataset's data key of the same version. Shredding a customer rewrites its
    block without the key; the key store runs with secure delete, so the old block is gone.
    ``entries`` (how many keys the block holds) is clear metadata for status reports.
    """

    __tablename__ = "customer_key_blocks"

    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    entries: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class SigningKey(KeyBase):
    """A signing key of the store (the audit log's Ed25519 key): its 32-byte seed wrapped by a
    master-key version, with the public verifier key beside it in clear (C2SP vkey string)."""

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    verifier_key: Mapped[str] = mapped_column(String(300))
    kek_id: Mapped[str] = mapped_column(String(64))
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
