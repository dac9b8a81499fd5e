"""Which server may serve a call: a key over the installed code, the interpreter and the
environment variables that modules read when imported (their values are baked into a server)."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
from collections.abc import Mapping, Sequence

#: bumped whenever the wire format changes
PROTOCOL = 1
IDLE_VAR = "DEALVAULT_WARM_IDLE"
#: variables the server itself reads (not part of the key: a server keeps its own values)
CONTROL_VARS = (IDLE_VAR, "DEALVAULT_WARM_DEBUG", "XDG_RUNTIME_DIR")
#: Variables read by the interpreter at start-up or by modules when imported (found with an
#: os.environ spy over the server's preload; see tests/cli/test_warm.py): a child inherits the
#: server's reading of them, so a server serves only calls that have the same values. Every
#: other variable is the client's own in the child.
KEY_PREFIXES = (
    "PYTHON",  # PYTHONPATH, PYTHONUTF8, PYTHONHASHSEED, PYTHONWARNINGS, PYTHONTZPATH, ...
    "_PYTHON",  # sysconfig
    "LC_",  # the locale (LC_CTYPE: the encodings), gettext
    "TYPER_",  # typer: TYPER_USE_RICH, ... read when imported
    "_TYPER_",
    "PYDANTIC_",  # PYDANTIC_DISABLE_PLUGINS
    "DEALVAULT_SQLITE_",  # db.engine: page and cache size
    "DEALVAULT_NATIVE",  # dealvault.native: the C kernels or their Python twins
    "OPENSSL_",  # read by OpenSSL when cryptography loads it
    "OTEL_",  # opentelemetry-api (FastAPI's telemetry hooks): propagators, context, when imported
)
KEY_NAMES = frozenset(
    {
        "LANG",
        "LANGUAGE",
        "HOME",  # sysconfig's user base
        "TZ",
        "TERMINAL_WIDTH",  # typer.rich_utils, when imported
        "FORCE_COLOR",
        "PY_COLORS",
        "GITHUB_ACTIONS",
        "LD_LIBRARY_PATH",  # which shared libraries the server loaded
        "LD_PRELOAD",
    }
)
#: resource limits a child takes from its client (``ulimit``; the stack's is fixed at exec)
RLIMITS = (
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
)
#: what a child's interpreter state comes from; server-only flags are left out
_IGNORED_FLAGS = frozenset({"safe_path"})


def is_keyed(name: str) -> bool:
    """Whether a variable's value is part of the key (and given to the server)."""
    return name in KEY_NAMES or name.startswith(KEY_PREFIXES)


def keyed_env(*, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` that are part of the key."""
    return {k: v for k, v in environ.items() if is_keyed(k)}


def server_env(*, environ: Mapping[str, str]) -> dict[str, str]:
    """The server's whole environment: the keyed variables and its own settings; no secret
    (DEALVAULT_PASSPHRASE, DEALVAULT_MASTER_KEY, URLs) ever reaches it."""
    env = keyed_env(environ=environ)
    env.update({k: environ[k] for k in CONTROL_VARS if k in environ})
    return env


def package_dir() -> str:
    """The installed ``dealvault`` package directory (this file is dealvault/cli/warm/key.py)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def import_path() -> list[str]:
    """``sys.path`` without the running script's directory (a console script's bin, or '' for
    ``-c``), which the server (started with ``-P``) does not have."""
    return list(sys.path) if sys.flags.safe_path else list(sys.path[1:])


def code_fingerprint(*, root: str, paths: Sequence[str]) -> str:
    """Digest of every file of the package (path, mtime, size; bytecode caches left out) and
    of the mtime of each import directory (an installed or removed distribution changes it)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            rel = os.path.relpath(full, root)
            digest.update(f"{rel}\0{st.st_mtime_ns}\0{st.st_size}\n".encode(errors="replace"))
    for entry in paths:
        try:
            mtime = os.stat(entry or ".").st_mtime_ns
        except OSError:
            mtime = -1
        digest.update(f"{entry}\0{mtime}\n".encode(errors="replace"))
    return digest.hexdigest()


def interpreter() -> list[object]:
    """What a child's interpreter state comes from: the executable and version, the flags,
    the file-system encoding, ``-X`` and ``-W`` options; the process's user and groups (files
    a child makes get the client's group); and what a child could not take from its client
    if the server had less: a lower nice value, higher hard resource limits."""
    flags = {
        name: getattr(sys.flags, name)
        for name in dir(sys.flags)
        if not name.startswith("_")
        and name not in _IGNORED_FLAGS
        and isinstance(getattr(sys.flags, name), int)
    }
    xoptions = {k: str(v) for k, v in sys._xoptions.items() if k != "utf8"}
    return [
        sys.executable,
        sys.version,
        sys.prefix,
        sorted(flags.items()),
        sys.getfilesystemencoding(),
        sys.getfilesystemencodeerrors(),
        sorted(xoptions.items()),
        list(sys.warnoptions),
        [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups())],
        os.getpriority(os.PRIO_PROCESS, 0),
        [resource.getrlimit(getattr(resource, name))[1] for name in RLIMITS],
    ]


def compute_key(*, environ: Mapping[str, str], paths: Sequence[str]) -> str:
    """The key of a call (client) or of a server: equal keys give equal children."""
    facts = [
        PROTOCOL,
        code_fingerprint(root=package_dir(), paths=paths),
        interpreter(),
        list(paths),
        sorted(keyed_env(environ=environ).items()),
    ]
    text = json.dumps(facts, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()
