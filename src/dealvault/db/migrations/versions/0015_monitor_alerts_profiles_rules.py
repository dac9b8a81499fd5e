"""monitor: alerts, the monitor's progress, per-person activity and addresses, rule versions

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 08:00:00.000000

Security monitoring (issue 19, docs/monitoring.md): rules over the audit stream raise alerts,
de-duplicated by rule, deal, subject and window. The monitor keeps how far it has read the log
(one row, made here), each person's activity per local day and hour and the client addresses
they acted from (the baselines of its rules), and the stored versions of its rules file.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("deal", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=254), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("froze", sa.Boolean(), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_by", sa.String(length=254), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_alerts_dedup_key")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_deal_id", ["deal", "id"], unique=False)
        batch_op.create_index("ix_alerts_status", ["status"], unique=False)

    op.create_table(
        "monitor_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_checkpoint", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitor_state")),
    )
    state = sa.table(
        "monitor_state",
        sa.column("name", sa.String()),
        sa.column("last_seq", sa.Integer()),
        sa.column("last_checkpoint", sa.Integer()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        state, [{"name": "events", "last_seq": -1, "last_checkpoint": 0, "updated_at": now}]
    )

    op.create_table(
        "monitor_activity",
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("deal", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("hour", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("actor", "deal", "day", "hour", name=op.f("pk_monitor_activity")),
    )
    with op.batch_alter_table("monitor_activity", schema=None) as batch_op:
        batch_op.create_index("ix_monitor_activity_day", ["day"], unique=False)

    op.create_table(
        "monitor_clients",
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor", "client", name=op.f("pk_monitor_clients")),
    )
    with op.batch_alter_table("monitor_clients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_clients_first_seq"), ["first_seq"], unique=False
        )

    op.create_table(
        "monitor_rule_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["persons.id"], name=op.f("fk_monitor_rule_versions_actor_id_persons")
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_monitor_rule_versions")),
    )


def downgrade() -> None:
    op.drop_table("monitor_rule_versions")
    with op.batch_alter_table("monitor_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_clients_first_seq"))
    op.drop_table("monitor_clients")
    with op.batch_alter_table("monitor_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_activity_day")
    op.drop_table("monitor_activity")
    op.drop_table("monitor_state")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_status")
        batch_op.drop_index("ix_alerts_deal_id")
    op.drop_table("alerts")
