"""The log's signing key: wrapped by the master key in the key store, moved there from an older
store's plain file, rewrapped by master-key rotation, never needed to read or verify."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from dealvault.audit.note import Signer, generate_signer
from dealvault.audit.store import LogFilter
from dealvault.audit.verify import Anchors
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.models import SigningKey
from dealvault.crypto.providers import build_provider
from dealvault.errors import Conflict, KeyUnavailable
from dealvault.flows import admin, audit_keys, auditing
from dealvault.flows.context import AppStores
from dealvault.flows.keys import rotate_master_key
from dealvault.flows.setup import init_store, load_audit_config
from dealvault.flows.store import OperatorIn
from tests.audit import tamper
from tests.conftest import OP

FIRST = OperatorIn(
    email="operator@seller.example", name="Operator", organization="洁净日化有限公司"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        key_provider="passphrase",
        passphrase="correct horse battery",  # type: ignore[arg-type]
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )


def _open(settings: Settings, keyring: Callable[[], KeyRing] | None = None) -> AppStores:
    """The stores as the CLI opens them: the signing key is unwrapped only when needed."""
    stores = AppStores.connect(
        records_url=settings.resolved_database_url, keystore_url=settings.resolved_keystore_url
    )
    ring = keyring or (lambda: KeyRing(build_provider(settings)))
    stores.audit = load_audit_config(settings, stores=stores, keyring=ring)
    return stores


def _no_master_key() -> KeyRing:
    raise KeyUnavailable("no passphrase: set DEALVAULT_PASSPHRASE (no terminal to ask on)")


def _row(stores: AppStores) -> SigningKey:
    with stores.keystore_sessions() as ks:
        row = ks.scalar(select(SigningKey))
        assert row is not None
        return row


def _make_legacy(settings: Settings) -> Signer:
    """Turn a fresh store into one made before this change: a plain audit.key, no wrapped key."""
    stores = _open(settings)
    signer = stores.audit.signer
    assert signer is not None
    with stores.keystore_sessions() as ks:
        ks.execute(delete(SigningKey))
        ks.commit()
    fd = os.open(settings.resolved_audit_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(signer.key_string() + "\n")
    stores.dispose()
    return signer


def test_init_wraps_the_key_in_the_key_store(settings: Settings) -> None:
    out, stores, _ = init_store(settings, passphrase=None, operator=FIRST)
    assert out.audit_key == "created"
    assert not settings.resolved_audit_key_file.exists()
    assert [p.name for p in settings.home.iterdir() if p.name.startswith("audit")] == []
    row = _row(stores)
    assert row.verifier_key == out.audit_verifier_key and row.kek_version == 1
    signer = stores.audit.signer
    assert signer is not None
    stores.dispose()
    for path in settings.home.iterdir():  # the seed is nowhere in clear
        assert signer.seed() not in path.read_bytes(), path.name


def test_reading_and_verifying_need_no_master_key(settings: Settings) -> None:
    init_store(settings, passphrase=None, operator=FIRST)[1].dispose()
    stores = _open(settings, keyring=_no_master_key)
    assert stores.audit.can_sign and stores.audit.verifier is not None
    pinned = Anchors(pinned=stores.audit.verifier)
    assert auditing.verify(stores, actor=OP, anchors=pinned).ok
    assert auditing.log(stores, actor=OP, flt=LogFilter())[0]["action"] == "store.operator"
    shown = audit_keys.show(stores, actor=OP, plain_file=settings.resolved_audit_key_file)
    assert (
        shown.held == "key-store"
        and shown.registered
        and shown.master_key == f"{_row(stores).kek_id} v1"
    )
    n = tamper.size(stores)
    with pytest.raises(KeyUnavailable, match="no passphrase"):  # a change must be anchored
        admin.create_organization(stores, actor=OP, name="Bidder A", kind="bidder")
    assert tamper.size(stores) == n  # rolled back with its event
    stores.dispose()


def test_an_older_plain_key_moves_into_the_key_store_on_first_signing(settings: Settings) -> None:
    init_store(settings, passphrase=None, operator=FIRST)[1].dispose()
    signer = _make_legacy(settings)
    stores = _open(settings)
    assert stores.audit.verifier == signer.verifier()  # read from the plain file, unwrapped later
    shown = audit_keys.show(stores, actor=OP, plain_file=settings.resolved_audit_key_file)
    assert shown.held == "plain-file"
    admin.create_organization(stores, actor=OP, name="Bidder A", kind="bidder")  # anchored: signs
    assert not settings.resolved_audit_key_file.exists()
    assert _row(stores).verifier_key == signer.verifier().key_string()
    assert auditing.verify(stores, actor=OP, anchors=Anchors(pinned=signer.verifier())).ok
    stores.dispose()


def test_import_command_and_init_move_a_plain_key(settings: Settings) -> None:
    init_store(settings, passphrase=None, operator=FIRST)[1].dispose()
    signer = _make_legacy(settings)
    stores = _open(settings)
    keyring = KeyRing(build_provider(settings))
    out = audit_keys.import_plain(
        stores, keyring, plain_file=settings.resolved_audit_key_file, actor=OP
    )
    assert out.held == "key-store" and out.plain_file is None and out.registered
    assert auditing.log(stores, actor=OP, flt=LogFilter(action="keys.audit_key_import"))
    stores.dispose()
    _make_legacy(settings)
    again, stores, _ = init_store(
        settings, passphrase=None, operator=FIRST
    )  # 'dealvault init' imports too
    assert (
        again.audit_key == "imported" and again.audit_verifier_key == signer.verifier().key_string()
    )
    assert not settings.resolved_audit_key_file.exists()
    assert auditing.verify(stores, actor=OP, anchors=Anchors(pinned=signer.verifier())).ok
    stores.dispose()


def test_a_foreign_plain_key_is_refused_and_kept(settings: Settings) -> None:
    init_store(settings, passphrase=None, operator=FIRST)[1].dispose()
    path = settings.resolved_audit_key_file
    path.write_text(generate_signer("dealvault.invalid/log-other")[0] + "\n")
    path.chmod(0o600)
    stores = _open(settings)
    with pytest.raises(Conflict, match="another key than the audit log key in the key store"):
        admin.create_organization(stores, actor=OP, name="Bidder A", kind="bidder")
    assert path.exists()
    with stores.keystore_sessions() as ks:
        ks.execute(delete(SigningKey))
        ks.commit()
    fresh = _open(settings)
    with pytest.raises(Conflict, match="not the audit log key registered in the store"):
        admin.create_organization(fresh, actor=OP, name="Bidder A", kind="bidder")
    assert path.exists()
    stores.dispose()
    fresh.dispose()


def test_master_key_rotation_rewraps_the_log_key(settings: Settings) -> None:
    init_store(settings, passphrase=None, operator=FIRST)[1].dispose()
    stores = _open(settings)
    before = stores.audit.verifier
    rotate_master_key(stores, KeyRing(build_provider(settings)), actor=OP)
    assert _row(stores).kek_version == 2
    stores.dispose()
    stores = _open(settings)  # version 1 is retired: only the rewrapped key can be used
    admin.create_organization(stores, actor=OP, name="Bidder A", kind="bidder")
    assert stores.audit.verifier == before
    assert auditing.verify(stores, actor=OP, anchors=Anchors(pinned=before)).ok  # type: ignore[arg-type]
    stores.dispose()


def test_a_wrapped_key_moved_to_another_name_does_not_open(settings: Settings) -> None:
    _, stores, _ = init_store(settings, passphrase=None, operator=FIRST)
    with stores.keystore_sessions() as ks:
        row = ks.scalar(select(SigningKey))
        assert row is not None
        other = generate_signer("dealvault.invalid/log-" + secrets.token_hex(4))[1]
        row.verifier_key = other
        ks.commit()
    stores.dispose()
    with pytest.raises(KeyUnavailable, match="cannot unwrap"):
        _ = _open(settings).audit.signer
