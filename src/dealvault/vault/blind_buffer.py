"""An import's blind-index rows held back and written in large sorted runs.

Blind values are keyed hashes, so each batch's rows land all over the index's B-tree. Written
batch by batch, every batch touches most of the tree's leaf pages again. Held back until some
hundreds of thousands of rows have come and written as one sorted run, each leaf page is
touched once per run. While rows are held, :meth:`BlindBuffer.owners` answers look-ups for
them, so a duplicate customer later in the same import is still found. The import is one
transaction: what is held is written before it commits, or dropped with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from sqlalchemy.orm import Session

from dealvault.db.bulk import bulk_insert

#: columns of a held frame (those of ``blind_indexes``)
COLUMNS = ("dataset_id", "field", "value", "record_id")
SCHEMA = {"dataset_id": pl.Int64, "field": pl.Int64, "value": pl.Binary, "record_id": pl.Int64}
#: held rows written at once (about 200,000 customers; some tens of MiB held)
FLUSH_ROWS = 600_000
#: rows handed to the driver at once while a run is written
SLICE_ROWS = 50_000


class BlindBuffer:
    """Holds blind rows of customers from ``first_held`` on; writes them in sorted runs."""

    def __init__(self, session: Session, *, flush_rows: int | None = None) -> None:
        self.session = session
        self.flush_rows = FLUSH_ROWS if flush_rows is None else flush_rows
        self._frames: list[pl.DataFrame] = []
        self._held: pl.DataFrame | None = None
        self._rows = 0
        #: lowest record id whose rows may be held; None when nothing is held
        self.first_held: int | None = None
        self.runs = 0

    def holds(self, record_id: int) -> bool:
        """Whether this customer's blind rows go to the buffer (it was added since the last
        run was written)."""
        return self.first_held is not None and record_id >= self.first_held

    def add(self, frame: pl.DataFrame, *, first_record_id: int) -> None:
        """Hold rows ``dataset_id, field, value, record_id`` of customers from
        ``first_record_id`` on (ids only grow during an import)."""
        if frame.height == 0:
            return
        if self.first_held is None:
            self.first_held = first_record_id
        self._frames.append(frame.select(COLUMNS).cast(SCHEMA))  # type: ignore[arg-type]
        self._held = None
        self._rows += frame.height
        if self._rows >= self.flush_rows:
            self.flush()

    def add_rows(self, rows: Sequence[tuple[int, int, bytes, int]]) -> None:
        """Hold a few rows of customers already held (a merged duplicate's new values)."""
        if rows:
            frame = pl.DataFrame(rows, schema=SCHEMA, orient="row")
            self._frames.append(frame)
            self._held = None
            self._rows += frame.height

    def owners(self, *, field: int, values: Sequence[bytes]) -> dict[bytes, int]:
        """Held value -> the lowest record id holding it, for ``values`` of one field."""
        if not self._frames or not values:
            return {}
        if self._held is None:
            self._held = pl.concat(self._frames, rechunk=True)
            self._frames = [self._held]
        found = (
            self._held.lazy()
            .filter((pl.col("field") == field) & pl.col("value").is_in(list(values)))
            .group_by("value")
            .agg(pl.col("record_id").min())
            .collect()
        )
        return dict(zip(found.get_column("value"), found.get_column("record_id"), strict=True))

    def flush(self) -> None:
        """Write what is held as one sorted run (duplicates dropped), in the transaction."""
        if not self._frames:
            self.first_held = None
            return
        run = (
            pl.concat(self._frames, rechunk=True)
            .unique()
            .sort("dataset_id", "field", "value", "record_id")
        )
        self._frames, self._held = [], None
        # in slices: the driver wants a Python tuple per row, about 180 bytes each
        for part in run.iter_slices(SLICE_ROWS):
            bulk_insert(self.session, table="blind_indexes", columns=COLUMNS, rows=part.rows())
        self._rows, self.first_held = 0, None
        self.runs += 1
