"""Deterministic, streaming generation of synthetic customer, order and note tables."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import polars as pl

from dealvault.synth.activity import NOTE_SCHEMA, ORDER_SCHEMA, notes_for, orders_for
from dealvault.synth.customers import CustomerBlock, IntArray, customer_block
from dealvault.synth.idnumbers import IntSet

# Rows per internal block. Each block draws from its own RNG seeded with (seed, block
# index, stream), so output never depends on the caller's chunk size. Changing this
# constant changes the generated data.
BLOCK_ROWS: Final = 10_000
# Reference "export date": ages, registration and order times are relative to it.
DEFAULT_AS_OF: Final = date(2025, 6, 30)
TABLES: Final = ("customers", "orders", "notes")

_CUSTOMERS, _ORDERS, _NOTES = 0, 1, 2


@dataclass(frozen=True, slots=True)
class TableBatch:
    """Customers of one chunk with all their orders and notes (empty if not requested)."""

    customers: pl.DataFrame
    orders: pl.DataFrame
    notes: pl.DataFrame

    def table(self, name: str) -> pl.DataFrame:
        """The frame for ``customers``, ``orders`` or ``notes``."""
        if name == "customers":
            return self.customers
        if name == "orders":
            return self.orders
        if name == "notes":
            return self.notes
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class _Piece:
    batch: TableBatch
    order_counts: IntArray
    note_counts: IntArray

    @property
    def rows(self) -> int:
        return self.batch.customers.height

    def split(self, k: int) -> tuple[_Piece, _Piece]:
        ko, kn = int(self.order_counts[:k].sum()), int(self.note_counts[:k].sum())
        b = self.batch
        head = TableBatch(b.customers.head(k), b.orders.head(ko), b.notes.head(kn))
        tail = TableBatch(b.customers.slice(k), b.orders.slice(ko), b.notes.slice(kn))
        return (
            _Piece(head, self.order_counts[:k], self.note_counts[:k]),
            _Piece(tail, self.order_counts[k:], self.note_counts[k:]),
        )


def _concat(pieces: list[_Piece]) -> _Piece:
    if len(pieces) == 1:
        return pieces[0]
    return _Piece(
        TableBatch(
            pl.concat([p.batch.customers for p in pieces], rechunk=True),
            pl.concat([p.batch.orders for p in pieces], rechunk=True),
            pl.concat([p.batch.notes for p in pieces], rechunk=True),
        ),
        np.concatenate([p.order_counts for p in pieces]),
        np.concatenate([p.note_counts for p in pieces]),
    )


def block_rng(seed: int, block: int, stream: int) -> np.random.Generator:
    """The RNG for one internal block and stream (0 customers, 1 orders, 2 notes)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, block, stream])))


def _check(rows: int, seed: int, chunk_rows: int) -> None:
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")


def _pieces(
    *,
    rows: int,
    seed: int,
    as_of: date,
    orders_mean: float | None,
    notes_mean: float | None,
) -> Iterator[_Piece]:
    empty_orders, empty_notes = pl.DataFrame(schema=ORDER_SCHEMA), pl.DataFrame(schema=NOTE_SCHEMA)
    next_order = 1
    taken = IntSet()
    for block in range((rows + BLOCK_ROWS - 1) // BLOCK_ROWS):
        start = block * BLOCK_ROWS
        keep = min(BLOCK_ROWS, rows - start)
        # Always generate the full block, then cut: a prefix of a bigger export is identical.
        full: CustomerBlock = customer_block(
            block_rng(seed, block, _CUSTOMERS), start, BLOCK_ROWS, as_of, taken
        )
        zeros = np.zeros(keep, dtype=np.int64)
        orders, order_counts = empty_orders, zeros
        if orders_mean is not None:
            orders, order_counts = orders_for(
                block_rng(seed, block, _ORDERS),
                full,
                mean=orders_mean,
                first_seq=next_order,
                as_of=as_of,
            )
            order_counts = order_counts[:keep]
            orders = orders.head(int(order_counts.sum()))
            next_order += orders.height
        notes, note_counts = empty_notes, zeros
        if notes_mean is not None:
            notes, note_counts = notes_for(
                block_rng(seed, block, _NOTES), full, mean=notes_mean, as_of=as_of
            )
            note_counts = note_counts[:keep]
            notes = notes.head(int(note_counts.sum()))
        customers = full.frame.head(keep) if keep < BLOCK_ROWS else full.frame
        yield _Piece(TableBatch(customers, orders, notes), order_counts, note_counts)


def _rebatch(pieces: Iterator[_Piece], chunk_rows: int) -> Iterator[TableBatch]:
    pending: list[_Piece] = []
    pending_rows = 0
    for piece in pieces:
        pending.append(piece)
        pending_rows += piece.rows
        if pending_rows < chunk_rows:
            continue
        merged = _concat(pending)
        while merged.rows >= chunk_rows:
            head, merged = merged.split(chunk_rows)
            yield head.batch
        pending, pending_rows = ([merged], merged.rows) if merged.rows else ([], 0)
    if pending_rows:
        yield _concat(pending).batch


def generate_tables(
    *,
    rows: int,
    seed: int,
    orders_per_customer: float = 3.0,
    notes_per_customer: float = 0.5,
    chunk_rows: int = 50_000,
    tables: Collection[str] = TABLES,
    as_of: date = DEFAULT_AS_OF,
) -> Iterator[TableBatch]:
    """Stream ``rows`` customers with their orders and notes in chunks of ``chunk_rows``.

    Each :class:`TableBatch` holds ``chunk_rows`` customers (the last one possibly fewer)
    and exactly their orders and notes. Tables not named in ``tables`` are left empty and
    cost nothing. Output depends only on ``rows`` (as a prefix), ``seed``, the means and
    ``as_of``, never on ``chunk_rows``.
    """
    _check(rows, seed, chunk_rows)
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown tables: {sorted(unknown)}")
    if orders_per_customer < 0 or notes_per_customer < 0:
        raise ValueError("means must be >= 0")
    pieces = _pieces(
        rows=rows,
        seed=seed,
        as_of=as_of,
        orders_mean=orders_per_customer if "orders" in tables else None,
        notes_mean=notes_per_customer if "notes" in tables else None,
    )
    return _rebatch(pieces, chunk_rows)


def generate_customers(
    *, rows: int, seed: int, chunk_rows: int = 50_000, as_of: date = DEFAULT_AS_OF
) -> Iterator[pl.DataFrame]:
    """Stream ``rows`` synthetic customers (12 Chinese-headed columns) in chunks."""
    for batch in generate_tables(
        rows=rows, seed=seed, chunk_rows=chunk_rows, tables=("customers",), as_of=as_of
    ):
        yield batch.customers
