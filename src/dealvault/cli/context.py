"""What every command gets: settings built once, stores and key ring opened on demand."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from dealvault.cli.output import SafeConsole
from dealvault.config import Settings
from dealvault.errors import KeyUnavailable, NotFound
from dealvault.files import check_store, sqlite_file

if TYPE_CHECKING:  # the stores and keys are opened, and their modules imported, on demand
    from dealvault.access.principal import Principal
    from dealvault.crypto.keyring import KeyRing
    from dealvault.flows.context import AppStores
    from dealvault.remote import Remote


@dataclass
class CliContext:
    settings: Settings
    actor_flag: str | None = None
    console: Console = field(default_factory=SafeConsole)
    err: Console = field(default_factory=lambda: SafeConsole(stderr=True))
    _stores: AppStores | None = None
    _keyring: KeyRing | None = None
    _principal: Principal | None = None
    _remote: Remote | None = None
    _remote_checked: bool = False

    def stores(self) -> AppStores:
        if self._stores is None:
            s = self.settings
            _require_store(s)
            check_store(
                home=s.home,
                database_urls=[s.resolved_database_url, s.resolved_keystore_url],
                directories=[s.rejects_dir, s.home / "backups"],
            )
            from dealvault.flows.context import AppStores
            from dealvault.flows.setup import load_audit_config

            stores = AppStores.connect(
                records_url=s.resolved_database_url,
                keystore_url=s.resolved_keystore_url,
                lock_timeout=s.lock_timeout,
            )
            stores.audit = load_audit_config(s, stores=stores, keyring=self._ring)
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
            from dealvault.crypto.keyring import KeyRing
            from dealvault.crypto.providers import build_provider

            self._keyring = KeyRing(build_provider(self.settings, passphrase=self._prompt()))
        return self._keyring

    def _prompt(self) -> str | None:
        if self.settings.key_provider != "passphrase" or self.settings.passphrase is not None:
            return None
        if not sys.stdin.isatty():
            raise KeyUnavailable("no passphrase: set DEALVAULT_PASSPHRASE (no terminal to ask on)")
        return str(typer.prompt("Passphrase for the master key file", hide_input=True))

    def actor(self) -> Principal:
        """Who acts (operator mode: ``--as`` / ``DEALVAULT_ACTOR``, else the only operator);
        ``asserted`` for a person of another organisation than the store's operator."""
        if self._principal is None:
            from dealvault.flows.store import cli_principal

            who = (self.actor_flag or self.settings.actor or "").strip() or None
            self._principal = cli_principal(self.stores(), email=who)
        return self._principal

    def remote(self) -> Remote | None:
        """The server this user signed in to with ``dealvault login`` (None: work on the
        local store). A party's commands go there; the server decides and records them."""
        if not self._remote_checked:
            self._remote_checked = True
            from dealvault.remote import Login, Remote, login_file

            login = Login.load(login_file())
            if login is not None:
                self._remote = Remote(login)
                who = login.email or "an API token"
                self.err.print(f"(via {login.server} as {who})", soft_wrap=True)
        return self._remote

    def close(self) -> None:
        if self._stores is not None:
            self._stores.dispose()


def _require_store(s: Settings) -> None:
    """Refuse to work on a store that was never made (no SQLite record database where the
    settings point), rather than create an empty one as a side effect of a typo in --home."""
    records = sqlite_file(s.resolved_database_url)
    if records is not None and not records.exists():
        raise NotFound(
            f"no dealvault store here: {records} does not exist; create the store with "
            "'dealvault init --operator EMAIL --org ORGANISATION', or point --home "
            "(DEALVAULT_HOME) at an existing one"
        )


def get(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
