"""audit_nodes without rowid (SQLite): one B-tree per tree node instead of two

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 01:00:00.000000

Issue 21 (audit appends): on SQLite a table whose primary key is not a single integer keeps
its rows in a rowid B-tree and the key in a second one, so every Merkle tree node an append
writes (about two per event) cost two B-tree inserts. A ``WITHOUT ROWID`` table keeps the rows
in the primary key's own B-tree. The table is rebuilt with its rows and its append-only
triggers; PostgreSQL is unchanged (a heap and its primary-key index, as before).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS = (
    "CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes "
    "BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END",
    "CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes "
    "BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END",
)


def _rebuild(*, without_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    suffix = " WITHOUT ROWID" if without_rowid else ""
    op.execute("DROP TRIGGER IF EXISTS audit_nodes_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_nodes_no_delete")
    op.execute(
        "CREATE TABLE audit_nodes_rebuilt (level INTEGER NOT NULL, idx INTEGER NOT NULL, "
        "hash BLOB NOT NULL, CONSTRAINT pk_audit_nodes PRIMARY KEY (level, idx))" + suffix
    )
    op.execute(
        "INSERT INTO audit_nodes_rebuilt (level, idx, hash) "
        "SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx"
    )
    op.execute("DROP TABLE audit_nodes")
    op.execute("ALTER TABLE audit_nodes_rebuilt RENAME TO audit_nodes")
    for ddl in _TRIGGERS:
        op.execute(ddl)


def upgrade() -> None:
    _rebuild(without_rowid=True)


def downgrade() -> None:
    _rebuild(without_rowid=False)
