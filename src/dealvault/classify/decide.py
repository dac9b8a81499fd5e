"""Scoring: header hint + validated shares -> one PII type with a confidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from dealvault.classify.headers import EXACT, HeaderHint
from dealvault.classify.types import FAMILIES, PRIORITY, TYPES

WITH_HEADER: Final = 0.5  # share that suffices when the header names the type
SHAPE_MIN: Final = 0.6  # share of values fitting a type's loose shape for header-only types
WEAK: Final = 0.7  # types at or below this strength yield to an exact header
CONFLICT: Final = 0.85  # confidence factor when the header names another type


@dataclass(frozen=True, slots=True)
class Decision:
    pii_type: str | None
    confidence: float
    header_only: bool = False


def _family(t: str) -> frozenset[str]:
    for fam in FAMILIES:
        if t in fam:
            return fam
    return frozenset({t})


def _agrees(t: str, hint: HeaderHint) -> bool:
    return bool(_family(t) & set(hint.types))


def _size_factor(n: int) -> float:
    return n / (n + 2.0)


def scores(hint: HeaderHint, shares: dict[str, float], n: int) -> dict[str, float]:
    """Confidence of every type whose share qualifies it (family members share a pool)."""
    out: dict[str, float] = {}
    for t, share in shares.items():
        if share <= 0:
            continue
        fam = _family(t)
        members = {u: shares.get(u, 0.0) for u in fam}
        if share < max(members.values()):
            continue  # another family member explains the column better
        pooled = min(1.0, sum(members.values()))
        info = TYPES[t]
        agrees = _agrees(t, hint)
        if pooled < (WITH_HEADER if agrees else info.alone):
            continue
        value = info.strength * pooled * _size_factor(n)
        if agrees:
            conf = 1 - (1 - value) * (1 - hint.strength)
        elif hint.types:
            conf = value * CONFLICT
        else:
            conf = value
        out[t] = conf
    return out


def _best(candidates: dict[str, float]) -> str:
    return max(candidates, key=lambda t: (round(candidates[t], 6), -PRIORITY.index(t)))


def decide(
    hint: HeaderHint, shares: dict[str, float], n: int, shape_share: Callable[[str], float]
) -> Decision:
    """Pick the type; an exact header beats weak value evidence; header-only as last resort."""
    qualified = scores(hint, shares, n)
    header_pick = _header_only(hint, shape_share)
    if qualified:
        best = _best(qualified)
        weak_best = TYPES[best].strength <= WEAK and not _agrees(best, hint)
        if weak_best and hint.strength >= EXACT and header_pick is not None:
            return header_pick
        return Decision(best, round(qualified[best], 4))
    if header_pick is not None:
        return header_pick
    return Decision(None, 0.0)


def _header_only(hint: HeaderHint, shape_share: Callable[[str], float]) -> Decision | None:
    for t in hint.types:
        shape = TYPES[t].shape
        if shape is None:
            continue
        fit = shape_share(shape)
        if fit >= SHAPE_MIN:
            return Decision(t, round(hint.strength * 0.5 * fit, 4), header_only=True)
    return None
