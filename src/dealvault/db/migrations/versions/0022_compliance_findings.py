"""compliance findings: one per (transfer plan, rule), with its waiver

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 16:30:00.000000

The compliance gate before a transfer (issue 20, docs/compliance.md): what each rule found
about a plan at its last check, and counsel's waiver with its reason and the counts it was
given for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("blocking", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waived_by", sa.String(length=254), nullable=True),
        sa.Column("waived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiver_reason", sa.Text(), nullable=True),
        sa.Column("waived_counts", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["transfer_plans.id"],
            name=op.f("fk_compliance_findings_plan_id_transfer_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_findings")),
        sa.UniqueConstraint("plan_id", "rule", name=op.f("uq_compliance_findings_plan_id")),
    )
    op.create_index(
        op.f("ix_compliance_findings_plan_id"), "compliance_findings", ["plan_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_compliance_findings_plan_id"), table_name="compliance_findings")
    op.drop_table("compliance_findings")
