"""agreement click-through acceptance: how each agreement is signed, how each signer signed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 09:00:00.000000

An agreement is ``signed`` (offline, registered with its signers: every agreement made
before this revision) or ``click`` (each party accepts the attached document online). A
signer signed ``offline`` (every signer before this revision) or by ``click``: then the
instant, the client address, the SHA-256 of the document accepted and the person's name and
organisation as they stood are kept as the signature.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("acceptance", sa.String(length=10), server_default="signed", nullable=False)
        )
    with op.batch_alter_table("agreement_signers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("method", sa.String(length=10), server_default="offline", nullable=False)
        )
        batch_op.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("client", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("document_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("organization", sa.String(length=200), nullable=True))


def downgrade() -> None:
    # click-through signatures have no offline equivalent: they go with their columns
    op.execute(sa.text("DELETE FROM agreement_signers WHERE method = 'click'"))
    with op.batch_alter_table("agreement_signers", schema=None) as batch_op:
        for column in ("organization", "name", "document_sha256", "client", "accepted_at",
                       "method"):  # fmt: skip
            batch_op.drop_column(column)
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("acceptance")
