"""A seller's store with one deal, for CLI tests: an operator, a training administrator, a
trained steward of deal d1 (the default actor) and one bidder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

OPERATOR = "op@seller.example"
TRAINER = "trainer@seller.example"
STEWARD = "steward@seller.example"


def seller_deal(invoke: Callable[..., Any]) -> None:
    """Run the set-up through ``invoke(*args)`` (which fails the test on a bad exit code)."""
    op, trainer = ("--as", OPERATOR), ("--as", TRAINER)
    # a trial store: the tests act as bidders and counsel by naming them (--as)
    invoke(*op, "init", "--operator", OPERATOR, "--operator-name", "Op", "--org", "Seller Co",
           "--trial")  # fmt: skip
    invoke(*op, "person", "add", STEWARD, "--name", "Steward", "--org", "Seller Co")
    invoke(*op, "person", "add", TRAINER, "--name", "Trainer", "--org", "Seller Co")
    invoke(*op, "store", "grant", TRAINER, "--role", "training_admin")
    invoke(*op, "org", "add", "Bidder A", "--kind", "bidder")
    invoke(*op, "deal", "create", "d1", "--name", "Deal", "--seller", "Seller Co",
           "--bidder", "Bidder A")  # fmt: skip
    invoke(*op, "deal", "add-member", "d1", "--person", STEWARD, "--role", "seller_steward")
    invoke(*trainer, "training", "add", "--person", STEWARD, "--course", "confidentiality",
           "--completed", "2026-01-05")  # fmt: skip
