"""Mondrian multidimensional partitioning (strict), vectorised level by level over numpy arrays."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from dealvault.errors import Invalid

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: An entropy-l-diverse group needs entropy >= ln(l) + this margin (nats). A class whose
#: sensitive values are exactly uniform over exactly l values has entropy ln(l) in exact
#: arithmetic, but a checker computing exp(entropy) in floating point and flooring it (pycanon
#: does) may see l - 1; the margin keeps every released class clear of that rounding.
ENTROPY_MARGIN = 1e-9


@dataclass(frozen=True)
class Dimension:
    """One quasi-identifier as integer codes.

    ``codes`` holds one code per row in ``0..n_codes-1``; equal values share a code and the
    order of codes is the order of values. ``scale`` gives, per code, its position on ``[0, 1]``
    for widths (numeric and date: ``(value - min) / range``; categorical: ``code / (n_codes -
    1)``, i.e. the share of the code span). ``null_code`` is the code of null (always 0, sorted
    before every value) or -1 when the column has no nulls: a partition holding both null and
    non-null rows counts as width 2, above any other, so nulls are cut off first. ``order``
    (optional) holds the row numbers sorted stably by code, which saves the initial sort when
    the encoder already has it.
    """

    codes: Ints
    scale: Floats
    null_code: int = -1
    order: Ints | None = None

    @property
    def n_codes(self) -> int:
        return len(self.scale)


@dataclass(frozen=True)
class Diversity:
    """The l-diversity requirement on a sensitive attribute given as codes ``0..n_values-1``."""

    codes: Ints
    n_values: int
    l: int  # noqa: E741 - the letter of l-diversity
    kind: Literal["distinct", "entropy"] = "distinct"

    def satisfied(self, *, distinct: Ints, entropy: Floats) -> Bools:
        """Which groups (given their distinct counts and entropies) meet the requirement."""
        if self.kind == "distinct":
            return distinct >= self.l
        return entropy >= math.log(self.l) + ENTROPY_MARGIN


@dataclass(frozen=True)
class Partitions:
    """Result of :func:`mondrian`: disjoint boxes in code space covering the partitioned rows.

    ``labels`` gives each input row its partition number (-1 for rows not partitioned);
    ``lo`` and ``hi`` (partitions x dimensions) are the lowest and highest code per partition;
    ``sizes`` the rows per partition; ``counted`` the rows among them that count toward k
    (equal to ``sizes`` unless some rows were marked as not counting); ``levels`` how many
    split rounds ran.
    """

    labels: Ints
    lo: Ints
    hi: Ints
    sizes: Ints
    counted: Ints
    levels: int

    @property
    def count(self) -> int:
        return len(self.sizes)


def group_diversity(
    *, groups: Ints, values: Ints, n_groups: int, n_values: int
) -> tuple[Ints, Floats]:
    """Per group: the number of distinct ``values`` and their Shannon entropy (natural log).

    Counts with one ``bincount`` over a dense groups x values table when it is small, otherwise
    with a sort of the (group, value) keys.
    """
    sizes = np.bincount(groups, minlength=n_groups).astype(np.float64)
    if n_groups * n_values <= max(4 * len(groups), 1 << 20):
        counts = np.bincount(groups * n_values + values, minlength=n_groups * n_values)
        table = counts.reshape(n_groups, n_values)
        distinct = np.count_nonzero(table, axis=1).astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = table / sizes[:, None]
            terms = np.where(table > 0, share * np.log(np.where(table > 0, share, 1.0)), 0.0)
        entropy: Floats = -terms.sum(axis=1)
        return distinct, entropy
    keys, counts = np.unique(groups * n_values + values, return_counts=True)
    owner = keys // n_values
    distinct = np.bincount(owner, minlength=n_groups).astype(np.int64)
    share = counts / sizes[owner]
    weighted = np.bincount(owner, weights=share * np.log(share), minlength=n_groups)
    return distinct, -weighted.astype(np.float64)


def mondrian(
    *,
    dimensions: list[Dimension],
    k: int,
    rows: Bools | None = None,
    diversity: Diversity | None = None,
    counted: Bools | None = None,
) -> Partitions:
    """Partition the rows selected by ``rows`` (all when None) into boxes of at least ``k``.

    ``counted`` (all rows when None) marks the rows that count toward ``k`` and l-diversity:
    rows left out of it (canary records) are partitioned like any other but a box must hold
    ``k`` counted rows, and be l-diverse on them alone.

    Strict top-down Mondrian (LeFevre et al. 2006): a partition is cut on the dimension of
    largest normalised width that allows a cut, at the lower median: left = codes <= median,
    or, when that leaves a side under ``k``, left = codes < median (a partition mixing null
    and non-null rows in a dimension is first cut there into nulls and the rest). With
    ``diversity`` a cut must also leave both sides l-diverse. Every value goes entirely to one
    side, so sibling boxes never overlap. All partitions of a level are cut at once with array
    operations; partitions that cannot be cut are recorded and their rows dropped from the
    working arrays.
    """
    if not dimensions:
        raise Invalid("k-anonymity needs at least one quasi-identifier")
    n_rows = len(dimensions[0].codes)
    chosen = np.ones(n_rows, dtype=np.bool_) if rows is None else rows
    real = chosen if counted is None else chosen & counted
    total = int(real.sum())
    if total < k:
        raise Invalid(f"{total} rows to partition, fewer than k = {k}")
    if diversity is not None:
        everything = np.zeros(total, dtype=np.int64)
        distinct, entropy = group_diversity(
            groups=everything,
            values=diversity.codes[real],
            n_groups=1,
            n_values=diversity.n_values,
        )
        if not diversity.satisfied(distinct=distinct, entropy=entropy)[0]:
            raise Invalid(
                f"{diversity.kind} l-diversity with l = {diversity.l} cannot be met: the"
                " remaining rows as a whole are not that diverse in the sensitive attribute"
            )
    state = _State.begin(dimensions, chosen, k, diversity, counted)
    return state.run()


@dataclass
class _State:
    """Working arrays: per dimension the active rows sorted by (partition, code)."""

    dims: list[Dimension]
    k: int
    diversity: Diversity | None
    counted: Bools | None  # rows that count toward k (None: all)
    order: list[Ints]  # per dimension: row numbers
    sorted_codes: list[Ints]  # per dimension: codes[order]
    start: Ints  # per active partition: first position
    size: Ints  # per active partition: row count
    labels: Ints
    lows: list[Ints]
    highs: list[Ints]
    sizes: list[Ints]
    counts: list[Ints]
    done: int = 0
    before: list[Ints] | None = None  # per dimension: counted rows before each position

    @classmethod
    def begin(
        cls,
        dims: list[Dimension],
        chosen: Bools,
        k: int,
        diversity: Diversity | None,
        counted: Bools | None,
    ) -> _State:
        order = []
        for dim in dims:
            full = dim.order if dim.order is not None else np.argsort(dim.codes, kind="stable")
            order.append(full[chosen[full]].astype(np.int64))
        total = len(order[0])
        return cls(
            dims=dims,
            k=k,
            diversity=diversity,
            counted=counted,
            order=order,
            sorted_codes=[dim.codes[o] for dim, o in zip(dims, order, strict=True)],
            start=np.zeros(1, dtype=np.int64),
            size=np.full(1, total, dtype=np.int64),
            labels=np.full(len(chosen), -1, dtype=np.int64),
            lows=[],
            highs=[],
            sizes=[],
            counts=[],
        )

    def run(self) -> Partitions:
        levels = 0
        while len(self.start):
            levels += 1
            self._level()
        return Partitions(
            labels=self.labels,
            lo=np.concatenate(self.lows, axis=0),
            hi=np.concatenate(self.highs, axis=0),
            sizes=np.concatenate(self.sizes),
            counted=np.concatenate(self.counts),
            levels=levels,
        )

    def _real(self, d: int, positions: Ints) -> Ints:
        """Counted rows before each of ``positions`` in dimension ``d``'s order."""
        return positions if self.before is None else self.before[d][positions]

    def _level(self) -> None:
        start, size, n_dims = self.start, self.size, len(self.dims)
        if self.counted is not None:
            self.before = [
                np.concatenate([[0], np.cumsum(self.counted[o], dtype=np.int64)])
                for o in self.order
            ]
        real = self._real(0, start + size) - self._real(0, start)
        last = start + size - 1
        lo = np.stack([sc[start] for sc in self.sorted_codes], axis=1)
        hi = np.stack([sc[last] for sc in self.sorted_codes], axis=1)
        cut = np.zeros(len(start), dtype=np.int64)
        axis = np.full(len(start), -1, dtype=np.int64)
        min_size = 2 * max(self.k, self.diversity.l if self.diversity else 0)
        cand = np.flatnonzero(real >= min_size)
        if len(cand):
            widths = np.empty((len(cand), n_dims), dtype=np.float64)
            cuts = np.zeros((len(cand), n_dims), dtype=np.int64)
            segment = np.repeat(np.arange(len(start), dtype=np.int64), size)
            for d, dim in enumerate(self.dims):
                a, b = lo[cand, d], hi[cand, d]
                width = dim.scale[b] - dim.scale[a]
                if dim.null_code >= 0:
                    width = np.where((a == dim.null_code) & (b != dim.null_code), 2.0, width)
                widths[:, d] = width
                cuts[:, d] = self._cuts(d, cand, segment)
            valid = cuts > 0
            score = np.where(valid, widths, -1.0)
            best = np.argmax(score, axis=1)
            has = valid[np.arange(len(cand)), best]
            axis[cand[has]] = best[has]
            cut[cand[has]] = cuts[np.arange(len(cand)), best][has]
        self._record(axis < 0, lo, hi, real)
        self._split(axis, cut)

    def _cuts(self, d: int, cand: Ints, segment: Ints) -> Ints:
        """Size of the left side of the cut on dimension ``d`` per candidate (0: no cut).

        Cuts tried in turn: nulls alone (when the partition mixes null and non-null), then
        left = codes <= median, then left = codes < median; the first one leaving at least
        ``k`` rows (and l-diversity) on both sides wins.
        """
        dim, sc = self.dims[d], self.sorted_codes[d]
        s0, n0 = self.start[cand], self.size[cand]
        median = sc[s0 + (n0 - 1) // 2]
        keys = segment * dim.n_codes + sc  # sorted: partitions in order, codes within
        probe = cand * dim.n_codes + median
        tries = [
            np.searchsorted(keys, probe, side="right") - s0,
            np.searchsorted(keys, probe, side="left") - s0,
        ]
        if dim.null_code >= 0:
            nulls = np.searchsorted(keys, cand * dim.n_codes + dim.null_code, side="right") - s0
            tries.insert(0, np.where(nulls < n0, nulls, 0))
        out = np.zeros(len(cand), dtype=np.int64)
        first, whole = self._real(d, s0), self._real(d, s0 + n0)
        for left in tries:
            real_left = self._real(d, s0 + left) - first
            real_right = whole - first - real_left
            ok = (out == 0) & (real_left >= self.k) & (real_right >= self.k)
            if self.diversity is not None:
                ok = self._diverse(d, cand[ok], left[ok], ok)
            out[ok] = left[ok]
        return out

    def _diverse(self, d: int, parts: Ints, left: Ints, where: Bools) -> Bools:
        """For the candidates flagged in ``where`` (partitions ``parts`` cut after ``left``
        rows on dimension ``d``): are both sides l-diverse? Returns a mask like ``where``."""
        out = np.zeros(len(where), dtype=np.bool_)
        if not len(parts):
            return out
        assert self.diversity is not None
        s0, n0 = self.start[parts], self.size[parts]
        offsets = np.cumsum(n0) - n0
        local = np.arange(int(n0.sum()), dtype=np.int64) - np.repeat(offsets, n0)
        positions = np.repeat(s0, n0) + local
        child = 2 * np.repeat(np.arange(len(parts), dtype=np.int64), n0)
        child += local >= np.repeat(left, n0)
        rows = self.order[d][positions]
        values = self.diversity.codes[rows]
        if self.counted is not None:  # rows that do not count do not make a side diverse
            values, child = values[self.counted[rows]], child[self.counted[rows]]
        distinct, entropy = group_diversity(
            groups=child, values=values, n_groups=2 * len(parts), n_values=self.diversity.n_values
        )
        ok = self.diversity.satisfied(distinct=distinct, entropy=entropy).reshape(-1, 2).all(axis=1)
        out[where] = ok
        return out

    def _record(self, final: Bools, lo: Ints, hi: Ints, real: Ints) -> None:
        """Store the partitions that are not cut and label their rows."""
        count = int(final.sum())
        if not count:
            return
        members = np.repeat(final, self.size)
        ids = np.arange(self.done, self.done + count, dtype=np.int64)
        self.labels[self.order[0][members]] = np.repeat(ids, self.size[final])
        self.lows.append(lo[final])
        self.highs.append(hi[final])
        self.sizes.append(self.size[final])
        self.counts.append(real[final])
        self.done += count

    def _split(self, axis: Ints, cut: Ints) -> None:
        """Cut every partition with ``axis >= 0`` in two, dropping the others' rows.

        The cut partition's left side is a prefix of its segment in the order of the chosen
        dimension; the other dimensions' orders get a stable partition within each segment
        (lefts first), computed with a cumulative sum and one scatter — no sort.
        """
        going = axis >= 0
        if not going.any():
            self.start = self.start[:0]
            self.size = self.size[:0]
            return
        n_active = len(self.order[0])
        left_row = np.zeros(len(self.labels), dtype=np.bool_)
        for d in np.unique(axis[going]):
            mine = axis == d
            marks = np.zeros(n_active + 1, dtype=np.int8)
            marks[self.start[mine]] = 1
            marks[self.start[mine] + cut[mine]] -= 1
            inside = np.cumsum(marks[:-1], dtype=np.int8).view(np.bool_)
            left_row[self.order[d][inside]] = True
        keep = None if going.all() else np.repeat(going, self.size)
        size = self.size[going]
        nl = cut[going]
        start = np.cumsum(size) - size
        for d in range(len(self.dims)):
            order, sc = self.order[d], self.sorted_codes[d]
            if keep is not None:
                order, sc = order[keep], sc[keep]
            flag = left_row[order]
            before: Ints = np.cumsum(flag) - flag  # lefts before each position (exclusive)
            base: Ints = before[start]
            target = np.where(
                flag,
                np.repeat(start - base, size) + before,
                np.arange(len(order), dtype=np.int64) + np.repeat(nl + base, size) - before,
            )
            new_order = np.empty_like(order)
            new_order[target] = order
            new_sc = np.empty_like(sc)
            new_sc[target] = sc
            self.order[d], self.sorted_codes[d] = new_order, new_sc
        self.start = np.stack([start, start + nl], axis=1).reshape(-1)
        self.size = np.stack([nl, size - nl], axis=1).reshape(-1)
