"""Use case: initialise a store (migrations, master key, audit signing key, first checkpoint)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy.engine import make_url

from dealvault.audit import signing_key
from dealvault.audit.service import AuditConfig, EventIn
from dealvault.audit.signing_key import KeyStoreSigner
from dealvault.audit.store import register_log_key
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import KeyProvider, PassphraseKeyProvider, build_provider
from dealvault.db import migrate
from dealvault.db.stores import Stores
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, checkpoint


class InitOut(BaseModel):
    home: str
    records: str
    keystore: str
    key_provider: str
    kek_id: str
    key_file: str | None
    created_key_file: bool
    audit_origin: str
    audit_verifier_key: str
    audit_key: str
    records_revision: str | None
    keystore_revision: str | None


def _hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def load_audit_config(
    settings: Settings, *, stores: Stores, keyring: Callable[[], KeyRing]
) -> AuditConfig:
    """The log's signing set-up: its public key is read from the key store without the master
    key; the signing key is unwrapped with ``keyring()`` the first time a checkpoint is signed
    (an older store's plain ``audit.key`` is then moved into the key store and deleted)."""
    source = KeyStoreSigner(
        stores=stores, keyring=keyring, plain_file=settings.resolved_audit_key_file
    )
    return AuditConfig(checkpoint_every=settings.audit_checkpoint_every, source=source)


def init_store(
    settings: Settings, *, passphrase: str | None
) -> tuple[InitOut, AppStores, KeyProvider]:
    """Create home, migrate both stores, make the key files if needed, register, checkpoint."""
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
    stores = AppStores.connect(
        records_url=settings.resolved_database_url,
        keystore_url=settings.resolved_keystore_url,
    )
    keyring = KeyRing(provider)
    with stores.keystore_sessions() as ks:
        keyring.verify_kek(ks)
        keyring.register_kek(ks)
        key = signing_key.ensure(ks, keyring, plain_file=settings.resolved_audit_key_file)
        with stores.records_sessions() as records:
            signing_key.check_registered(records, key.signer)
        ks.commit()
    if key.plain_file is not None:
        signing_key.remove_plain_file(key.plain_file)
    cfg = AuditConfig(signer=key.signer, checkpoint_every=settings.audit_checkpoint_every)
    stores.audit = cfg
    with stores.unit_of_work() as uow:
        if register_log_key(uow.records, cfg):
            audit(
                stores,
                uow,
                EventIn(
                    action="store.init",
                    actor=settings.actor,
                    objects={"origin": cfg.origin, "kek_id": provider.kek_id},
                ),
            )
            checkpoint(stores, uow, reason="store initialised")
    out = InitOut(
        home=str(settings.home.resolve()),
        records=_hide_password(settings.resolved_database_url),
        keystore=_hide_password(settings.resolved_keystore_url),
        key_provider=provider.name,
        kek_id=provider.kek_id,
        key_file=str(settings.resolved_key_file) if provider.name == "passphrase" else None,
        created_key_file=created,
        audit_origin=cfg.origin,
        audit_verifier_key=key.signer.verifier().key_string(),
        audit_key=key.how,
        records_revision=migrate.current_revision(stores.records_engine, "records"),
        keystore_revision=migrate.current_revision(stores.keystore_engine, "keystore"),
    )
    return out, stores, provider
