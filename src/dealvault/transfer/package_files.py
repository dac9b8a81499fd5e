"""A package's files as the buyer reads them: from a directory or a tar (never extracted),
decrypted into memory or into a sealed spool, opened as Parquet."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq
import pyrage

from dealvault.errors import Invalid, NotFound
from dealvault.transfer.spool import SealedSpool

#: Decrypted package contents: in memory, or in an encrypted spool file.
Plain = bytearray | SealedSpool


class PackageFiles:
    """The package's files, from a directory or an (uncompressed) tar, never extracted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if path.is_dir():
            return
        if not path.is_file():
            raise NotFound(f"package {path} not found")
        try:
            self._tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed by close()
        except tarfile.TarError:
            raise Invalid(f"{path.name} is neither a package directory nor a tar of one") from None
        for m in self._tar.getmembers():
            if m.isfile() and m.name not in self._members:
                self._members[m.name] = m

    def size(self, name: str) -> int | None:
        if self._tar is None:
            p = self.path / name
            return p.stat().st_size if p.is_file() else None
        m = self._members.get(name)
        return m.size if m is not None else None

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self._tar is None:
            with (self.path / name).open("rb") as fh:
                yield fh
            return
        member = self._tar.extractfile(self._members[name])
        assert member is not None
        with member:
            yield member

    def read(self, name: str) -> bytes:
        with self.open(name) as fh:
            return fh.read()

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()


class MemorySink:
    """A writer for ``pyrage.decrypt_io`` that keeps the plaintext in memory, in a buffer
    sized once from the ciphertext (an upper bound), so it is never copied to grow."""

    def __init__(self, capacity: int) -> None:
        self.data = bytearray(capacity)
        self.size = 0

    def write(self, chunk: bytes) -> int:
        end = self.size + len(chunk)
        if end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        self.data[self.size : end] = chunk
        self.size = end
        return len(chunk)

    def result(self) -> bytearray:
        del self.data[self.size :]
        return self.data

    def flush(self) -> None:
        return None


def decrypt_file(
    pkg: PackageFiles,
    name: str,
    identities: Sequence[pyrage.x25519.Identity],
    problems: list[str],
    *,
    spool: Path | None = None,
) -> Plain | None:
    """The file's plaintext: in memory, or sealed in a spool file at ``spool``."""
    size = pkg.size(name)
    if size is None:
        return None
    sink = MemorySink(size) if spool is None else SealedSpool(spool)
    try:
        with pkg.open(name) as fh:
            pyrage.decrypt_io(fh, sink, list(identities))
    except (pyrage.DecryptError, OSError) as exc:  # decrypt_io reports some as OSError
        if isinstance(sink, SealedSpool):
            sink.discard()
        if "no matching keys" in str(exc).lower():
            problems.append(f"{name} cannot be decrypted: none of the given identities opens it")
        else:
            problems.append(f"{name} cannot be decrypted: truncated or corrupted ciphertext")
        return None
    if isinstance(sink, SealedSpool):
        sink.finish()
        return sink
    return sink.result()


def open_parquet(data: Plain, name: str, problems: list[str]) -> pq.ParquetFile | None:
    try:
        if isinstance(data, SealedSpool):
            return pq.ParquetFile(data.reader())
        return pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)))
    except (pa.ArrowException, OSError):
        problems.append(f"{name} does not hold a readable Parquet file")
        return None
