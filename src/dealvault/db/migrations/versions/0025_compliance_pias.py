"""compliance impact assessments (PIPL art. 55-56) and their sign-offs

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 19:00:00.000000

The personal information impact assessment of a transfer plan (issue 20, docs/compliance.md
"Impact assessment"): its canonical inputs and their digest, kept at least three years, and
the sign-offs of counsel and the security officer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_pias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("generated_by", sa.String(length=254), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kept_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["transfer_plans.id"],
            name=op.f("fk_compliance_pias_plan_id_transfer_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_pias")),
        sa.UniqueConstraint("plan_id", "version", name=op.f("uq_compliance_pias_plan_id")),
    )
    op.create_index(
        op.f("ix_compliance_pias_plan_id"), "compliance_pias", ["plan_id"], unique=False
    )
    op.create_table(
        "compliance_pia_signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pia_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("person", sa.String(length=254), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pia_id"],
            ["compliance_pias.id"],
            name=op.f("fk_compliance_pia_signoffs_pia_id_compliance_pias"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_pia_signoffs")),
        sa.UniqueConstraint("pia_id", "role", name=op.f("uq_compliance_pia_signoffs_pia_id")),
    )
    op.create_index(
        op.f("ix_compliance_pia_signoffs_pia_id"),
        "compliance_pia_signoffs",
        ["pia_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_compliance_pia_signoffs_pia_id"), table_name="compliance_pia_signoffs")
    op.drop_table("compliance_pia_signoffs")
    op.drop_index(op.f("ix_compliance_pias_plan_id"), table_name="compliance_pias")
    op.drop_table("compliance_pias")
