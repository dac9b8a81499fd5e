"""Shared fixtures for the synthetic-export tests."""

from __future__ import annotations

import polars as pl
import pytest

from dealvault.synth import TableBatch, generate_tables

SAMPLE_ROWS = 20_000
SAMPLE_SEED = 7


@pytest.fixture(scope="session")
def sample() -> TableBatch:
    """20k customers with their orders and notes, concatenated."""
    batches = list(generate_tables(rows=SAMPLE_ROWS, seed=SAMPLE_SEED, chunk_rows=8_000))
    return TableBatch(
        customers=pl.concat([b.customers for b in batches]),
        orders=pl.concat([b.orders for b in batches]),
        notes=pl.concat([b.notes for b in batches]),
    )
