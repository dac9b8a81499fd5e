"""One batch of package records: decrypted, in the schema's columns, hashed and counted.

Kept apart (light imports) because :func:`open_batch` runs in worker processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from dealvault import native_pack
from dealvault.transfer.manifest import (
    PackageSchema,
    category_counts,
    leaf_hashes,
    subtree_root,
)
from dealvault.vault.opening import RecordLayout, frame_of, open_frame, open_pack


@dataclass
class PreparedBatch:
    """Records ready to write: exactly the schema's columns, their RFC 9162 leaf hashes and
    the customers with a value per category. Batches of a power-of-two size also carry
    their Merkle subtree root, so the writer need not hash their leaves into the tree again."""

    frame: pl.DataFrame
    hashes: list[bytes]
    per_category: dict[str, int]
    #: the hashes' Merkle subtree root when their number is a power of two, else None
    subtree: bytes | None = None
    #: the frame as Arrow, when the batch came over a pipe (the writer takes it as it is)
    arrow: pa.Table | None = field(default=None, compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with the frame as an Arrow IPC stream: about twice as fast both ways as
        a pickled Polars frame, and the receiving writer needs Arrow anyway."""
        table = self.frame.to_arrow()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as out:
            out.write_table(table)
        return (_restore, (sink.getvalue(), self.hashes, self.per_category, self.subtree))


def _restore(
    ipc: pa.Buffer, hashes: list[bytes], per_category: dict[str, int], subtree: bytes | None
) -> PreparedBatch:
    table = pa.ipc.open_stream(ipc).read_all()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return PreparedBatch(frame, hashes, per_category, subtree, arrow=table)


def prepare_batch(frame: pl.DataFrame, schema: PackageSchema) -> PreparedBatch:
    """Select the schema's columns (absent ones as nulls), hash and count them."""
    frame = frame.select(
        [
            pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
            for c in schema.names
        ]
    )
    hashes = leaf_hashes(frame)
    return PreparedBatch(
        frame, hashes, category_counts(frame, schema.by_category()), subtree_root(hashes)
    )


Rows = Sequence[Sequence[Any]] | bytes
Keys = Sequence[bytes | None] | bytes


def _unpacked(rows: Rows, keys: Keys) -> tuple[Sequence[Sequence[Any]], Sequence[bytes | None]]:
    """Rows and keys as given, or those of a pack and its packed keys (``native_pack``)."""
    if isinstance(rows, bytes):
        if not isinstance(keys, bytes):
            raise TypeError("a pack comes with packed keys")
        return native_pack.unpack_rows(rows, keys)
    if isinstance(keys, bytes):
        raise TypeError("rows come with a list of keys")
    return rows, keys


def open_batch(
    layout: RecordLayout, schema: PackageSchema, rows: Rows, keys: Keys
) -> tuple[PreparedBatch, int]:
    """Decrypt one batch of customer rows (or a pack of them, with packed keys) and prepare
    it for the package; also how many rows were left out for want of a key (shredded
    meanwhile)."""
    if isinstance(rows, bytes) and isinstance(keys, bytes):
        frame, skipped = frame_of(layout, open_pack(layout, rows, keys))
    else:
        frame, skipped = open_frame(layout, *_unpacked(rows, keys))
    return prepare_batch(frame, schema), skipped


def open_flagged_batch(
    layout: RecordLayout,
    schema: PackageSchema,
    names: tuple[str, ...],
    rows: Rows,
    keys: Keys,
) -> tuple[PreparedBatch, int]:
    """:func:`open_batch` for rows that end in one SQL truth value per name of ``names``
    (after the envelopes: e.g. a consent in force), each written as a ``yes``/``no`` column."""
    rows, keys = _unpacked(rows, keys)
    frame, skipped = open_frame(layout, rows, keys)
    tail = 2 + len(layout.categories)
    # one value per record from SQL, matched by record id (rows without a key were left out)
    flags = {r[0]: r[tail:] for r in rows}
    ids = frame.get_column("record_id").to_list()
    frame = frame.with_columns(
        pl.Series(name, ["yes" if flags[i][k] else "no" for i in ids], dtype=pl.String)
        for k, name in enumerate(names)
    )
    return prepare_batch(frame, schema), skipped
