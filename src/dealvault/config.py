"""Settings: one pydantic-settings class, built once at the edge and passed in."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dealvault.errors import Invalid

KeyProviderName = Literal["passphrase", "env"]
SETTINGS_FILE = "dealvault.toml"
#: What a settings file may never set: where the stores are, which keys open them, who acts.
#: These come from the environment or the command line only, so that a file dropped in a
#: directory cannot redirect a steward's import into another store under another key.
PROTECTED = frozenset(
    {
        "home",
        "database_url",
        "keystore_url",
        "key_provider",
        "key_file",
        "passphrase",
        "master_key",
        "master_key_id",
        "actor",
        "audit_key_file",
        "audit_verifier_key",
        "audit_verifier_key_file",
        "smtp_password",
        "trusted_proxies",
        "public_url",
        "alert_mail_to",
        "alert_webhook_url",
        "alert_webhook_secret",
        "canary_webhook_secret",
        "canary_gateway",
    }
)


class HomeTomlSource(PydanticBaseSettingsSource):
    """``DEALVAULT_HOME/dealvault.toml``, if present: owned by this user, writable by nobody
    else, and never setting a protected key (Invalid otherwise). The working directory's files
    are not read."""

    def __init__(self, settings_cls: type[BaseSettings], home: Path) -> None:
        super().__init__(settings_cls)
        self.path = home / SETTINGS_FILE

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole file

    def __call__(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        except NotADirectoryError:
            raise Invalid(
                f"the store home {self.path.parent} is not a directory (see --home, DEALVAULT_HOME)"
            ) from None
        except OSError as exc:
            raise Invalid(f"{self.path}: cannot be read ({exc.strerror})") from None
        if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise Invalid(
                f"{self.path}: must be owned by you and writable by nobody else "
                f"(run: chmod 600 {self.path})"
            )
        try:
            data = tomllib.loads(self.path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise Invalid(f"{self.path}: not valid TOML ({exc})") from None
        except OSError as exc:
            raise Invalid(f"{self.path}: cannot be read ({exc.strerror})") from None
        bad = sorted(PROTECTED & set(data))
        if bad:
            raise Invalid(
                f"{self.path}: may not set {', '.join(bad)}; set DEALVAULT_"
                f"{bad[0].upper()} in the environment (or a command-line option) instead"
            )
        return data


class Settings(BaseSettings):
    """Everything configurable. Environment prefix ``DEALVAULT_``; an optional
    ``DEALVAULT_HOME/dealvault.toml`` may tune the rest but never the protected keys.

    Secrets are ``SecretStr`` so they never show in ``repr`` or logs.
    """

    model_config = SettingsConfigDict(
        env_prefix="DEALVAULT_",
        extra="ignore",
        frozen=True,
    )

    home: Path = Field(default=Path(".dealvault"), description="Working directory for the store.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the record store; default SQLite in home."
    )
    keystore_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the key store, kept apart from the records; "
        "default a SQLite file in home.",
    )
    key_provider: KeyProviderName = Field(default="passphrase")
    key_file: Path | None = Field(
        default=None, description="Wrapped master key; default home/master.key"
    )
    passphrase: SecretStr | None = Field(default=None, description="Passphrase for the key file.")
    master_key: SecretStr | None = Field(
        default=None, description="Raw 256-bit master key, base64 or hex (env provider only)."
    )
    master_key_id: str = Field(default="env", description="Key id of the env master key.")
    actor: str | None = Field(default=None, description="Acting person's e-mail or id.")
    batch_size: int = Field(default=20_000, ge=100, le=1_000_000)
    audit_key_file: Path | None = Field(
        default=None,
        description="An older store's plain audit signing key file, moved into the key store "
        "(wrapped by the master key) and deleted on first use; default home/audit.key",
    )
    audit_checkpoint_every: int = Field(
        default=1000,
        ge=0,
        description="A checkpoint every N events when the signing key is at hand (0: none); "
        "security-relevant events are always anchored at once",
    )
    audit_verifier_key: str | None = Field(
        default=None,
        description="The audit log's verifier key, pinned outside the database, used by "
        "'audit verify' and 'audit verify-bundle'",
    )
    audit_verifier_key_file: Path | None = Field(
        default=None, description="A file holding the pinned audit log verifier key"
    )
    lock_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a command waits for another job holding the store or the dataset "
        "(import, receive, shred, key rotation, package build) before failing with a "
        "retryable error (exit code 75).",
    )
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8)
    argon2_parallelism: int = Field(default=2, ge=1)
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Worker processes for bulk decryption (package build); 0: one per usable "
        "core, 1: none (decrypt in the calling process).",
    )
    canary_email_domain: str = Field(
        default="canary.invalid",
        description="E-mail domain of canary customers; the seller must control it.",
    )
    canary_phones: list[str] = Field(
        default=["17000990101", "17000990102", "17000990103", "17100990104", "17100990105"],
        description="Mobile numbers (11 digits) the seller controls, given to canary customers.",
    )

    # -- the server (dealvault serve) -------------------------------------------------------
    public_url: str = Field(
        default="https://localhost:8443",
        description="The server's address as people reach it (links in invitation mails).",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A session ends after this long unused."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, le=24 * 7, description="A session ends this long after sign-in."
    )
    invite_expiry_hours: int = Field(
        default=72, ge=1, le=24 * 14, description="How long an invitation link works."
    )
    reset_expiry_minutes: int = Field(
        default=30, ge=5, le=24 * 60, description="How long a password-reset link works."
    )
    token_max_days: int = Field(
        default=90, ge=1, le=365, description="The longest life of a personal API token."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed checks per account before it is locked."
    )
    client_max_failures: int = Field(
        default=20, ge=1, le=10_000, description="Failed checks per client address per window."
    )
    lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a lock after too many failures lasts."
    )
    password_min_length: int = Field(default=12, ge=8, le=128)
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed.",
    )
    smtp_host: str = Field(default="localhost", description="SMTP server for account mails.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = Field(default=False, description="Upgrade SMTP with STARTTLS.")
    smtp_username: str | None = Field(default=None)
    smtp_password: SecretStr | None = Field(default=None)
    smtp_sender: str = Field(
        default="dealvault@localhost", description="From address of account mails."
    )

    # -- monitoring (docs/monitoring.md) -----------------------------------------------------
    monitor_interval_seconds: int = Field(
        default=10,
        ge=0,
        le=3600,
        description="How often 'dealvault serve' evaluates the monitoring rules over new audit "
        "events (0: never; run 'dealvault monitor run' instead, e.g. from cron).",
    )
    monitor_batch: int = Field(
        default=20_000, ge=100, le=1_000_000, description="Events evaluated per transaction."
    )
    alert_mail: bool = Field(
        default=False,
        description="Mail each new alert (SMTP settings above) to the deal's seller stewards and "
        "security officers, or to the store's operators for an alert about the store.",
    )
    alert_mail_to: list[str] = Field(
        default=[], description="More addresses every new alert is mailed to."
    )
    alert_webhook_url: str | None = Field(
        default=None,
        description="POST each new alert as JSON here, signed with alert_webhook_secret.",
    )
    alert_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA-256 key of the alert webhook's signature."
    )
    canary_webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA-256 key the seller's SMS/e-mail gateway signs canary hits with "
        "(POST /api/canary/hits); unset: the endpoint is off.",
    )
    canary_gateway: str | None = Field(
        default=None,
        description="E-mail of the account (store role canary_gateway) canary hits reported "
        "through the webhook are recorded as.",
    )
    content_words: Path | None = Field(
        default=None,
        description="Word list of the compliance content review (TOML, see "
        "compliance/content_words.toml); unset: the shipped starting list.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        given = (
            init_settings.init_kwargs.get("home") if hasattr(init_settings, "init_kwargs") else None
        )
        home = Path(given or os.environ.get("DEALVAULT_HOME") or ".dealvault")
        return (
            init_settings,
            env_settings,
            HomeTomlSource(settings_cls, home),
            file_secret_settings,
        )

    @property
    def settings_file(self) -> Path | None:
        """The settings file in use, if any."""
        path = self.home / SETTINGS_FILE
        return path if path.exists() else None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'vault.sqlite').resolve()}"

    @property
    def resolved_keystore_url(self) -> str:
        if self.keystore_url:
            return self.keystore_url
        return f"sqlite:///{(self.home / 'keystore.sqlite').resolve()}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.home / "master.key"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file if self.audit_key_file is not None else self.home / "audit.key"

    @property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"
