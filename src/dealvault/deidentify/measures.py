"""Aggregate measures: what each is (count, sum, mean, distribution, top-N) and its CLI syntax."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from dealvault.errors import Invalid

MeasureKind = Literal["count", "sum", "mean", "distribution", "top"]
_KINDS: tuple[str, ...] = get_args(MeasureKind)
_HINT = "use count, sum:COLUMN, mean:COLUMN, dist:COLUMN[:WIDTH or :E1,E2,...] or top:COLUMN[:N]"


def fmt_number(number: float) -> str:
    value = float(number)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.10g}"


@dataclass(frozen=True)
class Measure:
    """One statistic. ``distribution`` of a numeric column takes ``bins`` (edges) or ``width``;
    without either it counts each value of the column as a category."""

    kind: MeasureKind
    column: str | None = None
    bins: Sequence[float] | None = None
    width: float | None = None
    n: int = 10

    def __post_init__(self) -> None:
        edges = tuple(float(edge) for edge in self.bins) if self.bins is not None else None
        width = self.width
        for wrong, message in (
            (self.kind not in _KINDS, f"unknown measure kind {self.kind!r}; {_HINT}"),
            (self.kind != "count" and not self.column, f"measure {self.kind} needs a column"),
            (self.kind == "count" and self.column is not None, "count takes no column"),
            (self.kind != "distribution" and (edges or width), "bins are for distributions only"),
            (edges is not None and width is not None, "give bin edges or a width, not both"),
            (width is not None and not (math.isfinite(width) and width > 0), "bad bin width"),
            (edges is not None and not (edges and all(map(math.isfinite, edges))), "bad edges"),
            (any(b <= a for a, b in itertools.pairwise(edges or ())), "edges must increase"),
            (self.kind == "top" and (isinstance(self.n, bool) or self.n < 1), "N must be > 0"),
        ):
            if wrong:
                raise Invalid(message)
        object.__setattr__(self, "bins", edges)

    @property
    def label(self) -> str:
        """The measure in CLI syntax (``dist:age:10``, ``top:favourite_product:5``)."""
        if self.kind == "count":
            return "count"
        if self.kind == "top":
            return f"top:{self.column}:{self.n}"
        if self.kind == "distribution":
            if self.width is not None:
                return f"dist:{self.column}:{fmt_number(self.width)}"
            if self.bins is not None:
                return f"dist:{self.column}:{','.join(fmt_number(e) for e in self.bins)}"
            return f"dist:{self.column}"
        return f"{self.kind}:{self.column}"

    @property
    def output(self) -> str:
        """Column name in the main table (count, sum_COLUMN, mean_COLUMN) or the dimension."""
        if self.kind == "count":
            return "count"
        if self.kind in ("sum", "mean"):
            return f"{self.kind}_{self.column}"
        return str(self.column)


def parse_measure(text: str) -> Measure:
    """A measure from CLI syntax: ``count``, ``sum:amount``, ``mean:amount``, ``dist:age:10``,
    ``dist:age:0,18,30,50,70``, ``dist:gender``, ``top:favourite_product:5``."""
    parts = [part.strip() for part in text.strip().split(":")]
    kind = {"dist": "distribution", "avg": "mean"}.get(parts[0].lower(), parts[0].lower())

    def bad(why: str) -> Invalid:
        return Invalid(f"bad measure {text!r}: {why}; {_HINT}")

    if kind not in _KINDS:
        raise bad("unknown kind")
    if kind == "count":
        if len(parts) != 1:
            raise bad("count takes no column")
        return Measure(kind="count")
    if len(parts) < 2 or not parts[1]:
        raise bad("a column is missing")
    if len(parts) > (2 if kind in ("sum", "mean") else 3):
        raise bad("too many ':' parts")
    arg = parts[2] if len(parts) == 3 else None
    try:
        if kind == "top":
            if arg is not None and not arg.isdigit():
                raise bad("N must be a positive whole number")
            return Measure(kind="top", column=parts[1], n=int(arg) if arg else 10)
        if kind == "distribution" and arg is not None:
            try:
                numbers = [float(x) for x in arg.split(",")]
            except ValueError:
                raise bad("bins must be one width or comma-separated edges") from None
            if len(numbers) == 1:
                return Measure(kind="distribution", column=parts[1], width=numbers[0])
            return Measure(kind="distribution", column=parts[1], bins=numbers)
        return Measure(kind=kind, column=parts[1])  # type: ignore[arg-type]
    except Invalid as error:
        if str(error).startswith("bad measure"):
            raise
        raise bad(str(error)) from None
