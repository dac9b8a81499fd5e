"""Attacks on a stored audit log, done the way an operator with database access would."""

from __future__ import annotations

from sqlalchemy import text

from dealvault.audit import merkle
from dealvault.audit.checkpoint import Checkpoint, sign_checkpoint
from dealvault.audit.models import APPEND_ONLY_TABLES
from dealvault.audit.note import Signer
from dealvault.audit.service import DbNodeStore
from dealvault.db.base import utcnow
from dealvault.flows.context import AppStores


def drop_triggers(stores: AppStores) -> None:
    """What the attacker does first: the append-only triggers go."""
    with stores.records_engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
            for (name,) in list(names):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            for t in APPEND_ONLY_TABLES:
                conn.execute(text(f"ALTER TABLE {t} DISABLE TRIGGER USER"))


def sql(stores: AppStores, statement: str, **params: object) -> None:
    with stores.records_engine.begin() as conn:
        conn.execute(text(statement), params)


def body(stores: AppStores, seq: int) -> bytes:
    with stores.records_engine.connect() as conn:
        got = conn.execute(text("SELECT body FROM audit_events WHERE seq = :s"), {"s": seq})
        return bytes(got.scalar_one())


def set_body(stores: AppStores, seq: int, new: bytes) -> None:
    sql(stores, "UPDATE audit_events SET body = :b WHERE seq = :s", b=new, s=seq)


def seq_of(stores: AppStores, action: str) -> int:
    with stores.records_engine.connect() as conn:
        got = conn.execute(
            text("SELECT min(seq) FROM audit_events WHERE action = :a"), {"a": action}
        )
        return int(got.scalar_one())


def size(stores: AppStores) -> int:
    with stores.records_engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one())


def checkpoint_sizes(stores: AppStores) -> list[int]:
    with stores.records_engine.connect() as conn:
        rows = conn.execute(text("SELECT size FROM audit_checkpoints ORDER BY id"))
        return [int(r[0]) for r in rows]


def rebuild_tree(stores: AppStores) -> None:
    """Recompute every stored tree node from the (edited) events."""
    sql(stores, "DELETE FROM audit_nodes")
    with stores.unit_of_work() as uow:
        rows = uow.records.execute(text("SELECT body FROM audit_events ORDER BY seq"))
        leaves = [merkle.leaf_hash(bytes(b)) for (b,) in rows]
        merkle.append_leaves(DbNodeStore(uow.records), leaves)


def truncate(stores: AppStores, keep: int, *, checkpoints: bool) -> None:
    """Cut the log to its first ``keep`` events (and, if asked, the checkpoints beyond)."""
    sql(stores, "DELETE FROM audit_event_subjects WHERE seq >= :k", k=keep)
    sql(stores, "DELETE FROM audit_events WHERE seq >= :k", k=keep)
    rebuild_tree(stores)
    if checkpoints:
        sql(
            stores,
            "DELETE FROM audit_cosignatures WHERE checkpoint_id IN "
            "(SELECT id FROM audit_checkpoints WHERE size > :k)",
            k=keep,
        )
        sql(stores, "DELETE FROM audit_checkpoints WHERE size > :k", k=keep)


def resign(stores: AppStores, signer: Signer, *, above: int = -1) -> None:
    """Re-sign every checkpoint larger than ``above`` over the stored tree with ``signer``, drop
    their cosignatures and register ``signer`` as the log key: a whole-log rewrite."""
    with stores.unit_of_work() as uow:
        s = uow.records
        store = DbNodeStore(s)
        rows = s.execute(text("SELECT id, size FROM audit_checkpoints ORDER BY id")).all()
        for cid, n in rows:
            if n <= above:
                continue
            root = merkle.root_at(store, n)
            note = sign_checkpoint(Checkpoint(signer.name, n, root), signer=signer).decode()
            s.execute(
                text("UPDATE audit_checkpoints SET note = :n, root = :r WHERE id = :i"),
                {"n": note, "r": root, "i": cid},
            )
            s.execute(text("DELETE FROM audit_cosignatures WHERE checkpoint_id = :i"), {"i": cid})
        s.execute(text("DELETE FROM audit_keys WHERE role = 'log'"))
        s.execute(
            text(
                "INSERT INTO audit_keys (verifier_key, name, role, at) VALUES (:k, :n, 'log', :t)"
            ),
            {"k": signer.verifier().key_string(), "n": signer.name, "t": utcnow()},
        )
