"""The ``dealvault`` program: with DEALVAULT_WARM=1 the call goes to this user's warm server
(docs/warm.md), else, or when that fails, the CLI runs in this process. Only the standard
library is imported before that choice."""

from __future__ import annotations

import os
import sys


def run() -> None:
    """The console entry point."""
    if os.environ.get("DEALVAULT_WARM") == "1":
        try:
            from dealvault.cli.warm.client import attempt

            code = attempt(argv=list(sys.argv))
        except Exception as exc:  # the warm path is never in the way
            from dealvault.cli.warm.trace import debug

            debug(f"in-process: {type(exc).__name__}")
            code = None
        if code is not None:
            sys.exit(code)
    from dealvault.cli.main import run as run_here

    run_here()


if __name__ == "__main__":
    run()
