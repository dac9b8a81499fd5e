"""Where a user's warm servers listen: a private directory, checked before every use."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping

#: AF_UNIX paths are at most 107 bytes on Linux
_MAX_SOCKET_PATH = 107


class UnsafeDir(Exception):
    """The socket directory is not private to this user: the warm path is not used."""


def socket_dir(*, environ: Mapping[str, str]) -> str:
    """``$XDG_RUNTIME_DIR/dealvault`` when that is set (and absolute), else
    ``/tmp/dealvault-<uid>``."""
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "dealvault")
    return f"/tmp/dealvault-{os.getuid()}"  # noqa: S108 - checked private (check_dir)


def check_dir(*, path: str) -> None:
    """Raise UnsafeDir unless ``path`` is a real directory (not a symlink) owned by this user
    and closed to everyone else (mode 0700); FileNotFoundError when it does not exist."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeDir("a symlink")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDir("not a directory")
    if st.st_uid != os.getuid():
        raise UnsafeDir("owned by another user")
    if st.st_mode & 0o077:
        raise UnsafeDir(f"open to others (mode {stat.S_IMODE(st.st_mode):o})")


def ensure_dir(*, path: str) -> None:
    """Create the directory (mode 0700) if needed, then check it as :func:`check_dir`."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    check_dir(path=path)


def socket_path(*, directory: str, key: str) -> str:
    """The socket of the server for ``key``; ValueError if the path is too long for AF_UNIX."""
    path = os.path.join(directory, f"{key[:20]}.sock")
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise ValueError("socket path too long")
    return path


def lock_path(*, socket: str) -> str:
    """The lock file a live server holds (flock) for its whole life, beside its socket."""
    return socket.removesuffix(".sock") + ".lock"


def log_path(*, directory: str) -> str:
    """The servers' debug log (written only with DEALVAULT_WARM_DEBUG=1)."""
    return os.path.join(directory, "server.log")
