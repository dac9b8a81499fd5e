"""drills: incident drills and the deals they make

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:00:00.000000

Incident drills (issue 19, docs/monitoring.md "Drills"): each run of `dealvault drill run` is
kept with the time each step took; the deal a drill makes is marked (`deals.drill`) so that
nobody takes its alerts and incident for a real one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN (no table rebuild: other tables' foreign keys point at deals)
    op.add_column(
        "deals", sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "drills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal", sa.String(length=64), nullable=False),
        sa.Column("scenario", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=254), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drills")),
    )


def downgrade() -> None:
    op.drop_table("drills")
    op.drop_column("deals", "drill")
