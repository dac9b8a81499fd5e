"""What the warm server imports before it forks: the CLI and every dealvault module whose
module-level imports stay clear of the libraries that start threads when imported."""

from __future__ import annotations

import gc
import importlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

#: Top-level packages a server never imports. Measured with polars 2.1, numpy 2.4 and
#: pyarrow 26 (``ls /proc/self/task`` after ``import X``): polars starts its thread pool when
#: imported (4 threads), numpy its OpenBLAS workers (2), pyarrow 3. A forked child has only
#: the forking thread, so it would inherit a polars whose pool believes its threads exist and
#: waits for them forever. pandas and fastexcel pull numpy / pyarrow in. A child imports
#: these itself, when its command needs them, exactly as a cold run does.
THREADED = ("polars", "pyarrow", "numpy", "pandas", "fastexcel")
#: dealvault modules never preloaded: scripts run by path or as a program, the warm
#: machinery (imported already), and the HTTP server's edge (``dealvault serve`` is a
#: long-lived process of its own; its web framework reads telemetry settings at import)
_SKIP = re.compile(
    r"(^|\.)(__main__|migrations|keystore_migrations)(\.|$)|^dealvault\.worker$"
    r"|^dealvault\.api(\.|$)"
)
_WARM = "dealvault.cli.warm"
#: a module-level (column 0) import statement: ``from X import (a, b)`` or ``import X, Y``
_IMPORT = re.compile(
    r"^(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)|import[ \t]+([^\n#;]+))",
    re.M,
)


class Refused(Exception):
    """The preload would leave a thread or a threaded library in the server: do not serve."""


class _Blocked(BaseException):
    """Raised for an import of a THREADED package while preloading. A BaseException, so that
    no ``except ImportError`` fallback in a library swallows it and changes what it does."""


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if _is_threaded(fullname):
            raise _Blocked(fullname)
        return None


def _is_threaded(name: str) -> bool:
    top = name.split(".", 1)[0]
    return any(top == t or top.startswith(t + "_") for t in THREADED)


def _modules(*, root: str) -> dict[str, str]:
    """Every module of the package under ``root``: dotted name -> file."""
    base = os.path.dirname(root)
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in filenames:
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), base)[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            found[".".join(rel)] = os.path.join(dirpath, name)
    return found


def _imports(*, name: str, path: str, known: dict[str, str]) -> set[str]:
    """The modules ``name`` imports at module level, with the packages they are in (and the
    packages ``name`` itself is in: importing it runs their ``__init__``)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    direct: set[str] = set()
    for m in _IMPORT.finditer(text):
        if m.group(1):
            direct.add(m.group(1))
            for item in m.group(2).strip("()").split(","):
                sub = f"{m.group(1)}.{item.split(' as ')[0].strip()}"
                if sub in known:
                    direct.add(sub)
        else:
            direct.update(i.split(" as ")[0].strip() for i in m.group(3).split(","))
    parts = {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}
    for dotted in direct:
        pieces = dotted.split(".")
        parts.update(".".join(pieces[:i]) for i in range(1, len(pieces) + 1))
    parts.discard(name)
    return parts


def candidates(*, root: str) -> list[str]:
    """The package's modules whose module-level imports (followed through the package) reach
    no THREADED library, in name order; third-party imports are taken at their word here and
    checked by the import blocker while preloading."""
    known = _modules(root=root)
    graph = {n: _imports(name=n, path=p, known=known) for n, p in known.items()}
    # every module from which a threaded import can be reached (import cycles included):
    # walk the import graph backwards from the modules that import one directly
    importers: dict[str, set[str]] = {}
    for name, deps in graph.items():
        for dep in deps:
            importers.setdefault(dep, set()).add(name)
    threaded = {n for n, deps in graph.items() if any(_is_threaded(d) for d in deps)}
    todo = list(threaded)
    while todo:
        for importer in importers.get(todo.pop(), ()):
            if importer not in threaded:
                threaded.add(importer)
                todo.append(importer)
    return [
        n
        for n in sorted(known)
        if not _SKIP.search(n)
        and n != "dealvault.cli.launch"
        and not (n == _WARM or n.startswith(f"{_WARM}."))
        and n not in threaded
    ]


@contextmanager
def _env_spy(read: dict[str, str | None]) -> Iterator[None]:
    """Record every environment variable read through os.environ (os.getenv included)."""
    cls: Any = type(os.environ)
    original: Callable[[Any, str], str] = cls.__getitem__

    def getitem(self: Any, key: str) -> str:
        try:
            value = original(self, key)
        except KeyError:
            read.setdefault(key, None)
            raise
        read.setdefault(key, value)
        return value

    cls.__getitem__ = getitem
    try:
        yield
    finally:
        cls.__getitem__ = original


def thread_count() -> int:
    """Threads of this process, as the kernel sees them (not only Python's)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _warm_up() -> None:
    """Work every command would do first, done once here: SQLAlchemy's mapper configuration
    (about 0.1 s) and the click commands of the preloaded command modules (about 0.05 s)."""
    from sqlalchemy.orm import configure_mappers

    from dealvault.cli import main
    from dealvault.cli.commands import COMMANDS

    try:
        configure_mappers()
    except Exception as exc:
        raise Refused(f"mapper configuration failed ({type(exc).__name__})") from None
    loaded = [n for n, module, _ in COMMANDS if f"dealvault.cli.{module}" in sys.modules]
    main.prebuild(names=loaded)


def preload(*, root: str) -> dict[str, str | None]:
    """Import the CLI and the candidates and warm them up; return the environment variables
    read meanwhile (name -> value, None when unset). Refused if a thread or a threaded library
    appeared."""
    read: dict[str, str | None] = {}
    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    try:
        with _env_spy(read):
            for name in ["dealvault.cli.main", *candidates(root=root)]:
                importlib.import_module(name)
            _warm_up()
    except _Blocked as exc:
        raise Refused(f"a preloaded module imports {exc.args[0].split('.')[0]}") from None
    finally:
        sys.meta_path.remove(blocker)
    loaded = sorted({m.split(".")[0] for m in sys.modules if _is_threaded(m)})
    if loaded:
        raise Refused(f"threaded libraries loaded: {', '.join(loaded)}")
    if thread_count() != 1:
        raise Refused(f"{thread_count()} threads after preloading")
    # objects made so far live as long as the server: no child's collector need visit them
    # (fewer pages copied after fork, less work per collection)
    gc.collect()
    gc.freeze()
    return read
