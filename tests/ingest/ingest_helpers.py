"""Invented test data for ingest tests: resident ID and card numbers with valid check digits."""

from __future__ import annotations

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_ric(body17: str) -> str:
    """An invented resident ID number with a valid check character."""
    total = sum(int(c) * w for c, w in zip(body17, WEIGHTS, strict=True))
    return body17 + "10X98765432"[total % 11]


def make_card(prefix: str) -> str:
    """An invented card number with a valid Luhn digit."""
    s = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        s += d - 9 if d > 9 else d
    return prefix + str((10 - s % 10) % 10)
