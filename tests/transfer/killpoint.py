"""Run the dealvault CLI and stop dead at a chosen call: for tests that ``kill -9`` it there.

    python -m tests.transfer.killpoint [after:]MODULE:QUALNAME N -- CLI ARGUMENTS…

At the N-th call of MODULE.QUALNAME (before it runs, or after it returned with ``after:``)
the process writes ``AT <point>`` to standard error and waits for a signal. A process that
never reaches the point runs the command to its end.
"""

from __future__ import annotations

import importlib
import signal
import sys
from typing import Any


def install(point: str, n: int) -> None:
    after = point.startswith("after:")
    module, _, qualname = point.removeprefix("after:").partition(":")
    owner: Any = importlib.import_module(module)
    *parents, name = qualname.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    real = getattr(owner, name)
    calls = 0

    def stop() -> None:
        sys.stderr.write(f"AT {point}\n")
        sys.stderr.flush()
        while True:
            signal.pause()

    def hooked(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n and not after:
            stop()
        result = real(*args, **kwargs)
        if calls == n and after:
            stop()
        return result

    setattr(owner, name, hooked)


def main() -> None:
    point, n, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: killpoint POINT N -- CLI ARGUMENTS"
    install(point, int(n))
    from dealvault.cli.main import app

    app(args, prog_name="dealvault")


if __name__ == "__main__":
    main()
