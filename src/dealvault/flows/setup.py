"""Use case: initialise a store (migrations, master key, the log's signing key in the key store,
the first operator, the first checkpoint)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import make_url

from dealvault.access.models import StoreInfo
from dealvault.access.principal import Authn
from dealvault.audit import signing_key
from dealvault.audit.service import AuditConfig, EventIn
from dealvault.audit.signing_key import KeyStoreSigner
from dealvault.audit.store import register_log_key
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import KeyProvider, PassphraseKeyProvider, build_provider
from dealvault.db.stores import Stores
from dealvault.errors import Invalid
from dealvault.files import ensure_private_dir, sqlite_file
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, checkpoint
from dealvault.flows.store import OperatorIn, bootstrap, is_trial


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
    operator: str | None
    trial: bool


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


NEEDS_OPERATOR = (
    "a new store needs its first operator: pass --operator EMAIL --operator-name NAME "
    "--org ORGANISATION (the organisation that runs the store)"
)


def init_store(
    settings: Settings,
    *,
    passphrase: str | None,
    operator: OperatorIn | None = None,
    trial: bool = False,
) -> tuple[InitOut, AppStores, KeyProvider]:
    """Create home, migrate both stores, make the master key file if needed, put the log's
    signing key in the key store, record the first operator (a new store needs one, checked
    before any key is made), register the log key, checkpoint."""
    database = sqlite_file(settings.resolved_database_url)
    if operator is None and database is not None and not database.exists():
        raise Invalid(NEEDS_OPERATOR)  # refused before anything is made
    ensure_private_dir(settings.home, what="DEALVAULT_HOME")
    stores = AppStores.connect(
        records_url=settings.resolved_database_url,
        keystore_url=settings.resolved_keystore_url,
        lock_timeout=settings.lock_timeout,
    )
    with stores.records_session() as s:
        has_operator = s.scalar(select(StoreInfo.id)) is not None
    if not has_operator and operator is None:
        stores.dispose()
        raise Invalid(NEEDS_OPERATOR)
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
        fresh = register_log_key(uow.records, cfg)
    first = (
        bootstrap(stores, operator=operator, trial=trial) if operator and not has_operator else None
    )
    if fresh:
        with stores.unit_of_work() as uow:
            audit(
                stores,
                uow,
                EventIn(
                    action="store.init",
                    actor=first.email if first else "unknown@dealvault.invalid",
                    authn=Authn.LOCAL.value,
                    decision="allow",
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
        records_revision=_revision(stores, "records"),
        keystore_revision=_revision(stores, "keystore"),
        operator=first.email if first else None,
        trial=is_trial(stores),
    )
    return out, stores, provider


def _revision(stores: AppStores, store: str) -> str | None:
    from dealvault.db import migrate  # Alembic is for init and upgrades, not every command

    engine = stores.records_engine if store == "records" else stores.keystore_engine
    return migrate.current_revision(engine, "records" if store == "records" else "keystore")
