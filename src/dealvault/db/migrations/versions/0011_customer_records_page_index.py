"""customer records: an index for counting and paging a dataset's active customers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:30:00.000000

A page of a view reads the dataset's active customers in record order from an offset, and
counts them; without an index on (dataset_id, status, id) each page scanned every record of
the store from the first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_customer_records_dataset_status_id"


def upgrade() -> None:
    op.create_index(INDEX, "customer_records", ["dataset_id", "status", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="customer_records")
