"""Backups of both stores: a consistent snapshot, age-encrypted with a manifest; verify; restore."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pyrage
import rfc8785
from pyrage import x25519
from sqlalchemy.engine import make_url

from dealvault import __version__
from dealvault.db import migrate
from dealvault.db.stores import Stores
from dealvault.errors import Conflict, IntegrityError, Invalid, KeyUnavailable, NotFound
from dealvault.files import MISSING, ensure_private_dir, file_problem, open_private, refuse_if_wide
from dealvault.transfer import backup_db as bd
from dealvault.transfer.backup_db import STORES, Progress, member_name, no_progress

FORMAT = "dealvault-backup/1"
MANIFEST = "manifest.json"
#: File names a SQLite restore writes, the defaults of ``Settings`` under DEALVAULT_HOME.
SQLITE_FILES: dict[migrate.Store, str] = {"records": "vault.sqlite", "keystore": "keystore.sqlite"}
_CHUNK = 1 << 20
_WRONG_KIND = {
    "postgresql": "this is a PostgreSQL backup: restore it with --records-url and --keystore-url",
    "sqlite": "this is a SQLite backup: restore it with --to DIR",
}


@dataclass(frozen=True)
class Written:
    """A backup file just written (renamed into place from ``FILE.part``)."""

    path: Path
    size: int
    sha256: str
    manifest: dict[str, Any]


@dataclass(frozen=True)
class Checked:
    """The result of a verification; ``full`` when decrypted and every member checked."""

    path: Path
    size: int
    sha256: str
    full: bool
    manifest: dict[str, Any] | None = None


@dataclass(frozen=True)
class Opened:
    """A decrypted backup whose members were extracted into ``work`` and checked."""

    manifest: dict[str, Any]
    files: dict[migrate.Store, Path]


def parse_recipients(values: Sequence[str]) -> list[Any]:
    """age X25519 recipients (``age1...``); the message names the bad one's position only."""
    out = []
    for i, v in enumerate(x.strip() for x in values):
        if not v:
            continue
        try:
            out.append(x25519.Recipient.from_str(v))
        except pyrage.RecipientError:
            raise Invalid(f"recipient #{i + 1} is not an age X25519 recipient (age1...)") from None
    if not out:
        raise Invalid("at least one age recipient (age1...) is needed to encrypt a backup")
    return out


def load_identity(value: str) -> Any:
    """An age X25519 identity: the key itself (``AGE-SECRET-KEY-1...``) or a key file holding it.

    Comment lines (``#``) are skipped, as in files written by ``age-keygen``.
    """
    text_ = value.strip()
    if not text_.upper().startswith("AGE-SECRET-KEY-1"):
        path = Path(value)
        problem = file_problem(path)
        if problem is not None:
            if text_.isalnum() and len(text_) > 40:  # perhaps a mangled key: never echo it
                raise Invalid("the age identity is neither a secret key nor an existing file")
            if problem == MISSING:
                raise NotFound(f"identity file {path} not found")
            raise Invalid(f"identity file {path} {problem}")
        try:
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        except (OSError, UnicodeDecodeError):
            raise Invalid(f"cannot read the identity file {path}") from None
        keys = [ln for ln in lines if ln.upper().startswith("AGE-SECRET-KEY-1")]
        if not keys:
            raise Invalid(
                f"identity file {path.name} holds no age secret key (AGE-SECRET-KEY-1...)"
            )
        refuse_if_wide(path, what="identity file")
        text_ = keys[0]
    try:
        return x25519.Identity.from_str(text_)
    except pyrage.IdentityError:
        raise Invalid("the age identity is not a valid X25519 secret key") from None


def file_sha256(path: Path, progress: Progress = no_progress) -> tuple[str, int]:
    h, done = hashlib.sha256(), 0
    total = path.stat().st_size
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            done += len(chunk)
            progress("hash", done, total)
    return h.hexdigest(), done


# --- writing ---------------------------------------------------------------------------------


class _Counted:
    """Something pyrage reads, reporting progress (about once per MiB)."""

    def __init__(self, stage: str, total: int, progress: Progress) -> None:
        self.stage, self.total, self.progress = stage, total, progress
        self.done = self._shown = 0

    def _count(self, n: int) -> None:
        self.done += n
        if n == 0 or self.done - self._shown >= _CHUNK:
            self._shown = self.done
            self.progress(self.stage, self.done, self.total)


class _Reader(_Counted):
    def __init__(self, fh: io.BufferedReader, stage: str, total: int, progress: Progress) -> None:
        super().__init__(stage, total, progress)
        self.fh = fh

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self._count(len(data))
        return data


class _TarStream(_Counted):
    """A PAX tar of the manifest and the snapshot files, made while pyrage reads it: no copy.

    Members are regular files, mode 0600; the end is padded to a whole record as ``tarfile``
    does, so standard ``tar`` reads the decrypted stream too.
    """

    def __init__(
        self, parts: Sequence[tuple[str, bytes | Path]], mtime: int, progress: Progress
    ) -> None:
        self.parts, heads, body = parts, [], 0
        for name, src in parts:
            info = tarfile.TarInfo(name)
            info.size = len(src) if isinstance(src, bytes) else src.stat().st_size
            info.mtime, info.mode = mtime, 0o600
            heads.append((info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"), info.size))
            body += len(heads[-1][0]) + info.size + (-info.size % tarfile.BLOCKSIZE)
        end = body + 2 * tarfile.BLOCKSIZE
        super().__init__("encrypt", end + (-end % tarfile.RECORDSIZE), progress)
        self.heads, self.body = heads, body
        self.chunks = self._generate()
        self.cur, self.off = b"", 0

    def _generate(self) -> Iterator[bytes]:
        for (head, size), (_, src) in zip(self.heads, self.parts, strict=True):
            yield head
            if isinstance(src, bytes):
                yield src
            else:
                seen = 0
                with src.open("rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        seen += len(chunk)
                        yield chunk
                if seen != size:
                    raise IntegrityError(f"snapshot {src.name} changed while it was encrypted")
            yield bytes(-size % tarfile.BLOCKSIZE)
        yield bytes(self.total - self.body)

    def read(self, n: int = -1) -> bytes:
        while self.off >= len(self.cur):
            nxt = next(self.chunks, None)
            if nxt is None:
                self._count(0)
                return b""
            self.cur, self.off = nxt, 0
        end = len(self.cur) if n < 0 else self.off + n
        data = self.cur[self.off : end]
        self.off += len(data)
        self._count(len(data))
        return data


class _Writer:
    """A file written by pyrage, hashing what it writes; keeps its own errors apart."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        try:
            n = self.fh.write(data)
        except BaseException as exc:
            self.error = exc
            raise
        self.sha.update(data)
        self.size += len(data)
        return n

    def flush(self) -> None:
        self.fh.flush()


def _private_file(path: Path) -> IO[bytes]:
    return open_private(path, "wb", exclusive=True)


def write_backup(
    stores: Stores,
    *,
    out_dir: Path,
    recipients: Sequence[str],
    progress: Progress = no_progress,
) -> Written:
    """Snapshot both stores, bundle them with a manifest, encrypt to ``recipients``, hash it."""
    recips = parse_recipients(recipients)
    backend = bd.backend_of(stores)
    now = datetime.now(UTC).replace(microsecond=0)
    ensure_private_dir(out_dir, what=None)
    name = f"dealvault-backup-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}.tar.age"
    final, part = out_dir / name, out_dir / (name + ".part")
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=out_dir) as tmp:
        work = Path(tmp)
        sources, revisions = bd.snapshot(stores, backend, work, progress)
        members: dict[str, Any] = {}
        for store in STORES:
            digest, size = file_sha256(work / member_name(store, backend), progress)
            members[store] = {
                "member": member_name(store, backend),
                "source": sources[store],
                "sha256": digest,
                "size": size,
                "alembic_revision": revisions[store],
            }
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "backend": backend,
            "dealvault_version": __version__,
            "stores": members,
        }
        raw = rfc8785.dumps(manifest)
        parts: list[tuple[str, bytes | Path]] = [(MANIFEST, raw)]
        parts += [(members[st]["member"], work / members[st]["member"]) for st in STORES]
        try:
            with _private_file(part) as dst:
                reader = _TarStream(parts, int(now.timestamp()), progress)
                writer = _Writer(dst)
                pyrage.encrypt_io(reader, writer, recips)
                dst.flush()
                os.fsync(dst.fileno())
            if final.exists():
                raise Conflict(f"backup file {final.name} already exists")
            os.replace(part, final)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    return Written(final, writer.size, writer.sha.hexdigest(), manifest)


# --- reading ---------------------------------------------------------------------------------


def _decrypt(path: Path, identity: Any, dest: Path, progress: Progress) -> None:
    with path.open("rb") as src, _private_file(dest) as dst:
        writer = _Writer(dst)
        try:
            reader = _Reader(src, "decrypt", path.stat().st_size, progress)
            pyrage.decrypt_io(reader, writer, [identity])
        except (pyrage.DecryptError, OSError) as exc:
            if writer.error is not None:
                raise writer.error from None
            if "no matching keys" in str(exc).lower():
                raise KeyUnavailable(
                    f"backup {path.name}: the identity given is not one of its recipients"
                ) from None
            raise IntegrityError(
                f"backup {path.name}: decryption failed; the file is damaged, truncated or "
                "was tampered with"
            ) from None


def _entry_ok(entry: Any, store: str, backend: str) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("member") == member_name(store, backend)
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("source"), str)
    )


def _read_manifest(tar: tarfile.TarFile, name: str) -> tuple[dict[str, Any], tarfile.TarInfo]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise IntegrityError(f"backup {name}: {MANIFEST} is not its first member")
    fh = tar.extractfile(first)
    assert fh is not None
    try:
        manifest = json.loads(fh.read(1 << 20))
    except ValueError:
        raise IntegrityError(f"backup {name}: {MANIFEST} is not valid JSON") from None
    ok = (
        isinstance(manifest, dict)
        and manifest.get("format") == FORMAT
        and manifest.get("backend") in bd.SUFFIX
        and isinstance(manifest.get("stores"), dict)
        and set(manifest["stores"]) == set(STORES)
        and all(_entry_ok(manifest["stores"][s], s, manifest["backend"]) for s in STORES)
    )
    if not ok:
        raise IntegrityError(f"backup {name}: {MANIFEST} is not a {FORMAT} manifest")
    out: dict[str, Any] = manifest
    return out, first


def open_backup(
    path: Path,
    identity: Any,
    work: Path,
    progress: Progress = no_progress,
    *,
    backend: str | None = None,
) -> Opened:
    """Decrypt ``path`` into ``work``, extract the members and check them against the manifest.

    Only the members the manifest names are extracted (never a path from the archive).
    SQLite members must pass ``PRAGMA integrity_check``; PostgreSQL dumps ``pg_restore --list``.
    """
    require_file(path)
    name = path.name
    bundle = work / "bundle.tar"
    _decrypt(path, identity, bundle, progress)
    files: dict[migrate.Store, Path] = {}
    try:
        with tarfile.open(bundle, "r:") as tar:
            manifest, first = _read_manifest(tar, name)
            if backend is not None and manifest["backend"] != backend:
                raise Invalid(_WRONG_KIND[manifest["backend"]])
            backend = manifest["backend"]
            wanted = {member_name(s, backend): s for s in STORES}
            for info in tar:
                if info is first:
                    continue
                store = wanted.get(info.name)
                if store is None or store in files or not info.isfile():
                    raise IntegrityError(f"backup {name}: unexpected member {info.name!r}")
                src = tar.extractfile(info)
                assert src is not None
                dest = work / info.name
                h, done = hashlib.sha256(), 0
                with _private_file(dest) as out:
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        progress("check", done, info.size)
                entry = manifest["stores"][store]
                if h.hexdigest() != entry.get("sha256") or done != entry.get("size"):
                    raise IntegrityError(
                        f"backup {name}: member {info.name} does not match its manifest hash "
                        "(damaged or tampered with)"
                    )
                files[store] = dest
    except tarfile.TarError:
        raise IntegrityError(f"backup {name}: the decrypted bundle is not a valid tar") from None
    finally:
        bundle.unlink(missing_ok=True)
    missing = sorted(set(wanted) - {p.name for p in files.values()})
    if missing:
        raise IntegrityError(f"backup {name}: member {missing[0]} is missing")
    for store, f in files.items():
        bd.check_member(f, backend, backup=name)
        progress(f"checked {store}", 1, 1)
    return Opened(manifest, files)


def require_file(path: Path) -> None:
    """A backup file to read: NotFound when nothing is there, Invalid when it is no file."""
    problem = file_problem(path)
    if problem == MISSING:
        raise NotFound(f"backup file {path} not found")
    if problem is not None:
        raise Invalid(f"backup file {path} {problem}")


def check_backup(
    path: Path,
    *,
    identity: Any | None,
    expected_sha256: str | None,
    work_dir: Path | None = None,
    progress: Progress = no_progress,
) -> Checked:
    """Recompute the file's SHA-256 (against the one recorded); with an identity, open it fully."""
    require_file(path)
    digest, size = file_sha256(path, progress)
    if expected_sha256 is not None and digest != expected_sha256:
        raise IntegrityError(
            f"backup {path.name}: its SHA-256 differs from the one recorded when it was written "
            "(damaged or tampered with)"
        )
    if identity is None:
        return Checked(path, size, digest, full=False)
    with tempfile.TemporaryDirectory(prefix="dealvault-verify-", dir=work_dir) as tmp:
        opened = open_backup(path, identity, Path(tmp), progress)
    return Checked(path, size, digest, full=True, manifest=opened.manifest)


# --- restoring -------------------------------------------------------------------------------


@contextmanager
def _opened(
    path: Path, identity: Any, work_dir: Path | None, progress: Progress, backend: str
) -> Iterator[Opened]:
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=work_dir) as tmp:
        yield open_backup(path, identity, Path(tmp), progress, backend=backend)


def restore_sqlite(
    path: Path, *, identity: Any, to_dir: Path, progress: Progress = no_progress
) -> tuple[dict[str, Any], str, str]:
    """Write ``vault.sqlite`` and ``keystore.sqlite`` into ``to_dir`` (never over a file).

    Returns the manifest and the two SQLAlchemy URLs of the restored stores.
    """
    targets = {s: to_dir / SQLITE_FILES[s] for s in STORES}
    taken = [
        p.name
        for t in targets.values()
        for p in (t, t.with_name(t.name + "-wal"), t.with_name(t.name + "-shm"))
        if p.exists()
    ]
    if taken:
        raise Conflict(f"{to_dir} already holds {taken[0]}: restore only into an empty place")
    ensure_private_dir(to_dir, what=None)
    with _opened(path, identity, to_dir, progress, "sqlite") as opened:
        for store in STORES:
            os.link(opened.files[store], targets[store])  # fails rather than overwrite
    return (
        opened.manifest,
        f"sqlite:///{targets['records'].resolve()}",
        f"sqlite:///{targets['keystore'].resolve()}",
    )


def restore_postgres(
    path: Path,
    *,
    identity: Any,
    records_url: str,
    keystore_url: str,
    work_dir: Path | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """``pg_restore`` both dumps, each in one transaction, into two empty databases."""
    urls = {"records": records_url, "keystore": keystore_url}
    if make_url(records_url) == make_url(keystore_url):
        raise Invalid("the records and the key store must be restored into different databases")
    bd.tool("pg_restore")
    for url in urls.values():
        bd.require_empty_pg(url)
    with _opened(path, identity, work_dir, progress, "postgresql") as opened:
        for store in STORES:
            progress(f"restore {store}", 0, None)
            bd.pg_restore(opened.files[store], url=urls[store], store=store)
    return opened.manifest
