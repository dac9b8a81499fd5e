"""A long-lived process (the server) never serves a dataset key from memory that the key
store no longer holds: a creation that lost a race, or a key destroyed elsewhere."""

from __future__ import annotations

import pytest

from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Shredded
from dealvault.flows.context import AppStores

SCOPE, PURPOSE = 0, "racetest"


def test_a_rolled_back_key_is_not_served_from_the_cache(
    stores: AppStores, keyring: KeyRing
) -> None:
    other = KeyRing(keyring.provider)  # another worker process, same master key
    with stores.keystore_sessions() as ks:  # this worker makes a key, then loses the race
        mine = keyring.create_dataset_key(ks, dataset_id=SCOPE, purpose=PURPOSE, version=1)
        ks.rollback()
    with stores.keystore_session() as ks:  # the other worker's key is the one committed
        theirs = other.create_dataset_key(ks, dataset_id=SCOPE, purpose=PURPOSE, version=1)
    assert mine != theirs
    with stores.keystore_sessions() as ks:
        assert keyring.dataset_key(ks, dataset_id=SCOPE, purpose=PURPOSE, version=1) == theirs


def test_a_key_destroyed_elsewhere_is_gone_here_too(stores: AppStores, keyring: KeyRing) -> None:
    with stores.keystore_session() as ks:
        keyring.create_dataset_key(ks, dataset_id=SCOPE, purpose=PURPOSE, version=1)
    with stores.keystore_sessions() as ks:  # read once: now in this process's memory
        assert keyring.dataset_key(ks, dataset_id=SCOPE, purpose=PURPOSE, version=1)
    with stores.keystore_session() as ks:  # another process destroys it
        KeyRing(keyring.provider).destroy_dataset(ks, dataset_id=SCOPE)
    with stores.keystore_sessions() as ks, pytest.raises(Shredded):
        keyring.dataset_key(ks, dataset_id=SCOPE, purpose=PURPOSE, version=1)
