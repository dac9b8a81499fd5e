"""Generalisation hierarchies: one row per leaf value, one column per level (ARX's CSV layout)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from dealvault.errors import Invalid


@dataclass(frozen=True)
class Hierarchy:
    """A tree of generalisations. ``table`` column 0 holds the leaf values, the last column the
    root (often ``*``); every column is Utf8 and every leaf appears once.

    Leaves are kept in depth-first order (sorted from the root level down to the leaf), so the
    leaves under any node form one contiguous run: a contiguous range of leaves generalises to
    the lowest level at which its first and last leaf agree.
    """

    name: str
    table: pl.DataFrame

    @classmethod
    def build(cls, *, name: str, table: pl.DataFrame) -> Hierarchy:
        """Validate ``table`` (leaf first, root last) and sort its leaves depth-first."""
        if table.width < 2:
            raise Invalid(f"hierarchy {name!r} needs at least two levels (a leaf and a parent)")
        table = table.select(pl.all().cast(pl.Utf8))
        if table.get_column(table.columns[0]).null_count():
            raise Invalid(f"hierarchy {name!r} has an empty leaf value")
        dupes = ~table.get_column(table.columns[0]).is_first_distinct()
        if dupes.any():
            row = int(dupes.arg_true()[0]) + 1
            raise Invalid(f"hierarchy {name!r}: row {row} repeats a leaf value of an earlier row")
        _check_tree(name, table)
        # Depth-first, siblings in the order they first appear in the file (so ages stay in
        # numeric order and codes in code order), root level first: each node's key is the
        # first file row under it. The row number is a column of its own before the window,
        # since a position counted inside ``over`` restarts at 0 in every group.
        keys = [pl.col("__row").min().over(c).alias(f"__k{i}") for i, c in enumerate(table.columns)]
        ordered = (
            table.with_row_index("__row")
            .with_columns(keys)
            .sort([f"__k{i}" for i in reversed(range(table.width))])
            .select(table.columns)
        )
        return cls(name=name, table=ordered)

    @classmethod
    def from_csv(cls, path: Path, *, name: str | None = None) -> Hierarchy:
        """Read an ARX-style hierarchy file: ``;`` or ``,`` separated, no header, leaf first."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise Invalid(f"{path}: cannot read hierarchy file ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise Invalid(f"{path}: hierarchy file is not UTF-8 text") from None
        numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not numbered:
            raise Invalid(f"{path}: hierarchy file is empty")
        first = numbered[0][1]
        delimiter = ";" if first.count(";") >= first.count(",") else ","
        rows = list(csv.reader([line for _, line in numbered], delimiter=delimiter))
        width = len(rows[0])
        for (number, _), row in zip(numbered, rows, strict=True):
            if len(row) != width:
                raise Invalid(
                    f"{path}: row {number} has {len(row)} levels, the first row has {width}"
                )
        columns = {f"level{i}": [row[i].strip() for row in rows] for i in range(width)}
        return cls.build(name=name or path.stem, table=pl.DataFrame(columns))

    @property
    def depth(self) -> int:
        """Number of levels including the leaves."""
        return self.table.width

    @property
    def leaves(self) -> pl.Series:
        """Leaf values in depth-first order."""
        return self.table.get_column(self.table.columns[0])

    def level(self, level: int) -> pl.Series:
        """The value at ``level`` of every leaf, in depth-first order."""
        if not 0 <= level < self.depth:
            raise Invalid(f"hierarchy {self.name!r} has levels 0..{self.depth - 1}, not {level}")
        return self.table.get_column(self.table.columns[level])

    def _lookup(self, values: pl.Series, *, column: str) -> pl.Series:
        """Depth-first code per value (null for null); a value absent from the tree fails."""
        lookup = pl.DataFrame(
            {"__v": self.leaves, "__c": np.arange(len(self.leaves), dtype=np.int64)}
        )
        probe = pl.DataFrame({"__v": values.cast(pl.Utf8)})
        codes = probe.join(lookup, on="__v", how="left", maintain_order="left").get_column("__c")
        missing = codes.is_null() & probe.get_column("__v").is_not_null()
        if missing.any():
            row = int(missing.arg_true()[0]) + 1
            raise Invalid(
                f"column {column!r}, row {row}: value not in hierarchy {self.name!r}"
                " (values are not shown)"
            )
        return codes

    def leaf_codes(self, values: pl.Series, *, column: str) -> npt.NDArray[np.int64]:
        """Depth-first position of each value; fails naming the first row that has none."""
        codes = self._lookup(values, column=column)
        if codes.null_count():
            row = int(codes.is_null().arg_true()[0]) + 1
            raise Invalid(
                f"column {column!r}, row {row}: empty value has no place in {self.name!r}"
            )
        return codes.to_numpy().astype(np.int64)

    def generalise(self, values: pl.Series, *, level: int, column: str) -> pl.Series:
        """Replace each value by its ancestor at ``level`` (0 keeps the leaf; nulls stay null)."""
        codes = self._lookup(values, column=column)
        return self.level(level).gather(codes).alias(values.name)

    def lowest_common(
        self, first: npt.NDArray[np.int64], last: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], pl.Series]:
        """For leaf ranges ``first..last`` (depth-first codes): the level of their lowest common
        ancestor and its label. Every range must be contiguous in depth-first order."""
        levels = np.full(len(first), self.depth - 1, dtype=np.int64)
        for lvl in range(self.depth - 2, -1, -1):
            col = self.level(lvl).to_numpy()
            agree = col[first] == col[last]
            # in a tree, agreement at one level implies agreement at every level above it
            levels = np.where(agree, lvl, levels)
        out = np.empty(len(first), dtype=object)
        for lvl in np.unique(levels):
            sel = levels == lvl
            out[sel] = self.level(int(lvl)).to_numpy()[first[sel]]
        # a file may have several roots (its last column is not one value): above them is "*"
        root = self.level(self.depth - 1).to_numpy()
        out[root[first] != root[last]] = "*"
        labels = pl.Series(out, dtype=pl.Utf8)
        return levels, labels

    def leaf_counts(self, level: int) -> pl.Series:
        """For every leaf: how many leaves share its ancestor at ``level`` (for NCP)."""
        col = self.level(level)
        return col.to_frame("a").select(pl.len().over("a")).to_series().cast(pl.Int64)


def _check_tree(name: str, table: pl.DataFrame) -> None:
    """Each value of a level must have one parent at the next level (otherwise not a tree)."""
    for lvl in range(1, table.width - 1):
        child, parent = table.columns[lvl], table.columns[lvl + 1]
        parents = table.group_by(child).agg(pl.col(parent).n_unique().alias("n"))
        bad = parents.filter(pl.col("n") > 1)
        if bad.height:
            raise Invalid(
                f"hierarchy {name!r}: a value at level {lvl} has {bad.get_column('n')[0]}"
                f" different parents at level {lvl + 1}; a hierarchy must be a tree"
            )
