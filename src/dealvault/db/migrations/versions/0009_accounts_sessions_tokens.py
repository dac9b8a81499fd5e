"""accounts, sessions, API tokens and throttles of the server

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:49:53.956627

Sign-in for the server (issue 15): accounts, second factors, one-time links, server-side
sessions, API tokens and credential-check throttles. No secret is stored in clear.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_throttles",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_throttles")),
    )
    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("secret_digest", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=30), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["persons.id"], name=op.f("fk_account_links_created_by_persons")
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_account_links_deal_id_deals")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_account_links_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_links")),
        sa.UniqueConstraint("secret_digest", name=op.f("uq_account_links_secret_digest")),
    )
    with op.batch_alter_table("account_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_links_person_id"), ["person_id"], unique=False)

    op.create_table(
        "account_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("code_mac", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_account_recovery_codes_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_recovery_codes")),
        sa.UniqueConstraint("code_mac", name=op.f("uq_account_recovery_codes_code_mac")),
    )
    with op.batch_alter_table("account_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_recovery_codes_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "account_webauthn",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_account_webauthn_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_webauthn")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_account_webauthn_credential_id")),
    )
    with op.batch_alter_table("account_webauthn", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_webauthn_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "accounts",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("password_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["disabled_by"], ["persons.id"], name=op.f("fk_accounts_disabled_by_persons")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_accounts_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_digest", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_api_tokens_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("secret_digest", name=op.f("uq_api_tokens_secret_digest")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_person_id"), ["person_id"], unique=False)

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_digest", sa.String(length=64), nullable=False),
        sa.Column("csrf_digest", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("factor", sa.String(length=20), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("challenge", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_auth_sessions_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.UniqueConstraint("secret_digest", name=op.f("uq_auth_sessions_secret_digest")),
    )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_sessions_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_sessions_person_id"))

    op.drop_table("auth_sessions")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_person_id"))

    op.drop_table("api_tokens")
    op.drop_table("accounts")
    with op.batch_alter_table("account_webauthn", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_webauthn_person_id"))

    op.drop_table("account_webauthn")
    with op.batch_alter_table("account_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_recovery_codes_person_id"))

    op.drop_table("account_recovery_codes")
    with op.batch_alter_table("account_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_links_person_id"))

    op.drop_table("account_links")
    op.drop_table("auth_throttles")
