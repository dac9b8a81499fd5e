"""Every command, walked from the real command tree, on its main path and its failure paths:
help, missing arguments, no store, something unknown, a person without the role, each failing
command once with --json. A failure is one line on stderr naming the problem (with --json one
JSON object), with the exit code of its class (docs/cli.md), never a traceback and never a
personal value. The cases are the table in tests/cli/command_cases.py; the files' are in
test_every_command_files.py."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import Result

from dealvault.cli.main import app
from dealvault.errors import DealvaultError
from tests.cli.command_cases import CASES, NO_STORE, STORELESS
from tests.cli.command_file_cases import READS, READS_DIR, WRITES, Reads, Writes
from tests.cli.command_world import PERSONAL, STRANGER, World, invoke

_LINE = re.compile(r"error \(([a-z_]+)\): \S")


def _subclasses(cls: type[DealvaultError]) -> Iterator[type[DealvaultError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


#: the exit code of each error class (docs/cli.md), and of the codes flows give instances
EXIT = {c.code: c.exit_code for c in _subclasses(DealvaultError)} | {
    "denied": 4,  # Forbidden
    "illegal_transition": 5,  # Conflict
    "io": 1,  # an OSError no check foresaw (the edge's last resort)
    "usage": 2,  # click's own checks of the arguments (e.g. a path that is not readable)
}


def walk() -> dict[str, Any]:
    """Every leaf command of the real app by its path ("audit key show"), each group's
    commands loaded through click (the root loads its modules on demand)."""
    found: dict[str, Any] = {}

    def visit(cmd: Any, path: tuple[str, ...]) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                visit(cmd.get_command(None, name), (*path, name))
        else:
            found[" ".join(path)] = cmd

    visit(typer.main.get_command(app), ())
    return found


COMMANDS = walk()


pytestmark = pytest.mark.usefixtures("cached_commands")  # fixtures: tests/cli/conftest.py


@pytest.fixture(autouse=True)
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing a command writes lands in the repository


def fill(world: World, args: tuple[str, ...], tmp: Path, **more: str) -> list[str]:
    return [a.format(**world.values, T=str(tmp), **more) for a in args]


def as_(who: str | None) -> list[str]:
    return ["--as", who] if who else []


def no_traceback(r: Result) -> None:
    crashed = r.exception is not None and not isinstance(r.exception, SystemExit)
    assert not crashed and "Traceback" not in r.output, (r.output, repr(r.exception))


def failed(r: Result, code: int, *parts: str, as_json: bool = False) -> str:
    """``r`` failed with ``code``: one line ``error (CLASS): message`` on stderr (with
    ``as_json``: one JSON object ``{"error": CLASS, "message": ...}`` and nothing on stdout),
    the exit code documented for its class, naming each of ``parts``, showing no personal
    value; returns the message."""
    no_traceback(r)
    assert r.exit_code == code, f"exit {r.exit_code}, not {code}:\n{r.output}"
    if as_json:
        assert not r.stdout.strip(), r.stdout
        body = json.loads(r.stderr)
        assert isinstance(body, dict) and set(body) == {"error", "message"}, body
        kind, message = body["error"], body["message"]
    elif r.stderr.startswith("Usage:"):  # click refused an argument before the command ran
        said = [x for x in r.stderr.splitlines() if "Invalid value" in x or "Missing" in x]
        assert len(said) == 1, f"not one usage error:\n{r.stderr}"
        kind, message = "usage", said[0]
    else:
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        found = _LINE.match(lines[0]) if len(lines) == 1 else None
        assert found, f"not one error line:\n{r.stderr}"
        kind, message = found.group(1), lines[0]
    assert EXIT.get(kind) == code, f"class {kind} exits {code}, documented: {EXIT.get(kind)}"
    for part in parts:
        assert part in message, f"{part!r} not named in: {message}"
    leaked = [v for v in PERSONAL if v in r.output]
    assert not leaked, f"personal values shown: {leaked}\n{r.output}"
    return str(message)


JSON = {True: ("--json",), False: ()}


def has_json(name: str) -> bool:
    return any("--json" in getattr(p, "opts", ()) for p in COMMANDS[name].params)


def json_case(name: str) -> str | None:
    """Which failure of a command is run with --json (the others plain): its first unknown
    name, else its refusal, else its empty home; None when it has no --json."""
    case = CASES[name]
    if not has_json(name):
        return None
    if case.unknown:
        return "unknown"
    return "denied" if case.denied else "empty"


# -- the table is the command tree -----------------------------------------------------
def test_every_command_has_its_failure_cases() -> None:
    new = sorted(set(COMMANDS) - set(CASES))
    gone = sorted(set(CASES) - set(COMMANDS))
    assert not new, (
        f"new command(s) {new}: add a row to CASES in tests/cli/command_cases.py (its main "
        "args, who is refused them, what it names that may not exist, what it does with no "
        "store) and rows to READS / WRITES for every file it reads or writes"
    )
    assert not gone, f"CASES names commands that do not exist (any more): {gone}"


# -- help and usage --------------------------------------------------------------------
# (no store is opened before a command's arguments are parsed: these run in an empty home)
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_works_and_every_parameter_has_help(name: str, tmp_path: Path) -> None:
    r = invoke(tmp_path, *name.split(), "--help")
    no_traceback(r)
    assert r.exit_code == 0 and f"Usage: dealvault {name}" in r.stdout, r.output
    bare = [p.name for p in COMMANDS[name].params if not (getattr(p, "help", None) or "").strip()]
    assert not bare, f"dealvault {name}: no help text for {bare}"


def _required(name: str) -> list[Any]:
    return [p for p in COMMANDS[name].params if p.required]


def _usage_error(r: Result, param: Any) -> None:
    no_traceback(r)
    assert r.exit_code == 2, r.output
    shown = param.opts[0] if param.param_type_name == "option" else param.name
    missing = [x for x in r.stderr.splitlines() if "Missing" in x]
    assert len(missing) == 1 and shown.lower() in missing[0].lower(), f"{shown}:\n{r.stderr}"


@pytest.mark.parametrize("name", sorted(n for n in COMMANDS if _required(n)))
def test_missing_required_arguments_are_usage_errors(name: str, tmp_path: Path) -> None:
    """With nothing: the first required parameter is named; then each required option left
    out of the main args in turn is named."""
    _usage_error(invoke(tmp_path, *name.split()), _required(name)[0])
    # placeholders filled with nonsense, but ids with a number (a usage error names them)
    main = [a.format_map(defaultdict(lambda: "x", finding="1")) for a in CASES[name].main]
    for param in _required(name):
        if param.param_type_name != "option":
            continue
        at = next(i for i, a in enumerate(main) if a in param.opts)
        args = main[:at] + main[at + 2 :]  # the option and its value
        _usage_error(invoke(tmp_path, *as_(CASES[name].actor), *name.split(), *args), param)


# -- main paths ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_main_path(name: str, own_world: World, tmp_path: Path) -> None:
    case = CASES[name]
    args = fill(own_world, case.main, tmp_path)
    r = invoke(own_world.home, *as_(case.actor), *name.split(), *args)
    code, part = case.main_exit
    if code == 0:
        no_traceback(r)
        assert r.exit_code == 0, r.output
    else:
        failed(r, code, part)


# -- failure paths ---------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_empty_home(name: str, cli_world: World, tmp_path: Path) -> None:
    """No store at all: a clear error saying so (or, for a command needing no store, its
    work), and nothing made in the home."""
    case = CASES[name]
    home = tmp_path / "empty"
    home.mkdir(mode=0o700)
    args = case.main if case.empty_args is None else case.empty_args
    j = json_case(name) == "empty" and case.empty_home != STORELESS
    r = invoke(home, *as_(case.actor), *name.split(), *fill(cli_world, args, tmp_path), *JSON[j])
    code, part = case.empty_home
    if (code, part) == STORELESS:
        no_traceback(r)
        assert r.exit_code == 0, r.output
    elif (code, part) == NO_STORE:
        failed(r, code, part, f"{home}/vault.sqlite does not exist", "'dealvault init", as_json=j)
    else:
        failed(r, code, part, as_json=j)
    assert not list(home.iterdir()), "a store was made as a side effect"


def test_a_home_that_is_a_file_is_refused(cli_world: World) -> None:
    for home in (cli_world.work / "crm.csv", cli_world.work / "crm.csv" / "store"):
        failed(invoke(home, "deal", "list"), 2, str(home), "is not a directory")


def test_an_unregistered_person_is_refused(cli_world: World) -> None:
    r = invoke(cli_world.home, "--as", STRANGER, "deal", "list")
    failed(r, 4, "access denied", "the acting person is not registered in this store")


UNKNOWN = [(n, i) for n, c in sorted(CASES.items()) for i in range(len(c.unknown))]


@pytest.mark.parametrize(("name", "i"), UNKNOWN)
def test_unknown_names_are_not_found(name: str, i: int, cli_world: World, tmp_path: Path) -> None:
    case = CASES[name]
    args, part = case.unknown[i]
    j = i == 0 and json_case(name) == "unknown"
    r = invoke(
        cli_world.home, *as_(case.actor), *name.split(), *fill(cli_world, args, tmp_path), *JSON[j]
    )
    failed(r, 3, part, as_json=j)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.denied))
def test_a_person_without_the_role_is_refused(name: str, cli_world: World, tmp_path: Path) -> None:
    case = CASES[name]
    assert case.denied is not None
    j = json_case(name) == "denied"
    args = [*fill(cli_world, case.main, tmp_path), *JSON[j]]
    r = invoke(cli_world.home, "--as", case.denied, *name.split(), *args)
    failed(r, 4, "access denied", as_json=j)


def test_every_command_with_json_fails_once_in_json() -> None:
    """Those needing no store fail on their files: their JSON cases are the files' (a missing
    input, an output under a file: test_every_command_files.py)."""
    rows: list[Reads | Writes] = [*READS.values(), *READS_DIR.values(), *WRITES.values()]
    # they take nothing to be wrong about and need no store: there is no failure to show
    always_succeed = {"warm status", "warm stop"}
    never = [
        n
        for n in CASES
        if n not in always_succeed
        and json_case(n) == "empty"
        and CASES[n].empty_home == STORELESS
        and not any(r.command == n for r in rows)
    ]
    assert not never, f"no failure of {never} is run with --json"
