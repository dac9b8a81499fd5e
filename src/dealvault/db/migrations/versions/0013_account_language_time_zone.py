"""accounts: the language and time zone the web pages use for a person

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 08:00:00.000000

A person's pages (and mails) are in their language, Chinese or English, and show times in
their time zone; both are set by the person and kept with the account.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
        batch_op.drop_column("language")
