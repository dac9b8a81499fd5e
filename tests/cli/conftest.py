"""Fixtures of the tests that run every command (tests/cli/test_every_command*.py)."""

from __future__ import annotations

import fcntl
import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dealvault.cli import main
from tests.cli import command_world
from tests.cli.command_world import World


@pytest.fixture(scope="session")
def cli_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The world of tests/cli/command_world.py, built once per run (xdist workers wait for
    the first, on a lock); each worker works on its own copy of the store."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's directory, shared by its workers
    built = base / "every-command-world"
    with (base / "every-command-world.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not (built / "values.json").exists():
            built.mkdir(exist_ok=True)
            values = command_world.build(built).values
            (built / "values.json").write_text(json.dumps(values), encoding="utf-8")
    values = json.loads((built / "values.json").read_text(encoding="utf-8"))
    shared = World(work=built, home=built / "store", values=values)
    return shared.copy(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def cached_commands() -> Iterator[None]:
    """The root command imports and builds a command's module each time it runs (a real run
    runs one); these tests run commands a thousand times in one process, so each is built
    once and its click objects reused."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main, "_load", functools.cache(main._load))
        yield


@pytest.fixture
def own_world(cli_world: World, tmp_path: Path) -> World:
    """The world with a store of the test's own, to change."""
    return cli_world.copy(tmp_path)
