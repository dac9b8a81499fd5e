"""incident notes: a kind (note or lesson)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 16:10:00.000000

The lessons learnt from an incident are notes of their own kind, listed apart in the
post-incident report (issue 19, docs/monitoring.md "Post-incident report").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "incident_notes",
        sa.Column("kind", sa.String(length=10), nullable=False, server_default="note"),
    )


def downgrade() -> None:
    op.drop_column("incident_notes", "kind")
