"""Feasibility intervals of suppressed cells given everything a table releases, found by
integer (or linear) programming as an attacker would, and the protection rule they must meet.

The attacker's model of a released table of cells with margins:

- every released cell's value is known; every hidden cell (suppressed, or not printed at all)
  is an unknown, at least 0, or at least 1 when the cell is printed as suppressed (empty cells
  are not printed, so a printed one holds somebody), whole numbers for counts;
- along every line (the cells that differ in one dimension, and their total) the members add
  up to the total when they do (customer-level grouping: each customer in one cell); when a
  customer can fall in several cells, the line still says that each member is at most the
  total and the total at most the members' sum.

For each hidden cell the lowest and highest value consistent with all of that is its
feasibility interval. The unknowns split into independent components (unknowns linked by a
line); each component is a small problem solved twice per cell with HiGHS (``highspy``):
as a linear program first, and as an integer program when the linear optimum is not at a
whole-number point. A bound not found in time is taken as the cell's own value (a zero-width
interval): the check errs on the safe side.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import connected_components

from dealvault.deidentify.suppression import Line
from dealvault.errors import Invalid

#: what "no upper bound" is in the programs (a count or an amount never gets near it)
BIG = 1e12
#: seconds HiGHS may spend on one bound before its best feasible point is taken
TIME_LIMIT = 2.0
#: seconds the whole audit of one table may take before the table is refused
AUDIT_SECONDS = 30.0


class AuditTooLarge(Invalid):
    """The audit did not finish in time: the table is refused, not released unchecked."""


@dataclass(frozen=True)
class Interval:
    """The range of values a hidden cell can take given the release (``hi`` may be inf)."""

    lo: float
    hi: float

    @property
    def width(self) -> float:
        return self.hi - self.lo


@dataclass(frozen=True)
class Problem:
    """A released table as the attacker sees it: ``values`` are the cells' true values (used
    for the known cells and to tell which lines add up), ``known`` which cells are released,
    ``lower`` each cell's lower bound when hidden, ``lines`` the table's lines."""

    lines: Sequence[Line]
    values: Sequence[float]
    known: Sequence[bool]
    lower: Sequence[float]
    integer: bool
    #: relative slack on equalities (sums of amounts are floats)
    tolerance: float = 0.0


def _additive(problem: Problem) -> list[bool]:
    """Which lines' members add up to their total (customer-level grouping)."""
    v = problem.values
    return [
        math.isclose(sum(v[i] for i in line.members), v[line.total], rel_tol=1e-9, abs_tol=1e-6)
        for line in problem.lines
    ]


@dataclass
class _Rows:
    """Constraint rows over the unknowns, built one line at a time."""

    entries: list[tuple[int, int, float]]
    lb: list[float]
    ub: list[float]

    def add(self, coefficients: dict[int, float], low: float, high: float) -> None:
        row = len(self.lb)
        self.entries.extend((row, var, c) for var, c in coefficients.items() if c)
        self.lb.append(low)
        self.ub.append(high)


def _constraints(
    problem: Problem, var: dict[int, int], var_lb: list[float], var_ub: list[float]
) -> _Rows:
    """Rows for every line holding an unknown; bounds of single unknowns tightened in place."""
    rows = _Rows([], [], [])
    v = problem.values
    for line, adds_up in zip(problem.lines, _additive(problem), strict=True):
        entries = (*line.members, line.total)
        if all(i not in var for i in entries):
            continue
        total_var = var.get(line.total)
        if adds_up:  # members - total = 0, known values moved to the right-hand side
            coefficients: dict[int, float] = {}
            rhs = 0.0
            for i in line.members:
                if i in var:
                    coefficients[var[i]] = coefficients.get(var[i], 0.0) + 1.0
                else:
                    rhs -= v[i]
            if total_var is not None:
                coefficients[total_var] = coefficients.get(total_var, 0.0) - 1.0
            else:
                rhs += v[line.total]
            slack = problem.tolerance * max(1.0, abs(rhs))
            rows.add(coefficients, rhs - slack, rhs + slack)
            continue
        # a customer may sit in several members: member <= total <= sum of members
        known_sum = sum(v[i] for i in line.members if i not in var)
        for i in line.members:
            if i in var and total_var is None:
                var_ub[var[i]] = min(var_ub[var[i]], v[line.total])
            elif i in var and total_var is not None:
                rows.add({var[i]: 1.0, total_var: -1.0}, -math.inf, 0.0)
            elif total_var is not None:
                var_lb[total_var] = max(var_lb[total_var], v[i])
        over: dict[int, float] = {var[i]: -1.0 for i in line.members if i in var}
        if total_var is not None:
            over[total_var] = over.get(total_var, 0.0) + 1.0
            rows.add(over, -math.inf, known_sum)
        else:
            rows.add(over, -math.inf, known_sum - v[line.total])
    return rows


def intervals(
    problem: Problem,
    *,
    targets: Sequence[int],
    enough: Callable[[int, Interval], bool] | None = None,
    deadline: float | None = None,
) -> dict[int, Interval]:
    """The feasibility interval of each cell in ``targets`` (hidden cells) given the release.

    With whole numbers, an end whose linear optimum is at a fractional point is found again by
    integer programming (slower): only for cells whose linear interval is ``enough`` (when
    given), since the integer interval lies inside the linear one: a cell whose linear
    interval already fails the caller's rule keeps it."""
    hidden = [i for i, k in enumerate(problem.known) if not k]
    var = {cell: n for n, cell in enumerate(hidden)}
    if any(t not in var for t in targets):
        raise ValueError("a target cell is released, not hidden")
    if not targets:
        return {}
    var_lb = [float(problem.lower[i]) for i in hidden]
    var_ub = [BIG] * len(hidden)
    rows = _constraints(problem, var, var_lb, var_ub)
    n = len(hidden)
    if rows.entries:
        r, c, d = zip(*rows.entries, strict=True)
        matrix = csr_array(coo_array((d, (r, c)), shape=(len(rows.lb), n)))
    else:
        matrix = csr_array((0, n))
    # unknowns linked through a row belong to one component
    incidence = csr_array((np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape)
    _, label = connected_components((incidence.T @ incidence).tocsr(), directed=False)
    row_label = _row_components(matrix, label)
    wanted: dict[int, list[int]] = {}
    for t in targets:
        wanted.setdefault(int(label[var[t]]), []).append(t)
    out: dict[int, Interval] = {}
    lb, ub = np.array(rows.lb), np.array(rows.ub)
    low_bounds, high_bounds = np.array(var_lb), np.array(var_ub)
    for component, cells in wanted.items():
        columns = np.flatnonzero(label == component)
        picked = np.flatnonzero(row_label == component)
        solver = _Component(
            matrix=matrix[picked][:, columns] if picked.size else csr_array((0, columns.size)),
            row_lb=lb[picked],
            row_ub=ub[picked],
            col_lb=low_bounds[columns],
            col_ub=high_bounds[columns],
            integer=problem.integer,
        )
        position = {int(col): p for p, col in enumerate(columns)}
        for cell in cells:
            if deadline is not None and time.monotonic() > deadline:
                raise AuditTooLarge(
                    "the suppression audit of this table did not finish in time "
                    f"({len(targets)} hidden cells to check, {columns.size} linked together): "
                    "group by fewer or coarser columns, or ask for a larger k_min"
                )
            out[cell] = _interval(
                solver,
                position[var[cell]],
                true=float(problem.values[cell]),
                floor=var_lb[var[cell]],
                enough=None if enough is None else functools.partial(enough, cell),
            )
    return out


def _interval(
    solver: _Component,
    p: int,
    *,
    true: float,
    floor: float,
    enough: Callable[[Interval], bool] | None,
) -> Interval:
    """One cell's interval, with as few programs as the caller's rule (``enough``) allows.

    The high end comes first. The low end is at most the cell's own value, so [value, high]
    lies inside the interval: when that is already enough, the low end is not computed (the
    interval returned is then that inner one, which errs on the safe side). A cell at its
    lowest possible value (0 for counts) has that as its low end."""

    def top(value: float) -> float:
        return math.inf if value >= BIG / 2 else value

    high, high_exact = solver.bound(p, maximise=True, fallback=true)
    if enough is not None and true > floor:
        inner = Interval(lo=true, hi=top(high))
        if enough(inner) and not high_exact:
            inner = Interval(lo=true, hi=top(solver.whole(p, maximise=True, fallback=true)))
            high, high_exact = inner.hi, True
        if enough(inner):
            return inner
    if true <= floor:
        low, low_exact = floor, True
    else:
        low, low_exact = solver.bound(p, maximise=False, fallback=true)
    found = Interval(lo=low, hi=top(high))
    if not (low_exact and high_exact) and (enough is None or enough(found)):
        high = high if high_exact else solver.whole(p, maximise=True, fallback=true)
        low = low if low_exact else solver.whole(p, maximise=False, fallback=true)
        found = Interval(lo=low, hi=top(high))
    return found


def _row_components(matrix: csr_array, label: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
    """The component of each constraint row (the component of its first unknown)."""
    if matrix.nnz == 0:
        return np.full(matrix.shape[0], -1, dtype=np.int64)
    first = matrix.indices[matrix.indptr[:-1].clip(max=matrix.nnz - 1)]
    result: npt.NDArray[np.int64] = np.where(np.diff(matrix.indptr) > 0, label[first], -1)
    return result.astype(np.int64)


_BANNER = threading.Lock()
_quiet = False


def _highs() -> highspy.Highs:
    """A silent HiGHS instance. The first one in a process prints HiGHS's banner from C++ to
    the standard output (before any option can be set), which would corrupt ``--json``
    output: that one is created with file descriptor 1 pointed at /dev/null."""
    global _quiet
    with _BANNER:
        if not _quiet:
            sys.stdout.flush()
            saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 1)
                highspy.Highs()  # type: ignore[no-untyped-call]
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(null)
            _quiet = True
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    return h


class _Component:
    """One component's program, kept loaded in HiGHS: each bound changes the objective only,
    so the simplex starts from the previous basis (about 0.5 ms a bound instead of 5), and the
    integer program is loaded once, when first needed."""

    def __init__(
        self,
        *,
        matrix: csr_array,
        row_lb: npt.NDArray[np.float64],
        row_ub: npt.NDArray[np.float64],
        col_lb: npt.NDArray[np.float64],
        col_ub: npt.NDArray[np.float64],
        integer: bool,
    ) -> None:
        self.size = int(col_lb.size)
        self.integer = integer
        self.columns = np.arange(self.size, dtype=np.int32)
        self.parts = (matrix, row_lb, row_ub, col_lb, col_ub)
        self.lp = self._load(mip=False)
        self.mip: highspy.Highs | None = None
        self.cost = self.mip_cost = -1

    def _load(self, *, mip: bool) -> highspy.Highs:
        matrix, row_lb, row_ub, col_lb, col_ub = self.parts
        h = _highs()
        h.addVars(self.size, col_lb, col_ub)
        if matrix.shape[0]:
            m = csr_array(matrix)
            h.addRows(
                m.shape[0],
                np.where(np.isinf(row_lb), -highspy.kHighsInf, row_lb),
                np.where(np.isinf(row_ub), highspy.kHighsInf, row_ub),
                m.nnz,
                m.indptr[:-1].astype(np.int32),
                m.indices.astype(np.int32),
                m.data.astype(np.float64),
            )
        if mip:
            kinds = np.array([highspy.HighsVarType.kInteger] * self.size)
            h.changeColsIntegrality(self.size, self.columns, kinds)
        return h

    def _objective(self, h: highspy.Highs, position: int) -> None:
        cost = np.zeros(self.size)
        cost[position] = 1.0
        h.changeColsCost(self.size, self.columns, cost)

    def bound(self, position: int, *, maximise: bool, fallback: float) -> tuple[float, bool]:
        """max (or min) of unknown ``position`` over the linear program, and whether it is
        also the integer program's (always without whole numbers; with them, when a
        whole-number point attains it). ``fallback`` (the cell's own value: a zero-width
        interval, the safe side) when no optimum was found in time."""
        if self.cost != position:
            self._objective(self.lp, position)
            self.cost = position
        value = self._run(self.lp, maximise)
        if value is None:
            return fallback, True
        if not self.integer:
            return value, True
        point = np.asarray(self.lp.getSolution().col_value)
        return value, bool(np.all(np.abs(point - np.round(point)) <= 1e-6))

    def whole(self, position: int, *, maximise: bool, fallback: float) -> float:
        """max (or min) of unknown ``position`` over whole numbers (branch and bound)."""
        if self.mip is None:
            self.mip = self._load(mip=True)
            self.mip_cost = -1
        if self.mip_cost != position:
            self._objective(self.mip, position)
            self.mip_cost = position
        found = self._run(self.mip, maximise)
        return fallback if found is None else found

    @staticmethod
    def _run(h: highspy.Highs, maximise: bool) -> float | None:
        sense = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
        h.changeObjectiveSense(sense)
        # HiGHS's time limit counts the instance's whole run time, over every run so far
        h.setOptionValue("time_limit", h.getRunTime() + TIME_LIMIT)
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        if status == highspy.HighsModelStatus.kOptimal:
            return float(info.objective_function_value)
        if (
            status == highspy.HighsModelStatus.kTimeLimit
            and info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        ):
            # out of time with a feasible point: its value is inside the true interval
            return float(info.objective_function_value)
        if status == highspy.HighsModelStatus.kInfeasible:
            raise RuntimeError("feasibility problem: the release contradicts itself")
        return None


def count_rule_failures(found: dict[int, Interval], *, k_min: int) -> list[int]:
    """Cells whose interval breaks the protection rule for counts: at least ``k_min`` wide,
    and its upper end at least ``k_min`` (the release cannot prove the cell below k_min)."""
    return sorted(cell for cell, iv in found.items() if iv.width < k_min or iv.hi < k_min)
