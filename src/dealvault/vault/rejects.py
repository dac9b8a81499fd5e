"""Encrypted reject files: rejected rows with row, column and reason, sealed chunk by chunk."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import IO

import polars as pl

from dealvault.crypto import envelope as env
from dealvault.errors import IntegrityError, NotFound
from dealvault.files import atomic_private, ensure_private_dir, open_private
from dealvault.sheets import neutralise

MAGIC = b"DVREJ1\n"
_LEN = struct.Struct(">I")


def _context(dataset_id: int, import_id: int, index: int, last: bool) -> bytes:
    return b"rejects|%d|%d|%d|%s" % (dataset_id, import_id, index, b"end" if last else b"more")


class RejectWriter:
    """Appends sealed Arrow IPC chunks; a sealed empty end chunk marks a complete file."""

    def __init__(
        self, *, path: Path, key: bytes, key_version: int, dataset_id: int, import_id: int
    ) -> None:
        self.path = path
        self._sealer = env.Sealer(
            key, env.Header(env.ALG_AES_256_GCM, f"rej{dataset_id}", key_version)
        )
        self._dataset_id = dataset_id
        self._import_id = import_id
        self._index = 0
        self.rows = 0
        self._fh: IO[bytes] | None = None

    def write(self, frame: pl.DataFrame) -> None:
        """``frame``: row, column, reason and the rejected row's original values (as JSON)."""
        if frame.height == 0:
            return
        if self._fh is None:
            ensure_private_dir(self.path.parent, what="rejects directory")
            self._fh = open_private(self.path, "wb")  # closed in finish/abort
            self._fh.write(MAGIC)
        buf = io.BytesIO()
        frame.write_ipc(buf)
        self._put(buf.getvalue(), last=False)
        self.rows += frame.height

    def _put(self, data: bytes, *, last: bool) -> None:
        assert self._fh is not None
        blob = self._sealer.seal(
            data, _context(self._dataset_id, self._import_id, self._index, last)
        )
        self._fh.write(_LEN.pack(len(blob)) + blob)
        self._index += 1

    def finish(self) -> Path | None:
        if self._fh is None:
            return None
        self._put(b"", last=True)
        self._fh.close()
        self._fh = None
        return self.path

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self.path.unlink(missing_ok=True)


def read_rejects(*, path: Path, key: bytes, dataset_id: int, import_id: int) -> pl.DataFrame:
    """Open a reject file; a truncated, reordered or altered file fails with IntegrityError."""
    if not path.exists():
        raise NotFound(f"reject file {path} not found")
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise IntegrityError(f"{path} is not a dealvault reject file")
    pos, index, frames, ended = len(MAGIC), 0, [], False
    aead = env.opener(key)
    while pos < len(data):
        if ended:
            raise IntegrityError(f"{path}: data after the end marker")
        if pos + _LEN.size > len(data):
            raise IntegrityError(f"{path}: truncated")
        (n,) = _LEN.unpack_from(data, pos)
        blob = data[pos + _LEN.size : pos + _LEN.size + n]
        if len(blob) != n:
            raise IntegrityError(f"{path}: truncated")
        pos += _LEN.size + n
        try:
            plain = env.open_with(aead, blob, _context(dataset_id, import_id, index, False))
        except IntegrityError:
            plain = env.open_with(aead, blob, _context(dataset_id, import_id, index, True))
            ended = True
        if plain:
            frames.append(pl.read_ipc(io.BytesIO(plain)))
        index += 1
    if not ended:
        raise IntegrityError(f"{path}: truncated (no end marker)")
    return (
        pl.concat(frames)
        if frames
        else pl.DataFrame(
            schema={"row": pl.Int64, "column": pl.String, "reason": pl.String, "values": pl.String}
        )
    )


def write_rejects_csv(frame: pl.DataFrame, *, path: Path) -> None:
    """The rejected rows (row, column, reason, original values as JSON) as a CSV file for the
    steward: mode 0600, text neutralised against spreadsheet formulas (``sheets``)."""
    with atomic_private(path) as part, open_private(part, "w", encoding="utf-8", newline="") as fh:
        neutralise(frame).write_csv(fh)
