"""Use case: initialise a store (migrations, master key, audit signing key, first checkpoint)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import make_url

from dealvault.access.models import StoreInfo
from dealvault.access.principal import Authn
from dealvault.audit.note import Signer, generate_signer
from dealvault.audit.service import AuditConfig, EventIn
from dealvault.audit.store import register_log_key
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import KeyProvider, PassphraseKeyProvider, build_provider
from dealvault.db import migrate
from dealvault.errors import Invalid, KeyUnavailable
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
    records_revision: str | None
    keystore_revision: str | None
    operator: str | None
    trial: bool


def _hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def load_audit_config(settings: Settings) -> AuditConfig:
    """The audit signer from its key file (origin = the signer's name), if the store has one."""
    path = settings.resolved_audit_key_file
    if not path.exists():
        return AuditConfig(
            origin="dealvault/unsigned", checkpoint_every=settings.audit_checkpoint_every
        )
    try:
        signer = Signer.from_key(path.read_text("ascii").strip())
    except (ValueError, UnicodeDecodeError):
        raise KeyUnavailable(f"audit key file {path} is not a signed-note signer key") from None
    return AuditConfig(
        origin=signer.name, signer=signer, checkpoint_every=settings.audit_checkpoint_every
    )


def _make_audit_key(path: Path) -> tuple[str, str]:
    """A new Ed25519 signer for this store's log, written with mode 0600."""
    skey, vkey = generate_signer(f"dealvault.invalid/log-{secrets.token_hex(4)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(skey + "\n")
    return skey, vkey


def init_store(
    settings: Settings,
    *,
    passphrase: str | None,
    operator: OperatorIn | None = None,
    trial: bool = False,
) -> tuple[InitOut, AppStores, KeyProvider]:
    """Create home, migrate both stores, make the key files if needed, record the first
    operator (a new store needs one), register the log key, checkpoint."""
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
    if not settings.resolved_audit_key_file.exists():
        _make_audit_key(settings.resolved_audit_key_file)
    cfg = load_audit_config(settings)
    assert cfg.signer is not None
    stores = AppStores.connect(
        records_url=settings.resolved_database_url,
        keystore_url=settings.resolved_keystore_url,
        audit=cfg,
    )
    keyring = KeyRing(provider)
    with stores.records_session() as s:
        has_operator = s.scalar(select(StoreInfo.id)) is not None
    if not has_operator and operator is None:
        stores.dispose()
        raise Invalid(
            "a new store needs its first operator: pass --operator EMAIL --operator-name NAME "
            "--org ORGANISATION (the organisation that runs the store)"
        )
    with stores.keystore_sessions() as ks:
        keyring.verify_kek(ks)
        keyring.register_kek(ks)
        ks.commit()
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
        audit_verifier_key=cfg.signer.verifier().key_string(),
        records_revision=migrate.current_revision(stores.records_engine, "records"),
        keystore_revision=migrate.current_revision(stores.keystore_engine, "keystore"),
        operator=first.email if first else None,
        trial=is_trial(stores),
    )
    return out, stores, provider
