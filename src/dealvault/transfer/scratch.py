"""Private scratch directories held by their live process; what a killed run left is removed
when the command that makes such directories starts again.

A scratch directory is created mode 0700 and its owner holds an exclusive ``flock`` on it
for as long as it works in it (the kernel drops the lock when the process dies, ``kill -9``
included). Cleaning up takes every directory of the name pattern, owned by this user, whose
lock it can take: nobody is working in it any more.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

_ATTEMPTS = 8


class Scratch:
    """A scratch directory this process holds; ``remove()`` (or leaving the ``with``) deletes
    it and lets go. It may be renamed meanwhile: the lock stays with the directory."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def new(cls, parent: Path, name: Callable[[], str]) -> Scratch:
        """Make and hold a new directory ``parent/name()`` (a fresh name per attempt: one
        that a clean-up removed between its creation and its lock is given up)."""
        for _ in range(_ATTEMPTS):
            path = parent / name()
            try:
                path.mkdir(mode=0o700)
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except (FileExistsError, FileNotFoundError):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_nlink > 0:
                    return cls(path, fd)
            except BlockingIOError:
                pass
            os.close(fd)
        raise OSError(f"could not make a scratch directory in {parent}")

    def remove(self) -> None:
        """Delete the directory (if it is still at ``path``) and release it."""
        if os.path.lexists(self.path) and not self.path.is_symlink():
            shutil.rmtree(self.path, ignore_errors=True)
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Scratch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()


def clean_leftovers(parent: Path, pattern: re.Pattern[str]) -> list[str]:
    """Remove the directories under ``parent`` whose name matches ``pattern``, that belong to
    this user and that no live process holds; returns their names."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(entry.path, ignore_errors=True)  # still holding it
            removed.append(entry.name)
        except BlockingIOError:
            pass  # a live process works in it
        finally:
            os.close(fd)
    return removed
