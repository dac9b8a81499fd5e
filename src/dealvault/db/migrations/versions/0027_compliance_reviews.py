"""compliance reviews: the content review of a transfer plan's free text

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 19:00:00.000000

The content and rights review before a transfer (issue 20 item 5, docs/compliance.md
"Content review"): per review, the counts per word category and per third-party PI type,
the word list's version and hash, and a fingerprint of the dataset state it read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=254), nullable=False),
        sa.Column("words_version", sa.String(length=40), nullable=False),
        sa.Column("words_sha256", sa.String(length=64), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("third_party", sa.Text(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("affected", sa.Integer(), nullable=False),
        sa.Column("minors", sa.Integer(), nullable=False),
        sa.Column("sensitive_rows", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["transfer_plans.id"],
            name=op.f("fk_compliance_reviews_plan_id_transfer_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_reviews")),
    )
    op.create_index(
        op.f("ix_compliance_reviews_plan_id"), "compliance_reviews", ["plan_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_compliance_reviews_plan_id"), table_name="compliance_reviews")
    op.drop_table("compliance_reviews")
