"""Master-key providers: an Argon2id-wrapped key file (passphrase) and a raw key (env)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dealvault.config import Settings
from dealvault.errors import Conflict, Invalid, KeyUnavailable, NotFound
from dealvault.files import ensure_private_dir, open_private, read_secret_text

KEYFILE_FORMAT = "dealvault-keyfile"
KEYFILE_VERSION = 1


class KeyProvider(Protocol):
    """Where the master key (KEK) comes from. Several versions may exist during rotation."""

    name: str
    kek_id: str

    def active_version(self) -> int: ...

    def versions(self) -> list[int]: ...

    def kek(self, version: int) -> bytes: ...

    def add_version(self) -> int: ...

    def retire(self, version: int) -> None: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def decode_raw_key(text: str) -> bytes:
    """A 256-bit key given as 64 hex digits or base64."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 64 else _unb64(text)
    except (ValueError, binascii.Error):
        raise KeyUnavailable("master key is neither 64 hex digits nor base64") from None
    if len(key) != 32:
        raise KeyUnavailable(f"master key must be 32 bytes, got {len(key)}")
    return key


@dataclass
class EnvKeyProvider:
    """Raw key(s) from ``DEALVAULT_MASTER_KEY``: ``KEY`` or ``N:KEY,M:KEY`` (first is active)."""

    kek_id: str
    _keys: dict[int, bytes]
    _active: int
    name: str = "env"

    @classmethod
    def from_text(cls, *, kek_id: str, text: str) -> EnvKeyProvider:
        keys: dict[int, bytes] = {}
        active = 0
        for i, part in enumerate(p for p in text.split(",") if p.strip()):
            if ":" in part:
                ver_text, key_text = part.split(":", 1)
                if not ver_text.strip().isdigit():
                    raise KeyUnavailable("master key versions must be whole numbers, as in 2:KEY")
                version = int(ver_text)
            else:
                version = 1
            keys[version] = decode_raw_key(key_text if ":" in part else part)
            if i == 0:
                active = version
        if not keys:
            raise KeyUnavailable("DEALVAULT_MASTER_KEY is empty")
        return cls(kek_id=kek_id, _keys=keys, _active=active)

    def active_version(self) -> int:
        return self._active

    def versions(self) -> list[int]:
        return sorted(self._keys)

    def kek(self, version: int) -> bytes:
        try:
            return self._keys[version]
        except KeyError:
            raise KeyUnavailable(
                f"master key version {version} is not in DEALVAULT_MASTER_KEY"
            ) from None

    def add_version(self) -> int:
        raise Invalid(
            "the env key provider cannot make a key; to rotate, put the new key first in "
            "DEALVAULT_MASTER_KEY as 'N:NEWKEY,M:OLDKEY' and run the rotation again"
        )

    def retire(self, version: int) -> None:
        """Nothing to do: the operator removes the old key from the environment."""


class PassphraseKeyProvider:
    """Master keys kept in a file, each wrapped with AES-256-GCM under an Argon2id-derived key."""

    name = "passphrase"

    def __init__(self, *, path: Path, passphrase: str) -> None:
        self.path = path
        self._passphrase = passphrase
        self._doc = self._read()
        self.kek_id: str = str(self._doc["kek_id"])
        self._wrapping = self._derive(self._doc["kdf"])
        self._cache: dict[int, bytes] = {}
        # Unwrap the active key at once so a wrong passphrase fails here, clearly.
        self.kek(self.active_version())

    def __repr__(self) -> str:
        return f"PassphraseKeyProvider(path={self.path!s}, kek_id={self.kek_id!r})"

    @staticmethod
    def create(
        *,
        path: Path,
        passphrase: str,
        time_cost: int = 3,
        memory_kib: int = 64 * 1024,
        parallelism: int = 2,
    ) -> PassphraseKeyProvider:
        if path.exists():
            raise Conflict(f"key file {path} already exists")
        if len(passphrase) < 8:
            raise Invalid("passphrase must have at least 8 characters")
        kdf = {
            "name": "argon2id",
            "time_cost": time_cost,
            "memory_kib": memory_kib,
            "parallelism": parallelism,
            "salt": _b64(secrets.token_bytes(16)),
        }
        doc: dict[str, Any] = {
            "format": KEYFILE_FORMAT,
            "version": KEYFILE_VERSION,
            "kek_id": "kek-" + secrets.token_hex(4),
            "kdf": kdf,
            "active": 1,
            "keys": [],
        }
        wrapping = PassphraseKeyProvider._derive_with(passphrase, kdf)
        doc["keys"].append(_wrap_entry(wrapping, doc["kek_id"], 1, secrets.token_bytes(32)))
        _write_atomic(path, doc)
        return PassphraseKeyProvider(path=path, passphrase=passphrase)

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            raise NotFound(f"key file {self.path} not found; run 'dealvault init' first")
        try:
            doc = json.loads(read_secret_text(self.path, what="master key file"))
        except (ValueError, UnicodeDecodeError):
            raise KeyUnavailable(f"key file {self.path} is not a dealvault key file") from None
        if not isinstance(doc, dict) or doc.get("format") != KEYFILE_FORMAT:
            raise KeyUnavailable(f"key file {self.path} is not a dealvault key file")
        if doc.get("version") != KEYFILE_VERSION:
            raise KeyUnavailable(
                f"key file {self.path} has unsupported version {doc.get('version')}"
            )
        return doc

    @staticmethod
    def _derive_with(passphrase: str, kdf: dict[str, Any]) -> AESGCM:
        if kdf.get("name") != "argon2id":
            raise KeyUnavailable("key file uses an unsupported key-derivation function")
        raw = hash_secret_raw(
            secret=passphrase.encode("utf-8"),
            salt=_unb64(kdf["salt"]),
            time_cost=int(kdf["time_cost"]),
            memory_cost=int(kdf["memory_kib"]),
            parallelism=int(kdf["parallelism"]),
            hash_len=32,
            type=Type.ID,
        )
        return AESGCM(raw)

    def _derive(self, kdf: dict[str, Any]) -> AESGCM:
        return self._derive_with(self._passphrase, kdf)

    def active_version(self) -> int:
        return int(self._doc["active"])

    def versions(self) -> list[int]:
        return sorted(int(e["version"]) for e in self._doc["keys"])

    def kek(self, version: int) -> bytes:
        if version in self._cache:
            return self._cache[version]
        for entry in self._doc["keys"]:
            if int(entry["version"]) == version:
                try:
                    key = self._wrapping.decrypt(
                        _unb64(entry["nonce"]),
                        _unb64(entry["wrapped"]),
                        _keyfile_aad(self.kek_id, version),
                    )
                except InvalidTag:
                    raise KeyUnavailable(
                        f"wrong passphrase for key file {self.path} (or the file was altered)"
                    ) from None
                self._cache[version] = key
                return key
        raise KeyUnavailable(f"master key version {version} is not in key file {self.path}")

    def add_version(self) -> int:
        version = max(self.versions()) + 1
        self._doc["keys"].append(
            _wrap_entry(self._wrapping, self.kek_id, version, secrets.token_bytes(32))
        )
        self._doc["active"] = version
        _write_atomic(self.path, self._doc)
        return version

    def retire(self, version: int) -> None:
        if version == self.active_version():
            raise Conflict("cannot retire the active master key")
        self._doc["keys"] = [e for e in self._doc["keys"] if int(e["version"]) != version]
        self._cache.pop(version, None)
        _write_atomic(self.path, self._doc)


def _keyfile_aad(kek_id: str, version: int) -> bytes:
    return f"dealvault-keyfile|{kek_id}|{version}".encode()


def _wrap_entry(wrapping: AESGCM, kek_id: str, version: int, key: bytes) -> dict[str, Any]:
    nonce = secrets.token_bytes(12)
    return {
        "version": version,
        "nonce": _b64(nonce),
        "wrapped": _b64(wrapping.encrypt(nonce, key, _keyfile_aad(kek_id, version))),
    }


def _write_atomic(path: Path, doc: dict[str, Any]) -> None:
    ensure_private_dir(path.parent, what=None)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open_private(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def build_provider(settings: Settings, *, passphrase: str | None = None) -> KeyProvider:
    """The provider named in settings. ``passphrase`` overrides settings (e.g. from a prompt)."""
    if settings.key_provider == "env":
        if settings.master_key is None:
            raise KeyUnavailable("key provider 'env' needs DEALVAULT_MASTER_KEY")
        return EnvKeyProvider.from_text(
            kek_id=settings.master_key_id, text=settings.master_key.get_secret_value()
        )
    secret = passphrase
    if secret is None and settings.passphrase is not None:
        secret = settings.passphrase.get_secret_value()
    if secret is None:
        raise KeyUnavailable("no passphrase: set DEALVAULT_PASSPHRASE or answer the prompt")
    return PassphraseKeyProvider(path=settings.resolved_key_file, passphrase=secret)
