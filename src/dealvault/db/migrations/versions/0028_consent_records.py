"""consent records: customers' consents per purpose, with their withdrawal

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 19:00:00.000000

Issue 20 item 2 (docs/compliance.md "Consent and purposes"): the seller's consent records,
imported by customer number, asked by the compliance gate and carried to the buyer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("separate", sa.Boolean(), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_consent_records_dataset_id_datasets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
        sa.UniqueConstraint(
            "dataset_id",
            "subject_id",
            "purpose",
            "given_at",
            name=op.f("uq_consent_records_dataset_id"),
        ),
    )
    op.create_index(
        "ix_consent_records_purpose",
        "consent_records",
        ["dataset_id", "purpose", "subject_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_consent_records_purpose", table_name="consent_records")
    op.drop_table("consent_records")
