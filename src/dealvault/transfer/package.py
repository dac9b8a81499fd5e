"""Write a transfer package: Parquet streamed through age to the recipients, manifest, signature.

Memory stays bounded: each frame becomes one Parquet row group whose bytes go straight into
``pyrage.encrypt_io`` (running on a helper thread that pulls from a small queue), and the
Merkle root is folded from the tree's right border. Nothing is written in the clear, and
nothing written can be decrypted before the package is recorded: each file's age header
(the file key wrapped to the recipients) is held in memory, zeros in its place, until
:func:`install_headers` runs after the ledger row and audit event have committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import secrets
import tarfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pyrage

from dealvault.audit.note import Signer
from dealvault.errors import IntegrityError, Invalid
from dealvault.files import check_output_file, open_private
from dealvault.transfer.batches import PreparedBatch, prepare_batch
from dealvault.transfer.manifest import (
    FORMAT,
    HASH_COLUMN,
    INDEX_FILE,
    MANIFEST_FILE,
    RECORDS_FILE,
    SIGNATURE_FILE,
    SUBJECT,
    MerkleAccumulator,
    PackageSchema,
    add_counts,
    encode_manifest,
    file_entry,
    sign_manifest,
)
from dealvault.transfer.scratch import clean_leftovers

#: progress(customers written so far)
Progress = Callable[[int], None]
_QUEUE_DEPTH = 16
#: zstd alone: dictionary pages do not pay on per-customer text (measured: slower and larger);
#: no min/max statistics (nobody filters an encrypted package by them; 10% of the writing)
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": False,
    "write_statistics": False,
}


def parse_recipients(values: Sequence[str]) -> list[pyrage.x25519.Recipient]:
    """age X25519 recipients (``age1…``); anything else is refused without echoing it whole."""
    out = []
    for value in values:
        text = value.strip()
        if not text.startswith("age1"):
            raise Invalid("only age X25519 recipients (age1…) are accepted")
        try:
            out.append(pyrage.x25519.Recipient.from_str(text))
        except pyrage.RecipientError:
            raise Invalid(f"not a valid age recipient: {text[:10]}…") from None
    if not out:
        raise Invalid("name at least one age recipient")
    return out


def parse_identities(text: str, *, source: str) -> list[pyrage.x25519.Identity]:
    """age X25519 identities from an identity file's text (``#`` comments allowed)."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.append(pyrage.x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            raise Invalid(f"{source}, line {n}: not an age X25519 identity") from None
    if not out:
        raise Invalid(f"{source} holds no age identity")
    return out


def _create(path: Path) -> IO[bytes]:
    """A new private file (mode 0600); never an existing one."""
    return open_private(path, "wb", exclusive=True)


def file_digest(path: Path, *, head: bytes = b"") -> str:
    """SHA-256 (hex) of a file, read in 1 MiB chunks; with ``head``, of the file as it will
    be once ``head`` is written over its first bytes."""
    h = hashlib.sha256(head)
    with path.open("rb") as fh:
        fh.seek(len(head))
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


#: An age header is a few hundred bytes; more without its end line is not age output.
_HEADER_LIMIT = 1 << 16
_NONCE = 16


class _HeaderWithheld:
    """Where ``pyrage.encrypt_io`` writes: the age header and the payload nonce are kept in
    ``header`` and zeros written in their place, so that the file cannot be decrypted by
    anyone (the file key exists nowhere else) until :func:`install_headers`."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._head = bytearray()
        self.header: bytes | None = None

    def write(self, data: bytes) -> int:
        if self.header is not None:
            return self._out.write(data)
        self._head += data
        mac = self._head.find(b"\n--- ")
        line_end = self._head.find(b"\n", mac + 1) if mac >= 0 else -1
        end = line_end + 1 + _NONCE
        if line_end < 0 or len(self._head) < end:
            if len(self._head) > _HEADER_LIMIT:
                raise IntegrityError("age output without a header end")
            return len(data)
        self.header = bytes(self._head[:end])
        self._out.write(bytes(end))
        self._out.write(self._head[end:])
        self._head = bytearray()
        return len(data)

    def flush(self) -> None:
        self._out.flush()


def install_headers(directory: Path, headers: dict[str, bytes]) -> None:
    """Write each file's withheld age header back in place (durably): from now on the
    recipients can decrypt the package."""
    for name, head in headers.items():
        fd = os.open(directory / name, os.O_WRONLY)
        try:
            os.pwrite(fd, head, 0)
            os.fsync(fd)
        finally:
            os.close(fd)


def sync_package(directory: Path) -> None:
    """Make the package's files and their directory entries durable."""
    for path in directory.iterdir():
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AgeSink:
    """A write-only file object: what is written is age-encrypted to ``recipients`` into
    ``path`` by ``pyrage.encrypt_io`` on a helper thread (fed through a bounded queue)."""

    def __init__(self, path: Path, recipients: Sequence[pyrage.x25519.Recipient]) -> None:
        self._path = path
        self._file = _create(path)
        self._out = _HeaderWithheld(self._file)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._pending = memoryview(b"")
        self._error: BaseException | None = None
        self._finished = False
        self._aborted = False
        self.closed = False
        self._position = 0
        self._thread = threading.Thread(
            target=self._encrypt, args=(list(recipients),), name="age-encrypt", daemon=True
        )
        self._thread.start()

    # -- the reader pyrage pulls from (helper thread) ------------------------------------
    def read(self, n: int = -1) -> bytes:
        while not self._pending:
            if self._finished:
                return b""
            chunk = self._queue.get()
            if chunk is None:
                self._finished = True
                return b""
            self._pending = memoryview(chunk)
        size = len(self._pending) if n is None or n < 0 else n
        out = self._pending[:size].tobytes()
        self._pending = self._pending[size:]
        return out

    def _encrypt(self, recipients: list[pyrage.x25519.Recipient]) -> None:
        try:
            pyrage.encrypt_io(self, self._out, recipients)
        except BaseException as exc:  # reported by close()
            self._error = exc
            while not self._finished:  # unblock the writer
                if self._queue.get() is None:
                    self._finished = True

    # -- the writer side (caller's thread) -----------------------------------------------
    def write(self, data: bytes | bytearray | memoryview | pa.Buffer) -> int:
        if self._aborted:  # e.g. the footer of a Parquet writer being collected: dropped
            return len(memoryview(data))
        if self._error is not None:
            raise IntegrityError("age encryption failed") from self._error
        chunk = bytes(data)
        if chunk:
            self._queue.put(chunk)
            self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def finish(self) -> int:
        """End the stream; returns the ciphertext's size in bytes."""
        if not self.closed:
            self.closed = True
            self._queue.put(None)
            self._thread.join()
            self._file.close()
        if self._error is not None:
            raise IntegrityError("age encryption failed") from self._error
        return self._path.stat().st_size

    @property
    def header(self) -> bytes:
        """The withheld age header (after ``finish``)."""
        if self._out.header is None:
            raise IntegrityError("age encryption wrote no header")
        return self._out.header

    def abort(self) -> None:
        """Stop after an error elsewhere: the stream ends and later writes are dropped (the
        caller discards the file)."""
        self._aborted = True
        if not self.closed:
            with contextlib.suppress(IntegrityError):
                self.finish()

    def __enter__(self) -> AgeSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()
        elif not self.closed:
            self.finish()


def arrow_schema(schema: PackageSchema) -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in schema.names])


INDEX_SCHEMA = pa.schema([pa.field(SUBJECT, pa.string()), pa.field(HASH_COLUMN, pa.binary(32))])


@dataclass
class WriteResult:
    """What the records files hold; ``files``: name -> {sha256, bytes} (of the files once
    their ``headers``, withheld until the package is recorded, are installed)."""

    customers: int = 0
    per_category: dict[str, int] = field(default_factory=dict)
    merkle_root: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    headers: dict[str, bytes] = field(default_factory=dict, repr=False)


def write_records(
    directory: Path,
    *,
    frames: Iterable[pl.DataFrame | PreparedBatch],
    schema: PackageSchema,
    recipients: Sequence[pyrage.x25519.Recipient],
    progress: Progress | None = None,
    on_subjects: Callable[[list[str]], None] | None = None,
) -> WriteResult:
    """Stream ``frames`` (Polars, the schema's columns, ascending ``subject_id``; or batches
    already prepared) into ``records.parquet.age`` and ``records.index.parquet.age`` under
    ``directory``, their age headers withheld (``result.headers``, see
    :func:`install_headers`)."""
    result = WriteResult(per_category={c: 0 for c in schema.categories})
    tree = MerkleAccumulator()
    names = schema.names
    target = arrow_schema(schema)
    meta = {b"dealvault": FORMAT.encode()}
    last: str | None = None
    with (
        AgeSink(directory / RECORDS_FILE, recipients) as rec_sink,
        AgeSink(directory / INDEX_FILE, recipients) as idx_sink,
    ):
        rec = pq.ParquetWriter(rec_sink, target.with_metadata(meta), **PARQUET_OPTIONS)
        idx = pq.ParquetWriter(
            idx_sink, INDEX_SCHEMA.with_metadata(meta), compression="none", write_statistics=False
        )
        for item in frames:
            batch = item if isinstance(item, PreparedBatch) else prepare_batch(item, schema)
            frame = batch.frame
            if frame.height == 0:
                continue
            if frame.columns != names:
                raise IntegrityError("a batch of records does not have the package's columns")
            subjects = frame.get_column(SUBJECT)
            first = subjects[0]
            if (last is not None and first <= last) or not (
                subjects.is_sorted() and subjects.n_unique() == frame.height
            ):
                raise IntegrityError("records are not in strictly ascending subject id order")
            last = subjects[-1]
            hashes = batch.hashes
            if len(hashes) != frame.height:
                raise IntegrityError("a batch of records came with the wrong number of hashes")
            if batch.subtree is None or not tree.add_subtree(batch.subtree, len(hashes)):
                tree.add(hashes)
            add_counts(result.per_category, batch.per_category)
            rec.write_table((frame.to_arrow() if batch.arrow is None else batch.arrow).cast(target))
            idx.write_table(
                pa.table(
                    [subjects.to_arrow().cast(pa.string()), pa.array(hashes, pa.binary(32))],
                    schema=INDEX_SCHEMA,
                )
            )
            result.customers += frame.height
            if on_subjects is not None:
                on_subjects(subjects.to_list())
            if progress is not None:
                progress(result.customers)
        rec.close()
        idx.close()
        for name, sink in ((RECORDS_FILE, rec_sink), (INDEX_FILE, idx_sink)):
            size = sink.finish()
            result.headers[name] = sink.header
            result.files[name] = file_entry(file_digest(directory / name, head=sink.header), size)
    result.merkle_root = tree.root().hex()
    return result


def write_manifest(directory: Path, *, manifest: dict[str, Any], signer: Signer) -> str:
    """Write ``manifest.json`` (RFC 8785) and ``manifest.sig``; returns the manifest SHA-256."""
    raw = encode_manifest(manifest)
    write_private(directory / MANIFEST_FILE, raw)
    write_private(directory / SIGNATURE_FILE, sign_manifest(raw, signer))
    return hashlib.sha256(raw).hexdigest()


def write_private(path: Path, content: bytes) -> None:
    """A new file only the owner may read; never overwrites."""
    with _create(path) as fh:
        fh.write(content)


def package_size(directory: Path) -> int:
    return sum((directory / name).stat().st_size for name in _members(directory))


def _members(directory: Path) -> list[str]:
    return [
        n
        for n in (MANIFEST_FILE, SIGNATURE_FILE, RECORDS_FILE, INDEX_FILE)
        if (directory / n).exists()
    ]


def make_archive(directory: Path, target: Path) -> None:
    """An uncompressed tar of the package files (no directories, fixed order and metadata),
    made inside ``directory`` and then moved to ``target``."""
    tmp = directory / ARCHIVE_FILE
    with open_private(tmp, "wb") as out:
        write_tar(directory, out)
    os.replace(tmp, target)


def write_tar(directory: Path, out: IO[bytes]) -> None:
    """The package files of ``directory`` as an uncompressed tar (the layout ``make_archive``
    writes and ``package verify`` reads) to ``out``."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in _members(directory):
            info = tar.gettarinfo(str(directory / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o600
            with (directory / name).open("rb") as fh:
                tar.addfile(info, fh)


ARCHIVE_FILE = ".package.tar"
#: The partial package directory of a build (beside its target): ``.<name>.partial-<hex>``.
PARTIAL = re.compile(r"\..+\.partial-[0-9a-f]{8}")


def partial_name(out: Path) -> str:
    return f".{out.name}.partial-{secrets.token_hex(4)}"


def clean_partials(out: Path) -> list[str]:
    """Partial packages that killed builds left beside ``out`` (none of them decryptable:
    their headers were withheld), and the tar a build before this version left at
    ``<out>.partial``; returns what was removed."""
    removed = clean_leftovers(out.parent, PARTIAL)
    legacy = out.with_name(out.name + ".partial")
    if legacy.is_file() and not legacy.is_symlink() and legacy.stat().st_uid == os.getuid():
        legacy.unlink()
        removed.append(legacy.name)
    return removed


def writable_target(out: Path) -> None:
    """Refuse to overwrite: a package is written once."""
    if out.exists():
        raise Invalid(f"{out} already exists; a package is never overwritten")
    if not out.parent.is_dir():
        raise Invalid(f"directory {out.parent} does not exist")
    check_output_file(out, what="package")  # (what is left: a directory not writable)
