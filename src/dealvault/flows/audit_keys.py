"""Use cases on the audit log's signing key: show where it is held; move a plain key file into
the key store (wrapped by the master key)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select

from dealvault.access.principal import Principal
from dealvault.audit import signing_key
from dealvault.audit.models import AuditKey
from dealvault.audit.service import EventIn
from dealvault.crypto import signing_keys
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import KeyUnavailable, NotFound
from dealvault.files import MISSING, file_problem
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize


class LogKeyOut(BaseModel):
    origin: str | None
    verifier_key: str | None
    held: str
    """``key-store`` (wrapped by the master key), ``plain-file`` (not moved yet) or ``none``."""
    master_key: str | None
    """Master key id and version that wraps it, when in the key store."""
    plain_file: str | None
    """A plain key file still on disk (to be imported, or left over)."""
    registered: bool
    """The record store names this key as its log's key."""


def show(stores: AppStores, *, actor: Principal, plain_file: Path) -> LogKeyOut:
    """Where the log key is held and its public key (operators: ``keys.status``); needs no
    master key."""
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="keys.status",
            event=EventIn(action="keys.audit_key_show"),
        )
        audit(stores, uow, event)
    return _view(stores, plain_file=plain_file)


def _view(stores: AppStores, *, plain_file: Path) -> LogKeyOut:
    with stores.keystore_sessions() as ks:
        row = signing_keys.find(ks, purpose=signing_key.PURPOSE)
        wrapped = None if row is None else (row.verifier_key, f"{row.kek_id} v{row.kek_version}")
    plain = plain_file if plain_file.exists() else None
    vkey = wrapped[0] if wrapped else None
    if vkey is None and plain is not None:
        vkey = signing_key.read_plain_key(plain).verifier().key_string()
    with stores.records_session() as s:
        keys = s.scalars(select(AuditKey.verifier_key).where(AuditKey.role == "log")).all()
    return LogKeyOut(
        origin=None if vkey is None else vkey.split("+", 1)[0],
        verifier_key=vkey,
        held="key-store" if wrapped else ("plain-file" if plain else "none"),
        master_key=None if wrapped is None else wrapped[1],
        plain_file=None if plain is None else str(plain),
        registered=vkey is not None and vkey in keys,
    )


def import_plain(
    stores: AppStores, keyring: KeyRing, *, plain_file: Path, actor: Principal
) -> LogKeyOut:
    """Wrap a plain audit key file with the master key into the key store, then delete it.

    The key must be the log's registered key (if the log has one). Idempotent: a file holding
    the key already in the key store is simply deleted."""
    with stores.unit_of_work() as uow:
        _, allowed = authorize(
            stores,
            uow.records,
            actor=actor,
            action="keys.rotate_master",
            event=EventIn(action="keys.audit_key_import"),
        )
    problem = file_problem(plain_file)
    if problem == MISSING:
        raise NotFound(f"no audit key file at {plain_file}")
    if problem is not None:
        raise KeyUnavailable(f"audit key file {plain_file} {problem}")
    with stores.keystore_sessions() as ks:
        keyring.verify_kek(ks)
        key = signing_key.ensure(ks, keyring, plain_file=plain_file)
        with stores.records_session() as records:
            signing_key.check_registered(records, key.signer)
        ks.commit()
    signing_key.remove_plain_file(plain_file)
    with stores.unit_of_work() as uow:
        audit(
            stores,
            uow,
            replace(allowed, objects={"origin": key.signer.name, "result": key.how}),
        )
    return _view(stores, plain_file=plain_file)
