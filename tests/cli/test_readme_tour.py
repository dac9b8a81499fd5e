"""The README's tour runs as written, in order, on a fresh home: the commands are read from
the README itself, so the two cannot drift apart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def tour_script() -> str:
    """The ```sh block under the README's "A short tour" heading."""
    text = README.read_text("utf-8")
    section = text.split("## A short tour", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "the README's tour has no ```sh block"
    return found.group(1)


def test_the_readme_starts_with_the_two_set_up_commands() -> None:
    text = README.read_text("utf-8")
    first = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first is not None
    commands = [ln.split("#")[0].strip() for ln in first.group(1).splitlines() if ln.strip()]
    assert commands == ["make demo", "make test"]


@pytest.mark.slow
def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    if shutil.which("age-keygen") is None:
        if os.environ.get("CI"):
            pytest.fail(".ci/run should have installed age (age-keygen)")
        pytest.skip("the tour uses age-keygen: apt-get install age")
    script = tour_script()
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEALVAULT_", "PYTEST_"))}
    # the warm command server (docs/warm.md), as make demo uses it: after each store's first
    # call, a command forks from a server with the CLI imported; its own socket directory (a
    # short path: a socket's path is limited to 107 bytes), stopped at the end
    runtime = tempfile.mkdtemp(prefix="dvtour")
    env.update(
        PATH=f"{bin_dir}:{env.get('PATH', '')}",
        # a lighter Argon2id keeps the test quick; the tour itself uses the defaults
        DEALVAULT_ARGON2_MEMORY_KIB="16384",
        DEALVAULT_ARGON2_TIME_COST="1",
        DEALVAULT_WARM="1",
        DEALVAULT_WARM_IDLE="120",
        XDG_RUNTIME_DIR=runtime,
        COLUMNS="100",
    )
    try:
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        subprocess.run(["dealvault", "warm", "stop"], env=env, capture_output=True, check=False)
        shutil.rmtree(runtime, ignore_errors=True)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert "Traceback" not in out
