"""Canary identities are stored sealed: nothing in clear, not movable, rewrapped, migrated."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, update

from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import EnvKeyProvider
from dealvault.db import migrate
from dealvault.errors import IntegrityError, KeyUnavailable
from dealvault.flows.context import AppStores
from dealvault.transfer.canaries import load_canaries
from dealvault.transfer.canary_seal import CanaryKeys, canary_keys
from dealvault.transfer.models import Canary
from tests.conftest import World
from tests.transfer.test_canaries import Loaded, _canaries, load_dataset, open_canaries


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def loaded(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> Loaded:
    return load_dataset(stores, keyring, world, tmp_path, rows=20)


def _store_bytes(stores: AppStores) -> bytes:
    """The record store's files as they are on disk (database and write-ahead log)."""
    stores.records_engine.dispose()  # no open connection keeps pages back
    db = Path(str(stores.records_engine.url.database))
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def test_no_canary_identity_is_stored_in_clear(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    frame = _canaries(stores, keyring, loaded, "Bidder A", count=5)
    with stores.records_session() as s:
        rows = s.scalars(select(Canary)).all()
        assert len(rows) == 5
        for row in rows:
            assert (row.name, row.phone, row.email, row.fingerprint) == (None,) * 4
            assert row.sealed is not None and len(row.email_mac or "") == 64
    disk = _store_bytes(stores)
    for col in ("name", "phone", "email", "id_number"):
        for value in frame[col].to_list():
            assert value.encode() not in disk, col
    assert not [p for p in frame["phone"] if p.removeprefix("+86").encode() in disk]
    # and the identities still come back, for planting again and for tracing
    assert _canaries(stores, keyring, loaded, "Bidder A", count=5).equals(frame)
    assert {c.email for c in open_canaries(stores, keyring, loaded.deal_id)} == set(frame["email"])


def test_a_sealed_identity_cannot_be_moved_or_opened_without_the_key(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    _canaries(stores, keyring, loaded, "Bidder A", count=1)
    _canaries(stores, keyring, loaded, "Bidder B", count=1)
    with stores.unit_of_work() as uow:
        a, b = uow.records.scalars(select(Canary).order_by(Canary.id)).all()
        a.sealed, b.sealed = b.sealed, a.sealed  # B's canary passed off as A's
    with pytest.raises(IntegrityError, match=r"canary #\d+ failed authentication"):
        open_canaries(stores, keyring, loaded.deal_id)
    other = KeyRing(EnvKeyProvider.from_text(kek_id="other", text=secrets.token_hex(32)))
    with stores.unit_of_work() as uow, pytest.raises(KeyUnavailable):
        CanaryKeys.of(other, uow.keys, create=False)
    with stores.records_session() as s, pytest.raises(KeyUnavailable, match="canary key"):
        load_canaries(s, keys=None, deal_ids=[loaded.deal_id])


def test_master_key_rotation_rewraps_the_canary_key(
    stores: AppStores, keyring: KeyRing, loaded: Loaded, master_key: bytes
) -> None:
    before = _canaries(stores, keyring, loaded, "Bidder A")
    new = secrets.token_bytes(32)
    both = KeyRing(
        EnvKeyProvider.from_text(kek_id="test", text=f"2:{new.hex()},1:{master_key.hex()}")
    )
    with stores.keystore_sessions() as ks:
        both.register_kek(ks)
        assert both.rewrap_dataset_keys(ks, to_version=2) >= 3  # data, index and canary keys
        ks.commit()
    only_new = KeyRing(EnvKeyProvider.from_text(kek_id="test", text=f"2:{new.hex()}"))
    assert _canaries(stores, only_new, loaded, "Bidder A").equals(before)


def test_canaries_of_an_older_store_are_sealed_on_first_use(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    frame = _canaries(stores, keyring, loaded, "Bidder A", count=2)
    # what a store made before migration 0008 holds: the identity in clear columns
    with stores.unit_of_work() as uow:
        keys = canary_keys(keyring, uow.keys)
        for row in uow.records.scalars(select(Canary)):
            ident = keys.open(row)
            row.name, row.phone, row.email = ident.name, ident.phone, ident.email
            row.fingerprint = ident.fingerprint
            row.sealed = row.email_mac = row.phone_mac = None
    # down to 0007 and up again: the clear rows survive the migration both ways
    cfg = migrate.alembic_config("records", stores.records_engine)
    command.downgrade(cfg, "0007")
    command.upgrade(cfg, "head")
    with stores.records_session() as s:
        legacy = load_canaries(s, keys=None, deal_ids=[loaded.deal_id])  # readable as they are
        assert sorted(c.email for c in legacy) == sorted(frame["email"])
        assert s.scalar(select(Canary.id).where(Canary.sealed.is_not(None))) is None
    # planting again (with the keys) seals them and empties the clear columns
    assert _canaries(stores, keyring, loaded, "Bidder A", count=2).equals(frame)
    with stores.records_session() as s:
        rows = s.scalars(select(Canary)).all()
        assert all(r.sealed is not None and r.email is None and r.name is None for r in rows)
    with stores.unit_of_work() as uow:  # a row with neither form is an integrity error
        uow.records.execute(update(Canary).values(sealed=None))
    with pytest.raises(IntegrityError, match="neither a sealed nor a clear identity"):
        _canaries(stores, keyring, loaded, "Bidder A", count=2)
