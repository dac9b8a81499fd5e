"""monitor: the devices each person acted from (first sighting)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 16:40:00.000000

The new_device rule's profile (issue 19, item 1), kept like monitor_clients: a person's
devices by their recorded id (``dev:`` + a hash, or ``tok:`` + an API token id).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitor_devices",
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor", "device", name=op.f("pk_monitor_devices")),
    )
    with op.batch_alter_table("monitor_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_devices_first_seq"), ["first_seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monitor_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_devices_first_seq"))
    op.drop_table("monitor_devices")
