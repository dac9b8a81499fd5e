"""audit_events: the deal's events indexed in log order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 08:10:00.000000

The pages read a deal's events newest first, a page at a time (``WHERE deal = … ORDER BY
seq DESC LIMIT 51``). With an index on ``deal`` alone, PostgreSQL with stale statistics
planned a scan of every event of the deal and a sort (80 ms at 100,000 events); an index on
``(deal, seq)`` gives the page in index order whatever the statistics say. It replaces the
index on ``deal``, which it covers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_deal_seq", "audit_events", ["deal", "seq"])
    op.drop_index("ix_audit_events_deal", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_deal", "audit_events", ["deal"])
    op.drop_index("ix_audit_events_deal_seq", table_name="audit_events")
