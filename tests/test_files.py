"""Private files: exact owner-only modes under any umask, symlinks refused, wide modes reported."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dealvault import files
from dealvault.errors import KeyUnavailable, NotFound


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Umask 000: whatever a writer leaves to the umask would come out world-readable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_open_private_is_0600_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    with files.open_private(tmp_path / "a.bin") as fh:
        fh.write(b"secret")
    assert mode(tmp_path / "a.bin") == 0o600
    # an existing file with a wide mode is narrowed before anything is written into it
    wide = tmp_path / "wide.txt"
    wide.write_text("old")
    wide.chmod(0o666)
    with files.open_private(wide, "w", encoding="utf-8") as fh:
        assert mode(wide) == 0o600
        fh.write("new")
    assert wide.read_text() == "new" and mode(wide) == 0o600
    with pytest.raises(FileExistsError):
        files.open_private(wide, exclusive=True)
    with pytest.raises(ValueError, match="writes only"):
        files.open_private(wide, "rb")


def test_open_private_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours to overwrite")
    link = tmp_path / "out.csv"
    link.symlink_to(target)
    with pytest.raises(OSError):
        files.open_private(link, "w", encoding="utf-8")
    assert target.read_text() == "not yours to overwrite"
    with pytest.raises(OSError):
        files.private_file(link)


def test_write_private_is_atomic_and_private(tmp_path: Path, open_umask: None) -> None:
    out = tmp_path / "report.html"
    files.write_private(out, "<p>ok</p>")
    assert out.read_text() == "<p>ok</p>" and mode(out) == 0o600
    with pytest.raises(RuntimeError), files.atomic_private(out) as part:
        part.write_text("half")  # a library writing the part file with the umask's mode
        raise RuntimeError("crash while writing")
    assert out.read_text() == "<p>ok</p>"  # the old file stays whole
    assert not list(tmp_path.glob("*.part"))
    with files.atomic_private(tmp_path / "lib.bin") as part:
        part.write_bytes(b"x")  # e.g. a library that only takes a path
    assert mode(tmp_path / "lib.bin") == 0o600


def test_directories_are_0700_and_wide_ones_warned_about(tmp_path: Path, open_umask: None) -> None:
    made = files.ensure_private_dir(tmp_path / "home" / "rejects", what="rejects directory")
    assert mode(made) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.warns(files.WideModeWarning, match=r"shared is open to other users \(mode 0755\)"):
        files.ensure_private_dir(shared, what="DEALVAULT_HOME")
    assert mode(shared) == 0o755  # warned about, not changed behind the user's back
    with pytest.warns(files.WideModeWarning, match=f"chmod 700 '{shared}'"):
        files.warn_if_wide(shared, what="DEALVAULT_HOME")
    files.ensure_private_dir(shared, what=None)  # a directory the user chose: no warning
    assert files.create_private(tmp_path / "db.sqlite") is True
    assert mode(tmp_path / "db.sqlite") == 0o600
    assert files.create_private(tmp_path / "db.sqlite") is False


def test_key_files_open_to_others_are_refused(tmp_path: Path) -> None:
    key = tmp_path / "master.key"
    key.write_text("{}")
    for wide in (0o644, 0o640, 0o604, 0o620):
        key.chmod(wide)
        with pytest.raises(KeyUnavailable) as err:
            files.read_secret_text(key, what="master key file")
        assert f"mode {wide:04o}" in str(err.value) and f"chmod 600 '{key}'" in str(err.value)
    key.chmod(0o600)
    assert files.read_secret_text(key, what="master key file") == "{}"
    key.chmod(0o400)
    assert files.read_secret_text(key, what="master key file") == "{}"
    with pytest.raises(NotFound, match="master key file"):
        files.read_secret_text(tmp_path / "missing.key", what="master key file")


def test_check_store_names_every_wide_part(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    db = home / "vault.sqlite"
    db.write_bytes(b"")
    db.chmod(0o644)
    Path(f"{db}-wal").write_bytes(b"")
    Path(f"{db}-wal").chmod(0o600)
    rejects = home / "rejects"
    rejects.mkdir(mode=0o700)
    rejects.chmod(0o700)
    with pytest.warns(files.WideModeWarning) as caught:
        found = files.check_store(
            home=home,
            database_urls=[f"sqlite:///{db}", "postgresql://u@h/db", "sqlite://"],
            directories=[rejects, home / "backups"],
        )
    assert found == [home, db]
    assert [str(w.message).split(" /")[0] for w in caught] == ["DEALVAULT_HOME", "database"]
