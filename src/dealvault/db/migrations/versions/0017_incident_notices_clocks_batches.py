"""incident notices: legal clocks, notices, partner acknowledgements, bulk notice batches

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 16:00:00.000000

Legal clocks and notices (issue 19 item 4, docs/monitoring.md "Notices and legal clocks"): an
incident's awareness time and regimes, its notices (authority, customers, partners) and the
partners' acknowledgements; per-customer notices in bulk (``notices/``): batches, deliveries
by subject id and the count per status.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_legal",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("aware_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("aware_reason", sa.Text(), nullable=True),
        sa.Column("regimes", sa.Text(), nullable=False),
        sa.Column("clocks", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_legal_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_legal")),
    )
    op.create_table(
        "incident_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("missing", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("addressees", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finalised_by", sa.String(length=254), nullable=True),
        sa.Column("finalised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by", sa.String(length=254), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_notices_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_notices")),
    )
    with op.batch_alter_table("incident_notices", schema=None) as batch_op:
        batch_op.create_index("ix_incident_notices_incident", ["incident_id", "id"], unique=False)
    op.create_table(
        "incident_partner_acks",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["incident_notices.id"],
            name=op.f("fk_incident_partner_acks_notice_id_incident_notices"),
        ),
        sa.PrimaryKeyConstraint("notice_id", "organisation", name=op.f("pk_incident_partner_acks")),
    )
    op.create_table(
        "notice_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=False),
        sa.Column("template_set", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_batches")),
    )
    with op.batch_alter_table("notice_batches", schema=None) as batch_op:
        batch_op.create_index("ix_notice_batches_ref", ["ref", "id"], unique=False)
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["notice_batches.id"],
            name=op.f("fk_notice_deliveries_batch_id_notice_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_deliveries")),
    )
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_notice_deliveries_batch", ["batch_id", "status"], unique=False)
    op.create_table(
        "notice_batch_counts",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["notice_batches.id"],
            name=op.f("fk_notice_batch_counts_batch_id_notice_batches"),
        ),
        sa.PrimaryKeyConstraint("batch_id", "status", name=op.f("pk_notice_batch_counts")),
    )


def downgrade() -> None:
    op.drop_table("notice_batch_counts")
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_deliveries_batch")
    op.drop_table("notice_deliveries")
    with op.batch_alter_table("notice_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_batches_ref")
    op.drop_table("notice_batches")
    op.drop_table("incident_partner_acks")
    with op.batch_alter_table("incident_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_notices_incident")
    op.drop_table("incident_notices")
    op.drop_table("incident_legal")
