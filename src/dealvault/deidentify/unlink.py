"""Keeping two recipients' record-level extracts apart: a keyed row order and keyed noise.

Both are pseudo-random functions of (key, dataset, record id), so a recipient gets the same
order and the same noisy values on every page and every download (averaging repeated
downloads gains nothing), and another recipient gets an unrelated order and unrelated noise.
The keys are derived from the dataset's index key (held by the seller) per recipient; a
test's ``seed`` derives them from the seed instead. See docs/deidentification.md, "Two
recipients' extracts do not link".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dealvault.deidentify.tokens import KEY_BYTES, keyed_blocks
from dealvault.errors import Invalid

#: Relative half-width of the noise on order totals: each total is multiplied by 1 ± up to 5%.
AMOUNT_NOISE: Final = 0.05
#: Half-width of the jitter on dates, in days (uniform over -7 … +7, per date and record).
DATE_JITTER_DAYS: Final = 7
#: Money columns released with noise, and date columns released with jitter.
NOISY_AMOUNTS: Final = ("total_amount",)
NOISY_DATES: Final = ("registered_at", "first_order", "last_order")

_ORDER_MAGIC: Final = b"DVO1"
_INFO: Final = b"dealvault/unlink/v1/"


@dataclass(frozen=True)
class UnlinkKeys:
    """The keys of one recipient's extracts of one dataset (``repr`` hides them)."""

    order: bytes
    noise: bytes
    #: not per recipient: every recipient's canary of one slot has the same drawn values
    profile: bytes

    def __repr__(self) -> str:
        return "UnlinkKeys(…)"


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(secret)


def unlink_keys(index_key: bytes, *, recipient_id: int) -> UnlinkKeys:
    """Keys derived from the dataset's index key (HKDF-SHA256, one ``info`` per purpose)."""
    if recipient_id < 0:
        raise Invalid("recipient id must not be negative")
    rid = str(int(recipient_id)).encode("ascii")
    return UnlinkKeys(
        order=_derive(index_key, _INFO + b"order/" + rid),
        noise=_derive(index_key, _INFO + b"noise/" + rid),
        profile=_derive(index_key, _INFO + b"canary-profile"),
    )


def seeded_keys(seed: int, *, recipient_id: int) -> UnlinkKeys:
    """Keys fixed by a test's seed (still distinct per recipient)."""
    secret = hashlib.sha256(b"dealvault/unlink/seed/" + str(int(seed)).encode()).digest()
    return unlink_keys(secret, recipient_id=recipient_id)


def _words(key: bytes, *, dataset_id: int, record_ids: npt.NDArray[np.int64], magic: bytes) -> Any:
    raw = keyed_blocks(key, dataset_id=dataset_id, record_ids=record_ids, magic=magic)
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 2)


def row_order(
    key: bytes, *, dataset_id: int, record_ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Position ``i`` of the released view holds row ``order[i]`` of ``record_ids``: the rows
    sorted by a keyed pseudo-random value of their record id. Removing or adding a customer
    leaves the others' relative order as it was."""
    ids = np.asarray(record_ids, dtype=np.int64)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    words = _words(key, dataset_id=dataset_id, record_ids=ids, magic=_ORDER_MAGIC)
    return np.lexsort((words[:, 1], words[:, 0])).astype(np.int64)


def uniforms(
    key: bytes, *, dataset_id: int, record_ids: npt.NDArray[np.int64], stream: int
) -> npt.NDArray[np.float64]:
    """One keyed uniform number in [0, 1) per record for ``stream`` (0–255: one per use)."""
    if not 0 <= stream < 256:
        raise Invalid("a noise stream is a number from 0 to 255")
    ids = np.asarray(record_ids, dtype=np.int64)
    if ids.size == 0:
        return np.zeros(0, dtype=np.float64)
    words = _words(key, dataset_id=dataset_id, record_ids=ids, magic=b"DVN" + bytes([stream]))
    out: npt.NDArray[np.float64] = (words[:, 0] >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return out


def _day(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)


def perturbed(frame: pl.DataFrame, *, key: bytes, dataset_id: int) -> pl.DataFrame:
    """``frame`` with its order totals and dates noised per record under ``key``.

    Totals: times 1 + d, d uniform in ±:data:`AMOUNT_NOISE`, rounded to cents. Dates: moved
    by a whole number of days uniform in ±:data:`DATE_JITTER_DAYS`, independently per column,
    then put back in order (registration ≤ first order ≤ last order). Each row's values
    depend on that row alone, so a page is noised as the same rows of the whole view. Counts,
    categories and quasi-identifiers are not touched.
    """
    ids = frame.get_column("record_id").cast(pl.Int64).to_numpy()
    changes: list[pl.Series | pl.Expr] = []
    for i, name in enumerate(NOISY_AMOUNTS):
        if name in frame.columns:
            u = uniforms(key, dataset_id=dataset_id, record_ids=ids, stream=i)
            factor = pl.Series(name, 1.0 + AMOUNT_NOISE * (2.0 * u - 1.0))
            amount = frame.get_column(name).cast(pl.Float64, strict=False)
            changes.append((amount * factor).round(2).alias(name))
    dates = [c for c in NOISY_DATES if c in frame.columns]
    width = 2 * DATE_JITTER_DAYS + 1
    shifted: dict[str, pl.Expr] = {}
    for i, name in enumerate(dates, start=16):
        u = uniforms(key, dataset_id=dataset_id, record_ids=ids, stream=i)
        days = pl.Series(np.floor(u * width).astype(np.int64) - DATE_JITTER_DAYS)
        shifted[name] = _day(name) + pl.duration(days=pl.lit(days))
    if "first_order" in shifted and "last_order" in shifted:
        first, last = shifted["first_order"], shifted["last_order"]
        shifted["first_order"] = pl.min_horizontal(first, last)
        shifted["last_order"] = pl.max_horizontal(first, last)
    if "registered_at" in shifted and "first_order" in shifted:
        shifted["registered_at"] = pl.min_horizontal(
            shifted["registered_at"], pl.coalesce(shifted["first_order"], shifted["registered_at"])
        )
    for name, expr in shifted.items():
        changes.append(expr.dt.strftime("%Y-%m-%d").alias(name))
    return frame.with_columns(changes) if changes else frame
