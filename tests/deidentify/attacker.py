"""An attacker on a released aggregate table, written apart from the code it attacks: from the
released rows alone it sets up an integer (or linear) program per hidden cell and finds the
lowest and highest value the cell can take.

What it assumes, as the outside check did: every released number is exact; the members of a
line add up to its total (customer-level grouping); a printed suppressed cell holds at least
one customer (empty cells are not printed); combinations not printed are empty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy.optimize import Bounds, LinearConstraint, milp

ALL = "(all)"


def attack(
    table: pl.DataFrame,
    *,
    dims: Sequence[str],
    value: str = "customers",
    hidden: str = "suppressed",
    integer: bool = True,
    lowest: float | None = None,
) -> dict[tuple[str, ...], tuple[float, float]]:
    """The interval ``(lo, hi)`` of every hidden cell, keyed by its coordinates. ``lowest`` is
    a hidden cell's lower bound (default: 1 for counts, 0 for amounts)."""
    rows = table.select(*dims, value, hidden).rows()
    coords = [tuple(str(x) for x in r[: len(dims)]) for r in rows]
    values = {c: r[len(dims)] for c, r in zip(coords, rows, strict=True)}
    unknown = [c for c, r in zip(coords, rows, strict=True) if r[len(dims) + 1]]
    index = {c: i for i, c in enumerate(unknown)}
    equations: list[tuple[dict[int, float], float]] = []
    for d in range(len(dims)):
        lines: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for c in coords:
            if c[d] != ALL:
                lines.setdefault((*c[:d], ALL, *c[d + 1 :]), []).append(c)
        for total, members in lines.items():
            if total not in values:
                continue
            coefficients: dict[int, float] = {}
            rhs = 0.0
            for c, sign in [*((m, 1.0) for m in members), (total, -1.0)]:
                if c in index:
                    coefficients[index[c]] = coefficients.get(index[c], 0.0) + sign
                else:
                    rhs -= sign * float(values[c])
            if coefficients:
                equations.append((coefficients, rhs))
    n = len(unknown)
    if n == 0:
        return {}
    matrix = np.zeros((len(equations), n))
    rhs = np.zeros(len(equations))
    for row, (coefficients, right) in enumerate(equations):
        for i, c in coefficients.items():
            matrix[row, i] = c
        rhs[row] = right
    low = (1.0 if integer else 0.0) if lowest is None else lowest
    bounds = Bounds(np.full(n, low), np.full(n, 1e12))
    slack = 0.0 if integer else 1e-6 * np.maximum(1.0, np.abs(rhs))
    constraints = [LinearConstraint(matrix, rhs - slack, rhs + slack)] if equations else None
    found: dict[tuple[str, ...], tuple[float, float]] = {}
    for cell, i in index.items():
        ends = []
        for sign in (1.0, -1.0):
            objective = np.zeros(n)
            objective[i] = sign
            result = milp(
                objective,
                integrality=np.ones(n) if integer else None,
                bounds=bounds,
                constraints=constraints,
            )
            assert result.success, result.message
            ends.append(sign * float(result.fun))
        lo, hi = ends
        found[cell] = (lo, math.inf if hi >= 5e11 else hi)
    return found
