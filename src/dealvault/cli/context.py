"""What every command gets: settings built once, stores and key ring opened on demand."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import typer
from rich.console import Console

from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import build_provider
from dealvault.errors import Invalid, KeyUnavailable
from dealvault.flows.context import AppStores
from dealvault.flows.setup import load_audit_config


@dataclass
class CliContext:
    settings: Settings
    actor_flag: str | None = None
    console: Console = field(default_factory=Console)
    err: Console = field(default_factory=lambda: Console(stderr=True))
    _stores: AppStores | None = None
    _keyring: KeyRing | None = None

    def stores(self) -> AppStores:
        if self._stores is None:
            stores = AppStores.connect(
                records_url=self.settings.resolved_database_url,
                keystore_url=self.settings.resolved_keystore_url,
            )
            stores.audit = load_audit_config(self.settings, stores=stores, keyring=self._ring)
            self._stores = stores
        return self._stores

    def keyring(self) -> KeyRing:
        """The key ring; the audit log's signing key is unwrapped with it at once, before the
        command's transaction starts (so no prompt or key-store write happens inside one)."""
        ring = self._ring()
        audit = self.stores().audit
        if audit.can_sign:
            _ = audit.signer
        return ring

    def _ring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = KeyRing(build_provider(self.settings, passphrase=self._prompt()))
        return self._keyring

    def _prompt(self) -> str | None:
        if self.settings.key_provider != "passphrase" or self.settings.passphrase is not None:
            return None
        if not sys.stdin.isatty():
            raise KeyUnavailable("no passphrase: set DEALVAULT_PASSPHRASE (no terminal to ask on)")
        return str(typer.prompt("Passphrase for the master key file", hide_input=True))

    def actor_or_none(self) -> str | None:
        return self.actor_flag or self.settings.actor

    def actor(self) -> str:
        who = self.actor_flag or self.settings.actor
        if not who:
            raise Invalid("who is acting? pass --as EMAIL or set DEALVAULT_ACTOR")
        return who

    def close(self) -> None:
        if self._stores is not None:
            self._stores.dispose()


def get(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
