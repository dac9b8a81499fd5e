"""Suppression that passes the interval audit: the line rule first, then more hidden cells
until every hidden cell's feasibility interval (``interval_audit``) meets the protection rule.

The rules (stated in docs/deidentification.md):

- **Counts.** Every hidden count (too small, or hiding another: the same rule for both, so the
  intervals do not tell them apart) must have a feasibility interval at least ``k_min`` wide
  whose upper end is at least ``k_min``: the release can neither pin the cell nor prove it
  below k_min. As τ-ARGUS puts it: upper protection level ``k_min - x`` at least (more when
  the interval is narrow), lower protection as far as the interval's width requires.
- **Sums.** A sum the p% rule marks as sensitive (``dominance.py``) needs the protection level
  of that rule on both sides: with contributions x1 ≥ x2 ≥ … and sum T, the interval must reach
  below T − pl and above T + pl, where pl = p/100 · x1 − (T − x1 − x2). Then the second-largest
  contributor cannot estimate the largest to within p%.

When a cell fails, one more released cell on one of its lines (the smallest) is hidden, the
line rule runs again, and the audit repeats. Hiding everything always passes (nothing bounds
a cell from above), so the loop ends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dealvault.deidentify.interval_audit import (
    AUDIT_SECONDS,
    BIG,
    Interval,
    Problem,
    count_rule_failures,
    intervals,
)
from dealvault.deidentify.suppression import Keys, Line, Suppression, build_lines, suppress
from dealvault.errors import DealvaultError

COUNT_RULE = (
    "every hidden count: feasibility interval at least k_min wide, upper end at least k_min"
)
SUM_RULE = "every sum the p% rule marks: interval reaches p% of the largest contribution beyond"
METHOD = "integer programming over every released cell and line (HiGHS)"


@dataclass(frozen=True)
class Audit:
    """What the audit checked: for the report (``to_dict``) and the tests."""

    counts_checked: int
    min_count_width: float | None  # None: no hidden count, or every interval unbounded
    counts_added: int
    sums_checked: int
    min_sum_margin: float | None  # smallest (achieved / required) protection of a marked sum
    sums_added: int
    rounds: int
    counts_skipped: str | None = None
    intervals: dict[int, Interval] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "count_rule": COUNT_RULE,
            "sum_rule": SUM_RULE,
            "cells_checked": self.counts_checked,
            "min_interval_width": _finite(self.min_count_width),
            "cells_added": self.counts_added,
            "sums_checked": self.sums_checked,
            "min_sum_protection_ratio": _finite(self.min_sum_margin),
            "sums_added": self.sums_added,
            "rounds": self.rounds,
            "counts_skipped": self.counts_skipped,
        }


def _finite(value: float | None) -> float | str | None:
    if value is None:
        return None
    return "unbounded" if math.isinf(value) else round(value, 4)


def protect_counts(
    *,
    keys: Keys,
    counts: Sequence[int],
    k_min: int,
    listed: Sequence[bool] | None,
    printed: Sequence[bool],
    remainder_dims: Sequence[int],
    audit: bool = True,
    audited: Sequence[bool] | None = None,
    seconds: float = AUDIT_SECONDS,
) -> tuple[Suppression, Audit]:
    """The line rule's suppression, widened until every hidden count passes the count rule.

    ``audited`` limits the programs to some cells (the main table; default all): a top-N
    table's values are then left to the line and remainder rules, and what their listed
    values say about a hidden group total (it is at least their sum, or their largest when
    a customer can have several values) becomes that total's lower bound.
    ``printed`` says which cells a released table shows when they are not hidden. A hidden
    cell may be empty (empty cells are printed, and suppressed, like any cell under k_min),
    so every hidden count is at least 0. With ``audit`` False (noised counts) only the line
    rule runs."""
    outcome = suppress(
        keys=keys, counts=counts, k_min=k_min, listed=listed, remainder_dims=remainder_dims
    )
    if not audit:
        skipped = "counts are noised: released counts do not add up, the line rule only"
        return outcome, Audit(0, None, 0, 0, None, 0, 0, counts_skipped=skipped)
    deadline = time.monotonic() + seconds
    inside = list(audited) if audited is not None else [True] * len(counts)
    every = build_lines(keys=keys) if len(counts) > 1 else []
    lines = [ln for ln in every if inside[ln.total] and all(inside[i] for i in ln.members)]
    tops = [ln for ln in every if ln.dim in set(remainder_dims) and inside[ln.total]]
    first = sum(outcome.suppressed)
    # Hiding more cells only widens intervals (a released value becomes one of many feasible
    # ones), so a cell that passed stays passed while every hidden cell stays hidden: each
    # round checks only the cells that failed or are newly hidden.
    passed: dict[int, Interval] = {}
    forced: set[int] = set()
    rounds = 0
    while True:
        rounds += 1
        hidden = outcome.suppressed
        known = [(p and not h) or not a for p, h, a in zip(printed, hidden, inside, strict=True)]
        targets = [i for i, h in enumerate(hidden) if h and inside[i] and i not in passed]
        lower = _lower_from_tops(tops, counts=counts, shown=known, hidden=hidden)
        problem = Problem(lines=lines, values=counts, known=known, lower=lower, integer=True)
        found = intervals(
            problem,
            targets=targets,
            enough=lambda _, iv: not count_rule_failures({0: iv}, k_min=k_min),
            deadline=deadline,
        )
        failing = count_rule_failures(found, k_min=k_min)
        passed.update((cell, iv) for cell, iv in found.items() if cell not in set(failing))
        if not failing:
            widths = [iv.width for iv in passed.values()]
            return outcome, Audit(
                counts_checked=len(passed),
                min_count_width=min(widths) if widths else None,
                counts_added=sum(hidden) - first,
                sums_checked=0,
                min_sum_margin=None,
                sums_added=0,
                rounds=rounds,
                intervals=passed,
            )
        more = widen(failing, lines=lines, known=known, size=abs_sizes(counts))
        forced |= more | {i for i, h in enumerate(hidden) if h}
        outcome = suppress(
            keys=keys,
            counts=counts,
            k_min=k_min,
            listed=listed,
            remainder_dims=remainder_dims,
            forced=forced,
        )


@dataclass(frozen=True)
class SumColumn:
    """One magnitude column over the summed cells: signed sums, the p% rule's protection
    level per cell (0: none needed), and whether every value is at least 0."""

    sums: Sequence[float]
    required: Sequence[float]
    nonnegative: bool


def protect_sums(
    *,
    keys: Keys,
    columns: Sequence[SumColumn],
    printed: Sequence[bool],
    hide: Callable[[set[int]], list[bool]],
) -> tuple[list[bool], int, float | None, int]:
    """Which cells' sums to hide so that every sum with a protection level passes the sum rule
    in every column. ``hide(forced)`` gives the hidden sums with the cells ``forced`` added
    (the line rule included). Returns the hidden flags, the sums checked, the smallest
    achieved / required protection, and how many cells were added."""
    deadline = time.monotonic() + AUDIT_SECONDS
    size = len(printed)
    lines = build_lines(keys=keys) if size > 1 else []
    passed: dict[tuple[int, int], float] = {}  # (column, cell) -> achieved / required
    forced: set[int] = set()
    first: int | None = None
    while True:
        hidden = hide(forced)
        first = sum(hidden) if first is None else first
        known = [p and not h for p, h in zip(printed, hidden, strict=True)]
        failing: set[int] = set()
        for number, column in enumerate(columns):
            targets = [
                i for i, r in enumerate(column.required) if r > 0 and (number, i) not in passed
            ]
            lower = [0.0 if column.nonnegative else -BIG] * size
            problem = Problem(
                lines=lines, values=column.sums, known=known, lower=lower, integer=False,
                tolerance=1e-9,
            )  # fmt: skip

            def ratio(cell: int, iv: Interval, column: SumColumn = column) -> float:
                value = column.sums[cell]
                return min(value - iv.lo, iv.hi - value) / column.required[cell]

            found = intervals(
                problem,
                targets=targets,
                enough=lambda c, iv: ratio(c, iv) >= 1,
                deadline=deadline,
            )
            for cell, iv in found.items():
                if ratio(cell, iv) < 1.0:
                    failing.add(cell)
                else:
                    passed[(number, cell)] = ratio(cell, iv)
        if not failing:
            ratios = list(passed.values())
            return hidden, len(passed), min(ratios) if ratios else None, sum(hidden) - first
        more = widen(sorted(failing), lines=lines, known=known, size=abs_sizes(columns[0].sums))
        forced |= more | {i for i, h in enumerate(hidden) if h}


def _lower_from_tops(
    tops: Sequence[Line], *, counts: Sequence[int], shown: Sequence[bool], hidden: Sequence[bool]
) -> list[float]:
    """Each hidden group total's lower bound from its top table's listed values."""
    lower = [0.0] * len(counts)
    for line in tops:
        if not hidden[line.total]:
            continue
        listed = [counts[i] for i in line.members if shown[i] and not hidden[i]]
        adds_up = sum(counts[i] for i in line.members) == counts[line.total]
        bound = sum(listed) if adds_up else max(listed, default=0)
        lower[line.total] = max(lower[line.total], float(bound))
    return lower


def abs_sizes(values: Sequence[float]) -> Callable[[int], float]:
    return lambda i: abs(float(values[i]))


def widen(
    failing: Sequence[int],
    *,
    lines: Sequence[Line],
    known: Sequence[bool],
    size: Callable[[int], float],
) -> set[int]:
    """One released cell to hide per failing cell: the smallest released entry of a line
    through it, or else of a line through the hidden cells linked to it (nearest first)."""
    through: dict[int, list[int]] = {}
    for number, line in enumerate(lines):
        for i in (*line.members, line.total):
            through.setdefault(i, []).append(number)
    picked: set[int] = set()
    for cell in failing:
        seen, frontier = {cell}, [cell]
        while frontier:
            entries = {
                i
                for c in frontier
                for n in through.get(c, [])
                for i in (*lines[n].members, lines[n].total)
            }
            released = [i for i in entries if known[i] and size(i) > 0]
            if released:
                picked.add(min(released, key=lambda i: (size(i), i)))
                break
            frontier = [i for i in entries if i not in seen]
            seen.update(frontier)
        else:  # nothing released is linked to it (a solver out of time): widen elsewhere
            anywhere = [i for i, k in enumerate(known) if k and size(i) > 0]
            if not anywhere:
                raise DealvaultError("internal error: the audit cannot widen", code="bug")
            picked.add(min(anywhere, key=lambda i: (size(i), i)))
    return picked
