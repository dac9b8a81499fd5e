"""cross-border: per-customer flags, a plan's destination, the transfer mechanisms recorded

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 19:00:00.000000

Cross-border checks of the compliance gate (issue 20 item 4, docs/compliance.md):
``customer_records.flags`` (bits of vault/flags.py set at import; NULL for customers imported
before this revision), ``transfer_plans.destination`` (ISO 3166-1 alpha-2, 'CN' for plans
drawn up before), and ``transfer_mechanisms``, the mechanism counsel recorded for a plan
(security assessment, standard contract, certification, SCC, adequacy, derogation).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.Integer(), nullable=True))
    with op.batch_alter_table("transfer_plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("destination", sa.String(length=2), server_default="CN", nullable=False)
        )
    op.create_table(
        "transfer_mechanisms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["transfer_plans.id"],
            name=op.f("fk_transfer_mechanisms_plan_id_transfer_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["persons.id"],
            name=op.f("fk_transfer_mechanisms_recorded_by_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_mechanisms")),
        sa.UniqueConstraint("plan_id", "kind", name=op.f("uq_transfer_mechanisms_plan_id")),
    )
    op.create_index(
        op.f("ix_transfer_mechanisms_plan_id"), "transfer_mechanisms", ["plan_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_transfer_mechanisms_plan_id"), table_name="transfer_mechanisms")
    op.drop_table("transfer_mechanisms")
    with op.batch_alter_table("transfer_plans", schema=None) as batch_op:
        batch_op.drop_column("destination")
    with op.batch_alter_table("customer_records", schema=None) as batch_op:
        batch_op.drop_column("flags")
