"""Per-recipient keyed tokens: AES-256 of (dataset, record) under a key derived per recipient.

A token is the AES-256 encryption of one 16-byte block ``b"DVT1" ‖ dataset_id (4 bytes,
big-endian) ‖ record_id (8 bytes, big-endian, signed)`` under :func:`token_key`, written as
32 lower-case hex characters. AES is a keyed pseudo-random permutation, so:

* the same record gets the same token for one recipient (pseudonymised data stays
  joinable within one recipient's files) and unrelated tokens for another recipient;
* without the key a token says nothing about the record (no hash to brute-force over
  the small space of record ids);
* the seller, holding the dataset's index key, decrypts a token back to its record.

ECB is the right mode here, not a weakness: each block is one whole plaintext, and the
plaintexts of a batch are all distinct, so ECB leaks only what a deterministic token
reveals by design (equal record -> equal token). Batches are built and encrypted as one
buffer: no per-token Python work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dealvault.errors import Invalid

MAGIC: Final = b"DVT1"
BLOCK: Final = 16
TOKEN_CHARS: Final = 2 * BLOCK
KEY_BYTES: Final = 32
INFO_PREFIX: Final = b"dealvault/token/v1/"
MIN_INDEX_KEY: Final = 16

# The plaintext block of one token.
_BLOCK_DTYPE: Final = np.dtype([("magic", "S4"), ("dataset", ">u4"), ("record", ">i8")])
_TOKEN_RE: Final = f"^[0-9A-Fa-f]{{{TOKEN_CHARS}}}$"


def token_key(index_key: bytes, *, recipient_id: int) -> bytes:
    """The 32-byte AES key of one recipient's tokens (HKDF-SHA256 from the index key)."""
    if len(index_key) < MIN_INDEX_KEY:
        raise Invalid(f"index key must have at least {MIN_INDEX_KEY} bytes")
    if recipient_id < 0:
        raise Invalid("recipient id must not be negative")
    info = INFO_PREFIX + str(int(recipient_id)).encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(index_key)


def _cipher(key: bytes) -> Cipher[modes.ECB]:
    if len(key) != KEY_BYTES:
        raise Invalid(f"token key must be {KEY_BYTES} bytes (see token_key)")
    # One block per token, every block distinct: a keyed PRP, see the module docstring.
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305


def _dataset_id(dataset_id: int) -> int:
    if not 0 <= dataset_id < 2**32:
        raise Invalid("dataset id must fit in 4 unsigned bytes")
    return int(dataset_id)


def _record_ids(record_ids: npt.NDArray[np.int64] | pl.Series) -> npt.NDArray[np.int64]:
    if isinstance(record_ids, pl.Series):
        if not record_ids.dtype.is_integer():
            raise Invalid(f"record ids must be integers, not {record_ids.dtype}")
        if record_ids.null_count():
            first = int(record_ids.is_null().arg_true()[0])
            raise Invalid(f"record id at position {first} is missing")
        try:
            return record_ids.cast(pl.Int64, strict=True).to_numpy()
        except pl.exceptions.PolarsError:
            raise Invalid("record ids must fit in a signed 64-bit integer") from None
    array = np.asarray(record_ids)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise Invalid("record ids must be a one-dimensional integer array")
    if array.dtype.kind == "u" and array.size and int(array.max()) >= 2**63:
        raise Invalid("record ids must fit in a signed 64-bit integer")
    return array.astype(np.int64, copy=False)


def keyed_blocks(
    key: bytes,
    *,
    dataset_id: int,
    record_ids: npt.NDArray[np.int64] | pl.Series,
    magic: bytes = MAGIC,
) -> bytes:
    """AES-256 of the block ``magic ‖ dataset_id ‖ record_id`` of each record, concatenated:
    16 pseudo-random bytes per record under ``key``. Tokens use :data:`MAGIC`; other keyed
    per-record values (row order, noise) use their own 4-byte magic and their own key."""
    if len(magic) != len(MAGIC):
        raise Invalid("a block's magic has 4 bytes")
    cipher = _cipher(key)
    ids = _record_ids(record_ids)
    plain = np.empty(len(ids), dtype=_BLOCK_DTYPE)
    plain["magic"] = magic
    plain["dataset"] = _dataset_id(dataset_id)
    plain["record"] = ids  # converted to big-endian by the field's dtype
    return cipher.encryptor().update(plain.tobytes())


def make_tokens(
    key: bytes, *, dataset_id: int, record_ids: npt.NDArray[np.int64] | pl.Series
) -> pl.Series:
    """Tokens (32 lower-case hex characters) of ``record_ids`` under a recipient's key."""
    encrypted = keyed_blocks(key, dataset_id=dataset_id, record_ids=record_ids)
    n = len(encrypted) // BLOCK
    blocks = pa.Array.from_buffers(pa.binary(BLOCK), n, [None, pa.py_buffer(encrypted)])
    return pl.Series("token", blocks, dtype=pl.Binary).bin.encode("hex")


def _token_series(tokens: Sequence[str] | pl.Series) -> pl.Series:
    if isinstance(tokens, pl.Series):
        series = tokens
    else:
        try:
            series = pl.Series("token", list(tokens), dtype=pl.String, strict=True)
        except (TypeError, pl.exceptions.PolarsError):
            raise Invalid("tokens must be strings") from None
    if series.dtype != pl.String:
        raise Invalid(f"tokens must be strings, not {series.dtype}")
    bad = series.str.contains(_TOKEN_RE).fill_null(value=False).not_()
    if bad.any():
        first = int(bad.arg_true()[0])
        raise Invalid(f"token at position {first} is not {TOKEN_CHARS} hexadecimal characters")
    return series


def resolve_tokens(
    key: bytes, *, dataset_id: int, tokens: Sequence[str] | pl.Series
) -> list[int | None]:
    """Record id of each token, or None for a token of another recipient or dataset.

    Well-formed hex never raises (a foreign token decrypts to a block without the magic
    and dataset id, 2**-64 chance of a false match); malformed input raises
    :class:`~dealvault.errors.Invalid` naming the position only.
    """
    cipher = _cipher(key)
    dataset = _dataset_id(dataset_id)
    series = _token_series(tokens)
    n = len(series)
    if n == 0:
        return []
    # Tokens are validated as exactly 32 hex digits each, so the joined text decodes to
    # n whole blocks; str.join and bytes.fromhex run in C over the whole batch.
    encrypted = bytes.fromhex(series.str.join("").item())
    plain = np.frombuffer(cipher.decryptor().update(encrypted), dtype=_BLOCK_DTYPE)
    ok = (plain["magic"] == MAGIC) & (plain["dataset"] == dataset)
    ids = plain["record"].astype(np.int64)
    found = pl.Series("record_id", ids, dtype=pl.Int64)
    return pl.select(pl.when(pl.Series(ok)).then(found)).to_series().to_list()
