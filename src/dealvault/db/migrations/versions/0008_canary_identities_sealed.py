"""canary identities sealed: keyed hashes and an AEAD envelope instead of clear columns

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00.000000

The clear columns stay (nullable) for rows made before this revision: the application seals
them with the store's canary key the first time it uses canaries, then empties them; a
migration cannot, as it has no keys.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLEAR = (("name", 64), ("phone", 32), ("email", 254), ("fingerprint", 64))


def upgrade() -> None:
    with op.batch_alter_table("canaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_mac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("phone_mac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
        batch_op.drop_constraint("uq_canaries_email", type_="unique")
        batch_op.drop_index("ix_canaries_phone")
        batch_op.drop_index("ix_canaries_fingerprint")
        for column, length in _CLEAR:
            batch_op.alter_column(column, existing_type=sa.String(length=length), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_canaries_email_mac"), ["email_mac"])
        batch_op.create_index(batch_op.f("ix_canaries_phone_mac"), ["phone_mac"], unique=False)


def downgrade() -> None:
    # Sealed rows have no clear identity to go back to: a downgrade keeps only legacy rows.
    op.execute(sa.text("DELETE FROM canaries WHERE sealed IS NOT NULL"))
    with op.batch_alter_table("canaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_canaries_phone_mac"))
        batch_op.drop_constraint(batch_op.f("uq_canaries_email_mac"), type_="unique")
        for column, length in _CLEAR:
            batch_op.alter_column(column, existing_type=sa.String(length=length), nullable=False)
        batch_op.create_index(batch_op.f("ix_canaries_fingerprint"), ["fingerprint"])
        batch_op.create_index(batch_op.f("ix_canaries_phone"), ["phone"])
        batch_op.create_unique_constraint(batch_op.f("uq_canaries_email"), ["email"])
        batch_op.drop_column("sealed")
        batch_op.drop_column("phone_mac")
        batch_op.drop_column("email_mac")
