"""Every file a command reads or writes, made bad in every way (tests/cli/command_cases.py:
READS, READS_DIR, WRITES): missing, a directory, a symlink loop, unreadable, empty, corrupt;
an output in a missing, blocked or read-only directory, or in place of a directory or an
existing file. Each is one clear line naming the file, with the documented exit code; a few
run as real processes to prove what a shell sees."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from typer.testing import Result

from tests.cli.command_file_cases import READS, READS_DIR, WRITES, Reads, Writes
from tests.cli.command_world import PERSONAL, World, environment, invoke
from tests.cli.seller import OPERATOR, STEWARD
from tests.cli.test_every_command import (  # noqa: F401 - here is a fixture
    COMMANDS,
    JSON,
    as_,
    failed,
    fill,
    has_json,
    here,
)

pytestmark = pytest.mark.usefixtures("cached_commands")  # fixtures: tests/cli/conftest.py

#: binary garbage around the personal values of a customer: never to be echoed
CORRUPT = b"\x00\xff\xfe\x81PK\x03\x04" + ",".join(PERSONAL[:4]).encode() + b"\n\x80\xfe\x00"


#: how root runs the cases root would pass otherwise: without the capability to override modes
NO_DAC = (
    "as root, run them under: setpriv --inh-caps=-dac_override,-dac_read_search "
    "--bounding-set=-dac_override,-dac_read_search --"
)


def _usable(path: Path, mode: int) -> bool:
    """Whether this process can still read (or, for a directory, write in) ``path`` after
    ``chmod mode``: root can, so the case is skipped there (the loop case always runs)."""
    path.chmod(mode)
    try:
        if path.is_dir():
            (path / ".probe").touch()
            (path / ".probe").unlink()
        else:
            path.read_bytes()
    except PermissionError:
        return False
    return True


def bad_input(tmp: Path, kind: str, row: Reads) -> Path:
    """A bad input file of ``kind``, named for it (the message must name it)."""
    path = tmp / f"{kind}.csv"
    if kind == "bad_row":
        path.write_bytes(row.bad_row)
    elif kind == "directory":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind in ("empty", "corrupt", "unreadable"):
        path.write_bytes({"empty": b"", "corrupt": CORRUPT}.get(kind, b"a,b\n1,2\n"))
        path.chmod(0o600)  # key files that others may read are refused for that first
        if kind == "unreadable" and _usable(path, 0o000):
            pytest.skip(f"this user reads files of mode 000 (root): see the loop case; {NO_DAC}")
    return path


def bad_dir(tmp: Path, kind: str) -> Path:
    """A bad directory to read: missing, empty, a (corrupt) file in its place, a loop."""
    path = tmp / f"{kind}-dir"
    if kind == "empty":
        path.mkdir()
    elif kind == "corrupt":
        path.write_bytes(CORRUPT)
    elif kind == "loop":
        path.symlink_to(path.name)
    return path


def _run(world: World, row: Reads | Writes, tmp: Path, *extra: str, **path: str) -> Result:
    args = fill(world, row.args, tmp, **path)
    return invoke(world.home, *as_(row.actor), *row.command.split(), *args, *extra)


READ_CASES = [(label, kind) for label, row in READS.items() for kind in row.codes]


@pytest.mark.parametrize(("label", "kind"), READ_CASES)
def test_a_bad_input_file(label: str, kind: str, cli_world: World, tmp_path: Path) -> None:
    row = READS[label]
    bad = bad_input(tmp_path, kind, row)
    j = kind == "missing" and has_json(row.command)  # each file once with --json
    r = _run(cli_world, row, tmp_path, *JSON[j], file=str(bad))
    where = row.names_row if kind == "bad_row" else ()
    failed(r, row.codes[kind], bad.name, *where, as_json=j)


DIR_CASES = [(label, kind) for label, row in READS_DIR.items() for kind in row.codes]


@pytest.mark.parametrize(("label", "kind"), DIR_CASES)
def test_a_bad_input_directory(label: str, kind: str, cli_world: World, tmp_path: Path) -> None:
    row = READS_DIR[label]
    bad = bad_dir(tmp_path, kind)
    j = kind == "missing" and has_json(row.command)
    r = _run(cli_world, row, tmp_path, *JSON[j], file=str(bad))
    failed(r, row.codes[kind], bad.name, as_json=j)


def bad_output(world: World, tmp: Path, kind: str, name: str) -> Path:
    """An output path of ``kind``: its directory missing, a directory (not empty) in its
    place, a file where its directory should be, an existing file, a read-only directory."""
    if kind == "no_dir":
        return tmp / "missing" / name
    if kind == "under_file":
        return world.work / "crm.csv" / name
    if kind == "read_only":
        (tmp / "ro").mkdir()
        if _usable(tmp / "ro", 0o555):
            pytest.skip(
                f"this user writes in read-only directories (root): see under_file; {NO_DAC}"
            )
        return tmp / "ro" / name
    path = tmp / name
    if kind == "a_dir":
        path.mkdir()
        (path / "keep").write_text("keep")
    else:  # exists
        path.write_text("keep")
    return path


WRITE_CASES = [(label, kind) for label, row in WRITES.items() for kind in row.codes]


@pytest.mark.parametrize(("label", "kind"), WRITE_CASES)
def test_a_bad_output_path(label: str, kind: str, cli_world: World, tmp_path: Path) -> None:
    row = WRITES[label]
    out = bad_output(cli_world, tmp_path, kind, row.name)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    j = kind == "under_file" and has_json(row.command)
    message = failed(
        _run(cli_world, row, tmp_path, *JSON[j], out=str(out)), row.codes[kind], as_json=j
    )
    assert out.name in message or str(out.parent) in message, message
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "something was written"
    if kind == "exists":
        assert out.read_text() == "keep"


def test_every_file_option_is_in_the_tables() -> None:
    """A command taking a path has a row for that path: adding one fails here until it is."""
    rows: list[Reads | Writes] = [*READS.values(), *READS_DIR.values(), *WRITES.values()]
    tested = {(r.command, a) for r in rows for a in r.args if a.startswith("-")} | {
        (r.command, "ARG")
        for r in rows
        for i, a in enumerate(r.args)  # a path argument, not an option's value
        if a in ("{file}", "{out}") and (i == 0 or not r.args[i - 1].startswith("-"))
    }
    untested = []
    for name, cmd in COMMANDS.items():
        hints = typing.get_type_hints(cmd.callback)
        for p in cmd.params:
            if "Path" not in repr(hints.get(p.name)):
                continue
            key = (name, "ARG") if p.param_type_name == "argument" else (name, p.opts[0])
            if key not in tested:
                untested.append(key)
    assert not untested, f"paths no bad-file case covers: {untested}"


def test_an_os_error_no_check_foresaw_is_one_line(
    cli_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge's last resort: a file the system refuses where nothing checked first (here a
    write refused as to a user without the right: root passes every check) is one line naming
    it, exit 1, not a traceback."""
    out = tmp_path / "report.html"

    def refused(path: Path, data: bytes | str) -> Path:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("dealvault.flows.auditing.write_private", refused)
    r = invoke(cli_world.home, "--as", OPERATOR, "audit", "report", str(out))
    failed(r, 1, f"error (io): {out}: Permission denied")
    assert not out.exists()


#: (how the process is started, global options and args, exit code, what stderr says);
#: "{empty}" is an empty home, "{dir}" a directory
PROCESSES = {
    "usage": ("script", ("deal", "show"), 2, "Missing argument"),
    "no store": ("script", ("--home", "{empty}", "deal", "list"), 3, "no dealvault store here"),
    "not found, JSON": ("module", ("deal", "show", "nope", "--json"), 3, '"error": "not_found"'),
    "denied": ("module", ("--as", STEWARD, "store", "show"), 4, "access denied"),
    "bad file": ("module", ("policy", "validate", "{dir}"), 2, "Is a directory"),
}


@pytest.mark.parametrize("case", sorted(PROCESSES))
def test_a_real_process_exits_with_the_code(case: str, cli_world: World, tmp_path: Path) -> None:
    how, args, code, said = PROCESSES[case]
    script = Path(sys.executable).with_name("dealvault")  # the installed entry point
    assert how == "module" or script.is_file(), "install the package: make venv"
    start = [str(script)] if how == "script" else [sys.executable, "-m", "dealvault.cli.main"]
    (tmp_path / "empty").mkdir(mode=0o700)
    where = {"empty": str(tmp_path / "empty"), "dir": str(tmp_path)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALVAULT_")}
    env.update({k: v for k, v in environment(cli_world.home).items() if v is not None})
    done = subprocess.run(
        [*start, *(a.format(**where) for a in args)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout and said in done.stderr, done.stderr
    if case != "usage":  # (click's usage panel is several lines)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not [v for v in PERSONAL if v in done.stderr + done.stdout]
