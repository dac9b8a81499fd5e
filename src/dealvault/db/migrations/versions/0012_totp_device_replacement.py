"""accounts: a pending TOTP secret, so a device can be replaced

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:40:00.000000

A person signed in with their current TOTP device may set up a new one: its secret is kept
sealed in ``totp_pending`` until a code from the new device confirms it, and the current one
stays in force until then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_pending", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("totp_pending")
