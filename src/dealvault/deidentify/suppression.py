"""Tables of cells with (all) margins, and their small-cell (primary, complementary) suppression."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from dealvault.errors import DealvaultError, Invalid

ALL = "(all)"
"""Label of a marginal coordinate: the cell sums over every value of that dimension."""
MISSING = "(missing)"
"""Label of an empty (null) group value."""

PRIMARY = "primary"
COMPLEMENTARY = "complementary"

# Cell states of the fix-point. RELEASED and UNLISTED cells are known to the (assumed) attacker;
# UNLISTED ones (e.g. a top-N value not in the top N) are not printed, so hiding them is free.
_RELEASED = 0
_UNLISTED = 1
_PRIMARY = 2
_COMPLEMENTARY = 3


@dataclass(frozen=True)
class Line:
    """Cells that differ only in dimension ``dim`` plus their total (``(all)`` at ``dim``).

    When the cells are counts of customers who each fall in exactly one cell, the members sum
    to the total, so one hidden entry in a line can be recovered by subtraction.
    """

    dim: int
    total: int
    members: tuple[int, ...]


@dataclass(frozen=True)
class Suppression:
    """Outcome of :func:`suppress`: one reason per cell (None = released) and a summary."""

    reasons: tuple[str | None, ...]
    primary: int
    complementary: int
    lines: int
    non_additive_lines: int
    steps: int

    @property
    def suppressed(self) -> tuple[bool, ...]:
        return tuple(reason is not None for reason in self.reasons)


Keys = pl.DataFrame | Sequence[tuple[str, ...]]
"""Cell coordinates: a table of dimension columns (one row per cell) or one tuple per cell."""


def _key_frame(keys: Keys) -> pl.DataFrame:
    if isinstance(keys, pl.DataFrame):
        return keys.rename({c: f"k{i}" for i, c in enumerate(keys.columns)})
    width = len(keys[0]) if keys else 0
    return pl.DataFrame(
        [list(k) for k in keys], schema=[f"k{i}" for i in range(width)], orient="row"
    )


def build_lines(*, keys: Keys) -> list[Line]:
    """Every line of a table whose cells are identified by ``keys`` (``ALL`` marks a margin).

    A line exists only when its total cell is present: without a released total nothing can
    be recovered by subtraction. Found with one Polars join per dimension (the cell table can
    be large for a top-N over a column with many values).
    """
    frame = _key_frame(keys).with_row_index("__i")
    dims = frame.columns[1:]
    if frame.select(dims).is_duplicated().any():
        raise Invalid("aggregate table has two cells with the same coordinates")
    lines: list[Line] = []
    for dim, column in enumerate(dims):
        others = [c for c in dims if c != column]
        members = frame.filter(pl.col(column) != ALL).select(*others, "__i")
        totals = frame.filter(pl.col(column) == ALL).select(*others, pl.col("__i").alias("__t"))
        pairs = members.join(totals, on=others) if others else members.join(totals, how="cross")
        grouped = pairs.group_by("__t").agg(pl.col("__i").sort()).sort("__t")
        for total, cells in grouped.iter_rows():
            lines.append(Line(dim=dim, total=total, members=tuple(cells)))
    return lines


def suppress(
    *,
    keys: Keys,
    counts: Sequence[int],
    k_min: int,
    listed: Sequence[bool] | None = None,
    remainder_dims: Collection[int] = (),
    prefer_closing: bool = True,
    forced: Collection[int] = (),
) -> Suppression:
    """Primary and complementary suppression of the cells ``keys`` with customer ``counts``.

    - Primary: a cell with count < k_min (margins included, and empty cells: see
      ``grid.py``) is suppressed.
    - Complementary: a line with exactly one suppressed entry gets one more: the unsuppressed
      member with the smallest count (unlisted cells first, as hiding them costs nothing; ties:
      first in the given order), or the line's total when no member is left. Repeated until no
      line changes (a fix-point). With ``prefer_closing`` (default) a member that also fixes
      another exposed line comes before a smaller one: greedy picks then close rectangles
      instead of wandering (20 instead of 1,377 extra cells on a 20k-cell 3-D table).
    - Remainder (only for lines along ``remainder_dims``, used by top-N): when the total is
      released, the members that are not listed sum to the printed "(other)" count; if that
      sum is in (0, k_min) the smallest listed member is hidden too (it joins "(other)").
    - Forced: the cells in ``forced`` are hidden from the start (complementary), e.g. those the
      interval audit (``deidentify/protection.py``) adds; the line rule then runs as above.

    ``keys`` must be in the table's sort order: ties are broken by position. The counts are
    counts of DISTINCT customers; they add up along a line only when every customer falls in
    one cell (customer-level group columns). For order-level rows a customer may sit in several
    cells, lines are then not exact sums (a lone hidden entry is only bounded, not recovered),
    and the rule is applied anyway; ``non_additive_lines`` says how many lines do not add up.
    The outcome is checked before it is returned: no released cell under k_min, no line with
    exactly one hidden entry.
    """
    if k_min < 1:
        raise Invalid("k_min must be at least 1")
    size = len(counts)
    lines = build_lines(keys=keys) if size > 1 else []
    width = keys.width if isinstance(keys, pl.DataFrame) else len(keys[0]) if size else 0
    if (width and len(keys) != size) or (listed is not None and len(listed) != size):
        raise Invalid("keys, counts and listed must have the same length")
    state = [
        _PRIMARY if count < k_min else (_RELEASED if listed is None or listed[i] else _UNLISTED)
        for i, count in enumerate(counts)
    ]
    for i in forced:
        if state[i] < _PRIMARY:
            state[i] = _COMPLEMENTARY
    member_of: list[list[int]] = [[] for _ in range(size)]
    total_of: list[list[int]] = [[] for _ in range(size)]
    hidden = [0] * len(lines)  # suppressed entries of each line, total included
    unlisted_sum = [0] * len(lines)  # what "(other)" would print: members not RELEASED
    non_additive = 0
    for number, line in enumerate(lines):
        total_of[line.total].append(number)
        hidden[number] += state[line.total] >= _PRIMARY
        member_sum = 0
        for i in line.members:
            member_of[i].append(number)
            hidden[number] += state[i] >= _PRIMARY
            unlisted_sum[number] += counts[i] if state[i] != _RELEASED else 0
            member_sum += counts[i]
        non_additive += member_sum != counts[line.total]
    remainder = set(remainder_dims)

    def hide(cell: int) -> None:
        was = state[cell]
        state[cell] = _COMPLEMENTARY
        for number in member_of[cell]:
            hidden[number] += 1
            unlisted_sum[number] += counts[cell] if was == _RELEASED else 0
        for number in total_of[cell]:
            hidden[number] += 1

    def closes(cell: int) -> int:
        """How many exposed lines (one suppressed entry) hiding ``cell`` would fix."""
        if not prefer_closing:
            return 0
        return sum(hidden[n] == 1 for n in (*member_of[cell], *total_of[cell]))

    # The fix-point loops in Python over the table of cells (not the records): a released table
    # has at most tens of thousands of cells, and each step hides one more cell, so it ends.
    queue = deque(range(len(lines)))
    queued = [True] * len(lines)
    steps = 0
    while queue:
        number = queue.popleft()
        queued[number] = False
        line = lines[number]
        total_hidden = state[line.total] >= _PRIMARY
        pick: int | None = None
        if hidden[number] == 1:
            pick = _smallest(line.members, state, counts, listed_only=False, closes=closes)
            if pick is None and not total_hidden:
                pick = line.total
        elif line.dim in remainder and not total_hidden and 0 < unlisted_sum[number] < k_min:
            pick = _smallest(line.members, state, counts, listed_only=True, closes=closes)
            if pick is None:
                pick = line.total
        if pick is None:
            continue
        steps += 1
        hide(pick)
        for again in (*member_of[pick], *total_of[pick]):
            if not queued[again]:
                queued[again] = True
                queue.append(again)
    if any(counts[i] < k_min for i in range(size) if state[i] < _PRIMARY) or any(
        sum(state[i] >= _PRIMARY for i in (*line.members, line.total)) == 1 for line in lines
    ):
        raise DealvaultError("internal error: suppression left a recoverable cell", code="bug")
    reasons = tuple(
        PRIMARY if s == _PRIMARY else COMPLEMENTARY if s == _COMPLEMENTARY else None for s in state
    )
    return Suppression(
        reasons=reasons,
        primary=sum(s == _PRIMARY for s in state),
        complementary=sum(s == _COMPLEMENTARY for s in state),
        lines=len(lines),
        non_additive_lines=non_additive,
        steps=steps,
    )


def _smallest(
    members: Sequence[int],
    state: Sequence[int],
    counts: Sequence[int],
    *,
    listed_only: bool,
    closes: Callable[[int], int],
) -> int | None:
    best: int | None = None
    best_key: tuple[bool, int, int, int] | None = None
    for i in members:
        if state[i] >= _PRIMARY or counts[i] <= 0 or (listed_only and state[i] != _RELEASED):
            continue
        key = (state[i] == _RELEASED, -closes(i), counts[i], i)
        if best_key is None or key < best_key:
            best, best_key = i, key
    return best


def exposed_lines(*, keys: Keys, suppressed: Sequence[bool]) -> list[tuple[int, int]]:
    """Lines with exactly one suppressed entry, as (dimension, row of the total); [] when safe.

    An independent check for the tests: it recounts from the final flags.
    """
    return [
        (line.dim, line.total)
        for line in build_lines(keys=keys)
        if sum(suppressed[i] for i in line.members) + suppressed[line.total] == 1
    ]


def suppress_table(
    table: pl.DataFrame,
    *,
    dims: Sequence[str],
    k_min: int,
    count: str = "customers",
    listed: str | None = None,
    remainder_dims: Sequence[str] = (),
) -> tuple[pl.DataFrame, Suppression]:
    """:func:`suppress` on a Polars table of cells (one row per cell, ``ALL`` in margins).

    Returns the table with a ``suppressed`` boolean (the values themselves are left to the
    caller) and the outcome, whose ``reasons`` say which cells were too small and which hide
    another: for the seller's own record, never for a release.
    Rows must already be in the release sort order (ties are broken by row position).
    """
    for name in (*dims, count, *([listed] if listed else []), *remainder_dims):
        if name not in table.columns:
            raise Invalid(f"aggregate table has no column {name!r}")
    outcome = suppress(
        keys=table.select(dims),
        counts=[int(c or 0) for c in table.get_column(count).to_list()],
        k_min=k_min,
        listed=table.get_column(listed).to_list() if listed else None,
        remainder_dims=[list(dims).index(d) for d in remainder_dims],
    )
    return (
        table.with_columns(
            pl.Series("suppressed", outcome.suppressed, dtype=pl.Boolean),
        ),
        outcome,
    )


def margin_sets(keys: Sequence[str], *, totals: bool) -> list[tuple[str, ...]]:
    """The cuboids of a cube: every subset of ``keys`` (finest first), or only all of them."""
    if not totals:
        return [tuple(keys)]
    return [c for r in range(len(keys), -1, -1) for c in itertools.combinations(keys, r)]


def cube(
    lf: pl.LazyFrame,
    *,
    present: Sequence[tuple[str, ...]],
    keys: Sequence[str],
    aggs: list[pl.Expr],
) -> pl.LazyFrame:
    """One Polars group-by per cuboid in ``present``; absent ``keys`` get the ``(all)`` label."""
    parts = [
        (lf.group_by(list(group)).agg(aggs) if group else lf.select(aggs)).with_columns(
            [pl.lit(ALL).alias(k) for k in keys if k not in group]
        )
        for group in present
    ]
    return pl.concat(parts, how="diagonal_relaxed")


def release_order(labels: Sequence[str], *, bins: Mapping[str, float] | None = None) -> list[str]:
    """A dimension's labels in release order: values (bins by lower edge), (missing), (all)."""
    known = bins or {}
    return sorted(labels, key=lambda s: (s == ALL, s == MISSING, known.get(s, 0.0), s))


def order_rank(key: str, *, order: Sequence[str]) -> pl.Expr:
    """The position of each label of column ``key`` in ``order`` (for sorting)."""
    return pl.col(key).replace_strict(list(order), list(range(len(order))), return_dtype=pl.UInt32)
