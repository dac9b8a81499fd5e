"""transfer plans' objection window and recipient contact; a notice delivery's delivery time

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 19:00:00.000000

PIPL art. 22 notices of a transfer plan (docs/compliance.md "Notices to customers"): the plan
states how many days a customer has to object once the notice reached them and the
recipient's contact named in the notice; a delivery keeps the time it was delivered so a
later objection can be weighed against the window. Server defaults let old plans upgrade
(30 days, no contact stated yet).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transfer_plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("objection_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch_op.add_column(
            sa.Column("recipient_contact", sa.Text(), server_default="", nullable=False)
        )
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.drop_column("delivered_at")
    with op.batch_alter_table("transfer_plans", schema=None) as batch_op:
        batch_op.drop_column("recipient_contact")
        batch_op.drop_column("objection_days")
