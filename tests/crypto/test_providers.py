"""Key providers: passphrase key file (Argon2id) and env key; secrets never in repr."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from dealvault.config import Settings
from dealvault.crypto.providers import EnvKeyProvider, PassphraseKeyProvider, build_provider
from dealvault.errors import Conflict, Invalid, KeyUnavailable, NotFound

FAST = {"time_cost": 1, "memory_kib": 1024, "parallelism": 1}


def test_passphrase_file_round_trip_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    p = PassphraseKeyProvider.create(path=path, passphrase="correct horse", **FAST)
    k1 = p.kek(1)
    assert len(k1) == 32
    again = PassphraseKeyProvider(path=path, passphrase="correct horse")
    assert again.kek(1) == k1 and again.kek_id == p.kek_id
    assert again.add_version() == 2
    reopened = PassphraseKeyProvider(path=path, passphrase="correct horse")
    assert reopened.active_version() == 2 and reopened.versions() == [1, 2]
    assert reopened.kek(2) != k1
    reopened.retire(1)
    assert PassphraseKeyProvider(path=path, passphrase="correct horse").versions() == [2]
    with pytest.raises(Conflict):
        reopened.retire(2)
    assert path.stat().st_mode & 0o777 == 0o600
    assert k1.hex() not in path.read_text()


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    PassphraseKeyProvider.create(path=path, passphrase="correct horse", **FAST)
    with pytest.raises(KeyUnavailable, match="wrong passphrase"):
        PassphraseKeyProvider(path=path, passphrase="wrong horse!")


def test_tampered_key_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    PassphraseKeyProvider.create(path=path, passphrase="correct horse", **FAST)
    doc = json.loads(path.read_text())
    doc["kek_id"] = "kek-other"
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyUnavailable):
        PassphraseKeyProvider(path=path, passphrase="correct horse")
    path.write_text("not json")
    with pytest.raises(KeyUnavailable, match="not a dealvault key file"):
        PassphraseKeyProvider(path=path, passphrase="correct horse")


def test_missing_file_and_short_passphrase(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="dealvault init"):
        PassphraseKeyProvider(path=tmp_path / "none.key", passphrase="whatever1")
    with pytest.raises(Invalid, match="8 characters"):
        PassphraseKeyProvider.create(path=tmp_path / "k", passphrase="short", **FAST)
    PassphraseKeyProvider.create(path=tmp_path / "k2", passphrase="long enough", **FAST)
    with pytest.raises(Conflict):
        PassphraseKeyProvider.create(path=tmp_path / "k2", passphrase="long enough", **FAST)


def test_env_provider_forms() -> None:
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    p = EnvKeyProvider.from_text(kek_id="ci", text=k1.hex())
    assert p.active_version() == 1 and p.kek(1) == k1
    import base64

    p2 = EnvKeyProvider.from_text(
        kek_id="ci", text=f"2:{base64.b64encode(k2).decode()},1:{k1.hex()}"
    )
    assert p2.active_version() == 2 and p2.versions() == [1, 2] and p2.kek(1) == k1
    with pytest.raises(KeyUnavailable, match="version 3"):
        p2.kek(3)
    with pytest.raises(Invalid, match="cannot make a key"):
        p2.add_version()
    with pytest.raises(KeyUnavailable, match="32 bytes"):
        EnvKeyProvider.from_text(kek_id="ci", text="abcd")
    assert k1.hex() not in repr(p) and str(list(k1)) not in repr(p)


def test_secrets_hidden_in_settings_repr(tmp_path: Path) -> None:
    key = secrets.token_bytes(32).hex()
    s = Settings(home=tmp_path, passphrase="hunter2hunter2", master_key=key, key_provider="env")
    assert "hunter2" not in repr(s) and key not in repr(s) and key not in str(s.model_dump())
    prov = build_provider(s)
    assert prov.name == "env"
    with pytest.raises(KeyUnavailable, match="DEALVAULT_MASTER_KEY"):
        build_provider(Settings(home=tmp_path, key_provider="env"))


def test_settings_from_environment_and_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEALVAULT_HOME", str(home))
    # a settings file in the working directory is never read
    (tmp_path / "dealvault.toml").write_text("batch_size = 4321\n")
    assert Settings().batch_size == 20_000
    # DEALVAULT_HOME/dealvault.toml tunes the rest; the environment wins over it
    toml = home / "dealvault.toml"
    toml.write_text("batch_size = 1234\naudit_checkpoint_every = 7\n")
    toml.chmod(0o600)
    monkeypatch.setenv("DEALVAULT_AUDIT_CHECKPOINT_EVERY", "9")
    monkeypatch.setenv("DEALVAULT_ACTOR", "env@b.example")
    s = Settings()
    assert s.batch_size == 1234  # from the toml file
    assert s.audit_checkpoint_every == 9  # environment wins over the file
    assert s.actor == "env@b.example"  # the actor comes from the environment only
    assert s.settings_file == toml
    assert s.resolved_database_url.startswith("sqlite:///")
    # the file may not set who acts, where the stores are or which key opens them
    for line in (
        'actor = "a@b.example"',
        'database_url = "sqlite:///x.db"',
        'key_provider = "env"',
    ):
        toml.write_text(f"batch_size = 1234\n{line}\n")
        with pytest.raises(Invalid, match="may not set " + line.split(" ")[0]):
            Settings()
    # and a file others may write is refused
    toml.write_text("batch_size = 1234\n")
    toml.chmod(0o620)
    with pytest.raises(Invalid, match="writable by nobody else"):
        Settings()
