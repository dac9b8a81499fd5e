"""Realistic, deterministic synthetic Chinese customer exports (customers, orders, notes)."""

from dealvault.synth.activity import NOTE_COLUMNS, NOTE_SCHEMA, ORDER_COLUMNS, ORDER_SCHEMA
from dealvault.synth.customers import CUSTOMER_COLUMNS, CUSTOMER_SCHEMA
from dealvault.synth.generator import (
    BLOCK_ROWS,
    DEFAULT_AS_OF,
    TABLES,
    TableBatch,
    generate_customers,
    generate_tables,
)
from dealvault.synth.writers import Encoding, Format, WrittenTable, export_tables, write_export

__all__ = [
    "BLOCK_ROWS",
    "CUSTOMER_COLUMNS",
    "CUSTOMER_SCHEMA",
    "DEFAULT_AS_OF",
    "NOTE_COLUMNS",
    "NOTE_SCHEMA",
    "ORDER_COLUMNS",
    "ORDER_SCHEMA",
    "TABLES",
    "Encoding",
    "Format",
    "TableBatch",
    "WrittenTable",
    "export_tables",
    "generate_customers",
    "generate_tables",
    "write_export",
]
