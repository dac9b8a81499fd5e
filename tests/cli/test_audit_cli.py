"""The audit commands around the anchored log: the key, pinned verification, witnesses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dealvault.audit.note import Signer, generate_signer
from dealvault.cli.main import app
from tests.cli.test_cli import OPERATOR, env, jrun, run, setup_deal  # noqa: F401  (env is a fixture)


def _invoke(*args: str, **environ: str) -> tuple[int, str]:
    """Run a command as the operator (the audit commands over the whole log are the operator's)."""
    r = CliRunner().invoke(app, ["--as", OPERATOR, *args], env=environ or None)
    return r.exit_code, r.output


def test_the_key_is_in_the_key_store_and_pinning_catches_another_key(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    setup_deal()
    home = Path(env["DEALVAULT_HOME"])
    assert not (home / "audit.key").exists()
    key = jrun("--as", OPERATOR, "audit", "key", "show")
    assert key["held"] == "key-store" and key["registered"] is True  # type: ignore[index]
    vkey = str(key["verifier_key"])  # type: ignore[index]
    assert "key-store" in run("--as", OPERATOR, "audit", "key", "show")

    code, out = _invoke("audit", "verify")
    assert code == 0 and "only internal consistency was checked" in out
    unpinned = jrun("--as", OPERATOR, "audit", "verify")
    assert unpinned["trust"] == "internal-consistency-only"  # type: ignore[index]

    pinned = jrun("--as", OPERATOR, "audit", "verify", "--verifier-key", vkey)
    assert pinned["ok"] is True and pinned["trust"] == "pinned-key"  # type: ignore[index]
    code, out = _invoke("audit", "verify", "--verifier-key", vkey)
    assert code == 0 and "only internal consistency" not in out and "pinned" in out
    (tmp_path / "log.vkey").write_text(vkey + "\n")
    assert jrun(
        "--as", OPERATOR, "audit", "verify", "--verifier-key-file", str(tmp_path / "log.vkey")
    )["ok"]  # type: ignore[index]
    by_env = _invoke("audit", "verify", "--json", DEALVAULT_AUDIT_VERIFIER_KEY=vkey)
    assert by_env[0] == 0 and json.loads(by_env[1])["trust"] == "pinned-key"

    other = generate_signer(vkey.split("+")[0])[1]
    code, out = _invoke("audit", "verify", "--verifier-key", other)
    assert code == 6 and "not the pinned verifier key" in out
    run("--as", OPERATOR, "audit", "export", str(tmp_path / "bundle"))
    code, out = _invoke("audit", "verify-bundle", str(tmp_path / "bundle"), "--verifier-key", other)
    assert code == 6 and "verification failed at event 0" in out
    code, out = _invoke("audit", "verify", "--verifier-key", "not-a-key")
    assert code == 2 and "--verifier-key: not a C2SP verifier key" in out


def test_without_the_master_key_reads_work_and_changes_are_refused(
    env: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup_deal()
    monkeypatch.delenv("DEALVAULT_MASTER_KEY")
    assert jrun("--as", OPERATOR, "audit", "verify")["ok"] is True  # type: ignore[index]
    events = jrun("--as", OPERATOR, "audit", "log")
    assert isinstance(events, list)
    # a read is itself recorded, after it looked, also without the master key
    assert [e["action"] for e in events[-1:]] == ["audit.verify"]
    assert jrun("--as", OPERATOR, "audit", "key", "show")["held"] == "key-store"  # type: ignore[index]
    r = CliRunner().invoke(app, ["deal", "freeze", "d1", "--reason", "leak suspected"])
    code, out = r.exit_code, r.output  # the steward's action
    assert code == 7 and "DEALVAULT_MASTER_KEY" in out and "Traceback" not in out
    after = jrun("--as", OPERATOR, "audit", "log")
    assert isinstance(after, list)
    actions = [e["action"] for e in after[len(events) :]]
    assert actions == ["audit.log", "keys.audit_key_show"]  # the refused freeze left nothing
    assert not any(e["action"] == "deal.freeze" for e in after)
    monkeypatch.setenv("DEALVAULT_MASTER_KEY", env["DEALVAULT_MASTER_KEY"])
    run("deal", "freeze", "d1", "--reason", "leak suspected")
    last = jrun("--as", OPERATOR, "audit", "log")
    assert isinstance(last, list)
    assert "deal.freeze" in [e["action"] for e in last[len(after) :]]
    assert jrun("--as", OPERATOR, "audit", "verify")["ok"] is True  # type: ignore[index]


def test_the_audit_commands_over_the_whole_log_are_the_operators(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """A steward reads its own deal's log, but whole-log commands are refused and recorded."""
    setup_deal()
    for args in (("verify",), ("export", str(tmp_path / "b")), ("prove", "1"), ("checkpoint",)):
        r = CliRunner().invoke(app, ["audit", *args])
        assert r.exit_code == 4 and "needs one of the roles: operator" in r.output, args
        assert "Traceback" not in r.output
    assert not (tmp_path / "b").exists()
    denied = [
        e
        for e in jrun("--as", OPERATOR, "audit", "log")  # type: ignore[union-attr]
        if e["decision"] == "deny"  # type: ignore[index]
    ]
    assert {e["action"] for e in denied} >= {"audit.verify", "audit.export", "audit.prove"}  # type: ignore[index]


def test_an_older_store_moves_its_plain_key(
    env: dict[str, str],  # noqa: F811
) -> None:
    """'audit key import' for a store whose audit.key is still a plain file."""
    setup_deal()
    home = Path(env["DEALVAULT_HOME"])
    code, out = _invoke("audit", "key", "import")
    assert code == 3 and "no audit key file" in out
    (home / "audit.key").write_text(generate_signer("dealvault.invalid/log-x")[0] + "\n")
    (home / "audit.key").chmod(0o600)
    code, out = _invoke("audit", "key", "import")
    assert code == 5 and "move the file away" in out and (home / "audit.key").exists()


def test_witnesses_and_proof_file_names(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    setup_deal()
    vkey = str(jrun("--as", OPERATOR, "audit", "key", "show")["verifier_key"])  # type: ignore[index]
    wvkey = run("audit", "cosigner-key", "bidder-a.example/witness", "--out", str(tmp_path / "w"))
    wvkey = wvkey.strip()
    assert Signer.from_key((tmp_path / "w").read_text().strip()).verifier().key_string() == wvkey
    run("--as", OPERATOR, "audit", "cosign", "--key", str(tmp_path / "w"))
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    out = jrun(
        "--as",
        OPERATOR,
        "audit",
        "verify",
        "--verifier-key",
        vkey,
        "--witness",
        wvkey,
        "--witness-since",
        later,
    )
    assert out["ok"] is True and out["witnesses"] == [wvkey]  # type: ignore[index]
    code, text = _invoke("audit", "verify", "--verifier-key", vkey, "--witness", wvkey)
    assert code == 6 and "not covered by a checkpoint cosigned by every required witness" in text
    code, text = _invoke("audit", "verify", "--witness", wvkey, "--witness", vkey)
    assert code == 2 and "--witness 2: not a cosignature/v1 (type 0x04) key" in text
    proof = jrun("--as", OPERATOR, "audit", "prove", "2")
    assert proof["proof"] == "event-2.tlog-proof" and proof["event"] == "event-2.event.json"  # type: ignore[index]
    assert Path("event-2.event.json").read_bytes().startswith(b'{"action":')
