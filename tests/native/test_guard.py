"""Which path a process uses: the C kernels must be in use under CI, and
``DEALVAULT_NATIVE=0`` turns them off."""

from __future__ import annotations

import os
import subprocess
import sys

from dealvault import native
from tests.native.support import C

PROBE = "from dealvault import native; print(native.NATIVE)"


def _native_in_child(**env: str) -> str:
    child_env = {k: v for k, v in os.environ.items() if k != "DEALVAULT_NATIVE"}
    child_env.update(env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=child_env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_ci_runs_the_c_kernels() -> None:
    """Under CI a C build that failed quietly (the extension is optional) is a red run."""
    if os.environ.get("CI") == "true":
        assert native.NATIVE, (
            "CI=true but dealvault._native is not in use: the C extension did not build "
            "(see the install's output for _kernels/) or DEALVAULT_NATIVE=0 is set"
        )
    wanted = C is not None and os.environ.get("DEALVAULT_NATIVE", "1") != "0"
    assert wanted == native.NATIVE


def test_dealvault_native_0_selects_the_python_path() -> None:
    assert _native_in_child(DEALVAULT_NATIVE="0") == "False"
    assert _native_in_child() == str(C is not None)
