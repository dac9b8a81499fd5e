"""Use case: initialise a store (schema migrations, key file, key-store registration)."""

from __future__ import annotations

from pydantic import BaseModel

from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import KeyProvider, PassphraseKeyProvider, build_provider
from dealvault.db import migrate
from dealvault.db.stores import Stores


class InitOut(BaseModel):
    home: str
    records: str
    keystore: str
    key_provider: str
    kek_id: str
    key_file: str | None
    created_key_file: bool
    records_revision: str | None
    keystore_revision: str | None


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def init_store(
    settings: Settings, *, passphrase: str | None
) -> tuple[InitOut, Stores, KeyProvider]:
    """Create home, migrate both stores, make the key file if needed and register the key."""
    settings.home.mkdir(parents=True, exist_ok=True)
    created = False
    provider: KeyProvider
    if settings.key_provider == "passphrase" and not settings.resolved_key_file.exists():
        secret = passphrase or (
            settings.passphrase.get_secret_value() if settings.passphrase else None
        )
        provider = PassphraseKeyProvider.create(
            path=settings.resolved_key_file,
            passphrase=secret or "",
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        created = True
    else:
        provider = build_provider(settings, passphrase=passphrase)
    stores = Stores.open(
        records_url=settings.resolved_database_url, keystore_url=settings.resolved_keystore_url
    )
    keyring = KeyRing(provider)
    with stores.keystore_sessions() as ks:
        keyring.verify_kek(ks)
        keyring.register_kek(ks)
        ks.commit()
    out = InitOut(
        home=str(settings.home.resolve()),
        records=_hide_password(settings.resolved_database_url),
        keystore=_hide_password(settings.resolved_keystore_url),
        key_provider=provider.name,
        kek_id=provider.kek_id,
        key_file=str(settings.resolved_key_file) if provider.name == "passphrase" else None,
        created_key_file=created,
        records_revision=migrate.current_revision(stores.records_engine, "records"),
        keystore_revision=migrate.current_revision(stores.keystore_engine, "keystore"),
    )
    return out, stores, provider
