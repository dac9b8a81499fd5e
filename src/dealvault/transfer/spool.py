"""An encrypted scratch file under a throwaway key: what a receive decrypts is read twice
(verified, then imported) without ever lying on disk in clear, in bounded memory.

Written as a stream, sealed in 1 MiB chunks with AES-256-GCM under a key made for this one
file and kept only in this process's memory: a copy of the file, or what a killed process
left behind, is unreadable. Read back through a seekable file object (Parquet needs one)
that opens one chunk at a time.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dealvault.errors import IntegrityError

CHUNK = 1 << 20
_TAG = 16
_AD = b"dealvault spool|"


def _ad(index: int, last: bool) -> bytes:
    return _AD + index.to_bytes(8, "big") + (b"|end" if last else b"|more")


class SealedSpool:
    """A write-once file: ``write`` plaintext, ``finish``, then ``reader()`` as often as
    needed. ``size`` and ``sha256`` describe the plaintext."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._out: io.BufferedWriter | None = os.fdopen(
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"
        )
        self._pending = bytearray()
        self._chunks = 0
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._pending += view
        self.size += len(view)
        if len(self._pending) >= CHUNK:
            whole = len(self._pending) - len(self._pending) % CHUNK
            for start in range(0, whole, CHUNK):
                self._seal(bytes(self._pending[start : start + CHUNK]), last=False)
            del self._pending[:whole]
        return len(view)

    def flush(self) -> None:
        return None

    def _seal(self, plain: bytes, *, last: bool) -> None:
        assert self._out is not None
        nonce = self._chunks.to_bytes(12, "big")
        self._out.write(self._aead.encrypt(nonce, plain, _ad(self._chunks, last)))
        self._chunks += 1

    def finish(self) -> None:
        """Seal the last (possibly empty) chunk and close the file."""
        if self._out is None:
            return
        self._seal(bytes(self._pending), last=True)
        self._pending = bytearray()
        self._out.close()
        self._out = None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def reader(self) -> SpoolReader:
        if self._out is not None:
            raise ValueError("the spool is still being written")
        return SpoolReader(self)

    def open_chunk(self, fh: io.BufferedReader, index: int) -> bytes:
        last = index == self._chunks - 1
        fh.seek(index * (CHUNK + _TAG))
        blob = fh.read(CHUNK + _TAG)
        try:
            return self._aead.decrypt(index.to_bytes(12, "big"), blob, _ad(index, last))
        except Exception:
            raise IntegrityError(f"scratch file {self.path.name} was altered") from None

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self.path.unlink(missing_ok=True)


class SpoolReader(io.RawIOBase):
    """Seekable, read-only view of a finished spool's plaintext."""

    def __init__(self, spool: SealedSpool) -> None:
        super().__init__()
        self._spool = spool
        self._fh = spool.path.open("rb")
        self._pos = 0
        self._index = -1
        self._chunk = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._spool.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        done = 0
        while done < len(out) and self._pos < self._spool.size:
            index, at = divmod(self._pos, CHUNK)
            if index != self._index:
                self._chunk = self._spool.open_chunk(self._fh, index)
                self._index = index
            n = min(len(out) - done, len(self._chunk) - at)
            out[done : done + n] = self._chunk[at : at + n]
            done += n
            self._pos += n
        return done

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
            self._chunk = b""
        super().close()
