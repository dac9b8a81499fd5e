"""Debug lines of the warm path (DEALVAULT_WARM_DEBUG=1): reasons and pids, never values."""

from __future__ import annotations

import os
import sys
import time

DEBUG_VAR = "DEALVAULT_WARM_DEBUG"


def enabled() -> bool:
    """Whether debug lines are wanted (read at each call: the server's env differs)."""
    return os.environ.get(DEBUG_VAR) == "1"


def debug(message: str) -> None:
    """One line on stderr, only with DEALVAULT_WARM_DEBUG=1. Callers pass fixed words, pids,
    exit codes and error class names; never an argument, a path or an environment value."""
    if enabled():
        try:
            sys.stderr.write(f"dealvault warm: {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass


def server_log(*, path: str, message: str) -> None:
    """Append a debug line to the server's log file (its stdio is /dev/null)."""
    if not enabled():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return
    try:
        stamp = time.strftime("%H:%M:%S")
        os.write(fd, f"{stamp} [{os.getpid()}] {message}\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)
