"""retention rules per dataset and category, and their periodic reviews

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 19:00:00.000000

Retention (issue 20 item 6, docs/compliance.md "Retention"): how long a dataset or one of its
categories is kept, its legal basis, its periodic review, and what went at its end.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("keep_days", sa.Integer(), nullable=True),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("review_every", sa.Integer(), nullable=False),
        sa.Column("next_review", sa.Date(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_retention_rules_deal_id_deals")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_retention_rules_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["persons.id"], name=op.f("fk_retention_rules_created_by_persons")
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["destruction_certificates.id"],
            name=op.f("fk_retention_rules_certificate_id_destruction_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_rules")),
    )
    op.create_index(op.f("ix_retention_rules_deal_id"), "retention_rules", ["deal_id"])
    op.create_index(op.f("ix_retention_rules_dataset_id"), "retention_rules", ["dataset_id"])
    op.create_table(
        "retention_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_review", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["retention_rules.id"],
            name=op.f("fk_retention_reviews_rule_id_retention_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["persons.id"], name=op.f("fk_retention_reviews_reviewer_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_reviews")),
    )
    op.create_index(op.f("ix_retention_reviews_rule_id"), "retention_reviews", ["rule_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_retention_reviews_rule_id"), table_name="retention_reviews")
    op.drop_table("retention_reviews")
    op.drop_index(op.f("ix_retention_rules_dataset_id"), table_name="retention_rules")
    op.drop_index(op.f("ix_retention_rules_deal_id"), table_name="retention_rules")
    op.drop_table("retention_rules")
