"""``python -P -m dealvault.cli.warm KEY``: run a warm server (the client starts it)."""

import sys

from dealvault.cli.warm.server import main

sys.exit(main(sys.argv))
