"""Private files: owner-only modes (0600 files, 0700 directories) for everything we write."""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final

from dealvault.errors import InputError, Invalid, KeyUnavailable, NotFound

FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700
#: Permission bits that give group or others any access.
_WIDE: Final = 0o077
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
#: Files SQLite keeps beside a database in WAL mode.
SQLITE_SIDE_FILES: Final = ("-wal", "-shm", "-journal")
_POSIX: Final = os.name == "posix"


class WideModeWarning(UserWarning):
    """An existing file or directory that holds secrets or personal values is open to others."""


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def is_wide(path: Path) -> bool:
    """True when ``path`` exists and gives its group or other users any access."""
    mode = _mode(path)
    return _POSIX and mode is not None and bool(mode & _WIDE)


def _fix_hint(path: Path) -> str:
    return f"chmod {'700' if path.is_dir() else '600'} '{path}'"


def warn_if_wide(path: Path, *, what: str) -> bool:
    """Warn (:class:`WideModeWarning`) when an existing ``path`` is open to other users;
    True when it was. The message says what the file is and the ``chmod`` that fixes it."""
    if not is_wide(path):
        return False
    mode = _mode(path) or 0
    warnings.warn(
        WideModeWarning(
            f"{what} {path} is open to other users (mode {mode:04o}); run: {_fix_hint(path)}"
        ),
        stacklevel=2,
    )
    return True


def refuse_if_wide(path: Path, *, what: str) -> None:
    """Refuse a secret (a key file) that other users can read or write."""
    if is_wide(path):
        mode = _mode(path) or 0
        raise KeyUnavailable(
            f"{what} {path} is open to other users (mode {mode:04o}); it holds a secret, so it"
            f" is not used: run {_fix_hint(path)} (and consider the key exposed)"
        )


#: What :func:`file_problem` says of a path where nothing is.
MISSING: Final = "file not found"


def file_problem(path: Path) -> str | None:
    """None when ``path`` is a regular file (a symlink is followed); else why not, in a few
    words for a message that names the file: :data:`MISSING`, a directory, a symlink loop..."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return MISSING
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    return None if stat.S_ISREG(mode) else "is not a regular file"


def read_text_file(path: Path, *, encoding: str = "utf-8") -> str:
    """The text of an input file named on the command line; :class:`InputError` naming the
    file (never its content) when it is missing, not a file, unreadable or not text."""
    problem = file_problem(path)
    if problem is not None:
        raise InputError(problem, file=path.name)
    try:
        return path.read_text(encoding)
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})", file=path.name) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise InputError(f"not {encoding.upper()} text (line {line})", file=path.name) from None


def read_secret_text(path: Path, *, what: str, encoding: str = "utf-8") -> str:
    """The text of a key file, refused when other users can read or write it."""
    problem = file_problem(path)
    if problem == MISSING:
        raise NotFound(f"{what} {path} not found")
    if problem is not None:
        raise KeyUnavailable(f"{what} {path} {problem}")
    refuse_if_wide(path, what=what)
    try:
        return path.read_text(encoding)
    except FileNotFoundError:
        raise NotFound(f"{what} {path} not found") from None
    except OSError as exc:
        raise KeyUnavailable(f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeyUnavailable(
            f"{what} {path} is not a key file (not {encoding.upper()} text)"
        ) from None


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (the working directory at the latest)."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path.cwd()


def check_output_file(path: Path, *, what: str = "output file", replace: bool = True) -> Path:
    """Refuse, before any work is done, a file that cannot be written: a directory, an existing
    file when not ``replace``, a directory that is missing, not a directory or not writable.
    :class:`Invalid`, naming the file."""
    if path.is_dir():
        raise Invalid(f"{what} {path} is a directory")
    if not replace and (path.exists() or path.is_symlink()):
        raise Invalid(f"{what} {path} already exists; it is never overwritten")
    parent = path.parent
    if not parent.is_dir():
        found = _nearest_existing(parent)
        if found.is_dir():
            raise Invalid(f"{what} {path}: directory {parent} does not exist")
        raise Invalid(f"{what} {path}: {found} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise Invalid(f"{what} {path}: directory {parent} is not writable")
    return path


def check_output_dir(path: Path, *, what: str = "output directory") -> Path:
    """Refuse, before any work is done, a directory that cannot be made or written in: a file
    in its place or above it, or an existing directory that is not writable. :class:`Invalid`."""
    found = _nearest_existing(path)
    if not found.is_dir():
        where = "" if found == path else f": {found}"
        raise Invalid(f"{what} {path}{where} is not a directory")
    if not os.access(found, os.W_OK | os.X_OK):
        where = "" if found == path else f": directory {found}"
        raise Invalid(f"{what} {path}{where} is not writable")
    return path


def ensure_private_dir(path: Path, *, what: str | None = "directory") -> Path:
    """``path`` as a directory: made with mode 0700 when missing (parents as usual); an
    existing one is left as it is, warned about when open to other users unless ``what`` is
    None (a directory the user chose, e.g. the parent of an output file)."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:
        if not path.is_dir():
            raise
        if what is not None:
            warn_if_wide(path, what=what)
    else:
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask; be exact
    return path


def _flags(mode: str, *, exclusive: bool) -> int:
    if mode.startswith("a"):
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    elif mode.startswith("w"):
        flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    else:
        raise ValueError(f"open_private writes only ('w…' or 'a…'), not {mode!r}")
    return flags | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def open_private(
    path: Path,
    mode: str = "wb",
    *,
    exclusive: bool = False,
    encoding: str | None = None,
    newline: str | None = None,
) -> IO[Any]:
    """Open ``path`` for writing with mode 0600 whatever the umask; a symlink is refused
    (``O_NOFOLLOW``), and an existing file is narrowed to 0600 before anything is written."""
    fd = os.open(path, _flags(mode, exclusive=exclusive), FILE_MODE)
    try:
        if _POSIX:
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        raise


def private_file(path: Path) -> Path:
    """Narrow a file some library wrote (SQLite, pyarrow, WeasyPrint...) to mode 0600."""
    if not _POSIX:
        return path
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` (mode 0600) through ``<path>.part``: whole or not at all."""
    with atomic_private(path) as part, open_private(part, "wb") as fh:
        fh.write(data.encode(encoding) if isinstance(data, str) else data)
    return path


@contextmanager
def atomic_private(path: Path) -> Iterator[Path]:
    """A ``<path>.part`` to write; on success it becomes ``path`` with mode 0600, on failure it
    is removed. Library writers may create the part file themselves: its mode is fixed here."""
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    try:
        yield part
        private_file(part)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists (e.g. a SQLite file before SQLite
    opens it, so that the database and its -wal/-shm files are private); True when created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return False
    try:
        if _POSIX:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    from sqlalchemy.engine import make_url  # not at import: the CLI's --help stays light

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def check_store(
    *, home: Path, database_urls: Sequence[str], directories: Sequence[Path] = ()
) -> list[Path]:
    """Warn about each part of a store that other users can open: the home directory, SQLite
    files (and their -wal/-shm) and the given directories (rejects, backups). Returns them."""
    found: list[Path] = []
    checks: list[tuple[Path, str]] = [(home, "DEALVAULT_HOME")]
    for url in database_urls:
        db = sqlite_file(url)
        if db is not None:
            checks.append((db, "database"))
            checks += [(Path(f"{db}{s}"), "database file") for s in SQLITE_SIDE_FILES]
    checks += [(d, "directory") for d in directories]
    for path, what in checks:
        if warn_if_wide(path, what=what):
            found.append(path)
    return found
