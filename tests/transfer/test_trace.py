"""Tracing leaked files: canaries and tokens name the recipient, whatever was done to the file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.writers import write_disclosure
from dealvault.errors import Forbidden, InputError
from dealvault.flows.context import AppStores
from dealvault.flows.leaks import trace_file
from dealvault.synth.writers import write_export
from dealvault.transfer.trace import TraceResult, read_file
from tests.conftest import P, World
from tests.transfer.test_canaries import Copy, Loaded, load_dataset, open_canaries, recipient_copy

RECIPIENTS = ("Bidder A", "Bidder B")


@pytest.fixture
def loaded(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> Loaded:
    return load_dataset(stores, keyring, world, tmp_path)


def doctor(
    copy: Copy, *, canaries: int, real: int, seed: int, drop: tuple[str, ...] = ()
) -> pl.DataFrame:
    """What a leaker does: keep a few rows (``canaries`` of them canaries), drop columns,
    shuffle the rest and give them meaningless names."""
    rng = np.random.default_rng(seed)
    frame = copy.frame.with_columns(copy.canary.alias("__canary"))
    kept = pl.concat(
        [
            frame.filter(pl.col("__canary")).head(canaries),
            frame.filter(~pl.col("__canary")).sample(n=real, seed=seed),
        ]
    ).drop("__canary", *drop)
    kept = kept.sample(fraction=1.0, shuffle=True, seed=seed)
    order = [kept.columns[i] for i in rng.permutation(kept.width)]
    return kept.select(order).rename({c: f"字段{i}" for i, c in enumerate(order)})


def write(frame: pl.DataFrame, path: Path, *, encoding: str = "utf-8") -> Path:
    if path.suffix == ".csv":
        path.write_bytes(frame.write_csv().encode(encoding))
    elif path.suffix == ".xlsx":
        frame.write_excel(path)
    else:
        frame.write_parquet(path)
    return path


def trace(stores: AppStores, keyring: KeyRing, world: World, path: Path) -> TraceResult:
    return trace_file(stores, keyring, actor=P(world.steward), path=path, deal=world.deal)


def _personal_values(stores: AppStores, keyring: KeyRing, loaded: Loaded) -> set[str]:
    """Every canary and customer value a trace result or error must never show."""
    out: set[str] = set()
    for c in open_canaries(stores, keyring, loaded.deal_id):
        out.update(v for v in (c.name, c.phone, c.phone[3:], c.email, c.id_number) if v)
    for col in ("name", "phone", "email", "id_number", "address"):
        out.update(v for v in loaded.customers.get_column(col).drop_nulls().to_list() if v)
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
@pytest.mark.parametrize("level", ["full", "masked"])
def test_doctored_copies_name_their_recipient(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path,
    fmt: str, level: str,
) -> None:  # fmt: skip
    secrets = _personal_values(stores, keyring, loaded)
    for n, recipient in enumerate(RECIPIENTS):
        copy = recipient_copy(stores, keyring, loaded, recipient=recipient, level=level, seed=n)
        leaked = doctor(copy, canaries=1, real=4, seed=n)
        path = write(leaked, tmp_path / f"leak-{n}.{fmt}", encoding="gbk" if n else "utf-8")
        got = trace(stores, keyring, world, path)
        assert got.verdict == recipient, got
        assert got.confidence in ("high", "medium")
        (ev,) = got.evidence
        assert ev.canaries_planted == 3 and ev.canaries_found == 1
        if level == "full":  # clear values: every strong rule fires on the one canary
            assert (ev.by_email, ev.by_phone, ev.by_id_number, ev.by_name_birth) == (1, 1, 1, 1)
            assert ev.tokens_resolved == 0 and got.confidence == "medium"
        else:  # masked values and the token column
            assert ev.by_masked == 1 and ev.by_token == 1
            assert ev.tokens_resolved == 5 and ev.customers_exposed == 4
            assert got.confidence == "high" and len(got.subject_ids) == 4
        shown = got.model_dump_json()
        assert "subject_ids" not in shown
        assert not [v for v in secrets if v in shown]


def test_tokens_alone_name_the_recipient(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path
) -> None:
    a = recipient_copy(stores, keyring, loaded, recipient="Bidder A", level="pseudonymized")
    b = recipient_copy(stores, keyring, loaded, recipient="Bidder B", level="pseudonymized")
    assert {"token", "age", "city"} <= set(a.frame.columns)
    leaked = doctor(b, canaries=0, real=3, seed=4)
    got = trace(stores, keyring, world, write(leaked, tmp_path / "tokens.parquet"))
    assert (got.verdict, got.confidence) == ("Bidder B", "high")
    (ev,) = got.evidence
    assert (ev.tokens_resolved, ev.customers_exposed, ev.canaries_found) == (3, 3, 0)
    assert ev.datasets == ["crm"] and ev.deals == [world.deal]
    # a single token still names the recipient, with less confidence
    one = doctor(a, canaries=0, real=1, seed=5)
    got = trace(stores, keyring, world, write(one, tmp_path / "one.csv"))
    assert (got.verdict, got.confidence) == ("Bidder A", "medium")


def test_masked_canaries_without_tokens(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path
) -> None:
    copy = recipient_copy(stores, keyring, loaded, recipient="Bidder B", level="masked")
    leaked = doctor(copy, canaries=2, real=10, seed=2, drop=("token",))
    got = trace(stores, keyring, world, write(leaked, tmp_path / "masked.xlsx"))
    assert (got.verdict, got.confidence) == ("Bidder B", "medium")
    assert got.evidence[0].by_masked == 2 and got.tokens_seen == 0


def test_metadata_line_and_declared_recipient(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path
) -> None:
    copy = recipient_copy(stores, keyring, loaded, recipient="Bidder A", level="masked")
    for fmt in ("csv", "xlsx", "parquet"):
        path = tmp_path / f"disclosure.{fmt}"
        meta = {"level": "masked", "recipient": "Bidder A", "deal": world.deal}
        write_disclosure(copy.frame, path=path, fmt=fmt, meta=meta)  # type: ignore[arg-type]
        got = trace(stores, keyring, world, path)
        assert (got.verdict, got.confidence, got.declared_recipient) == (
            "Bidder A", "high", "Bidder A",
        )  # fmt: skip
        ev = got.evidence[0]
        assert ev.canaries_found == 3 and ev.customers_exposed == loaded.customers.height
    # the file's own claim is not evidence: renamed to a .txt and stripped, it still traces
    renamed = tmp_path / "notes.txt"
    renamed.write_bytes((tmp_path / "disclosure.csv").read_bytes().split(b"\n", 1)[1])
    got = trace(stores, keyring, world, renamed)
    assert got.verdict == "Bidder A" and got.declared_recipient is None
    assert got.format == "csv"


def test_no_evidence_is_unknown(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path
) -> None:
    recipient_copy(stores, keyring, loaded, recipient="Bidder A", level="masked")
    other = write_export(out_dir=tmp_path / "other", rows=50, seed=99, fmt="csv")["customers"]
    got = trace(stores, keyring, world, other)
    assert (got.verdict, got.confidence, got.evidence) == ("unknown", "none", [])
    assert got.notes and got.rows == 51  # the header line is read as one more row
    # 32-hex strings that are nobody's tokens
    rng = np.random.default_rng(1)
    fake = pl.DataFrame({"t": [rng.bytes(16).hex() for _ in range(20)]})
    got = trace(stores, keyring, world, write(fake, tmp_path / "fake.parquet"))
    assert (got.verdict, got.tokens_seen) == ("unknown", 20)


def test_mixed_copies_lower_the_confidence(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path
) -> None:
    a = recipient_copy(stores, keyring, loaded, recipient="Bidder A", level="full")
    b = recipient_copy(stores, keyring, loaded, recipient="Bidder B", level="full")
    mixed = pl.concat(
        [doctor(a, canaries=3, real=2, seed=1), doctor(b, canaries=1, real=2, seed=1)]
    )
    got = trace(stores, keyring, world, write(mixed, tmp_path / "mixed.csv"))
    assert (got.verdict, got.confidence) == ("Bidder A", "low")
    assert [e.recipient for e in got.evidence] == ["Bidder A", "Bidder B"]
    assert "Bidder B" in got.notes[0]


def test_trace_is_audited_and_limited_to_the_seller(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path
) -> None:
    copy = recipient_copy(stores, keyring, loaded, recipient="Bidder A", level="masked")
    path = write(doctor(copy, canaries=1, real=3, seed=3), tmp_path / "leak.csv")
    got = trace_file(stores, keyring, actor=P(world.steward), path=path)  # every deal of the actor
    assert got.verdict == "Bidder A"
    with pytest.raises(Forbidden):
        trace_file(stores, keyring, actor=P(world.bidder_person), path=path, deal=world.deal)
    with stores.records_session() as s:
        events = s.execute(
            select(AuditEvent.decision, AuditEvent.body).where(AuditEvent.action == "trace")
        ).all()
    assert [d for d, _ in events] == ["allow", "deny"]
    body = json.loads(bytes(events[0][1]))
    assert body["objects"]["verdict"] == "Bidder A" and body["objects"]["sha256"] == got.sha256
    assert body["subjects"]["count"] == 3 and body["counts"]["customers_exposed"] == 3


def test_bad_files_fail_cleanly(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=r"missing\.csv: file not found"):
        trace(stores, keyring, world, tmp_path / "missing.csv")
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        trace(stores, keyring, world, empty)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(InputError, match=r"broken\.xlsx: cannot be read as an XLSX workbook"):
        trace(stores, keyring, world, broken)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_neutralised_full_copies_still_trace(
    stores: AppStores, keyring: KeyRing, world: World, loaded: Loaded, tmp_path: Path, fmt: str
) -> None:
    copy = recipient_copy(stores, keyring, loaded, recipient="Bidder B", level="full")
    leaked = doctor(copy, canaries=1, real=3, seed=6)
    path = tmp_path / f"full.{fmt}"
    write_disclosure(leaked, path=path, fmt=fmt, meta={"level": "full"})  # type: ignore[arg-type]
    if fmt == "csv":
        lines = path.read_text(encoding="utf-8").splitlines()
        cells = [c for row in csv.reader(lines) for c in row]
    else:
        cells = [str(c) for ws in openpyxl.load_workbook(path) for r in ws.values for c in r]
    phones = [c for c in cells if "+86" in c]
    assert phones and all(c.startswith("'+86") for c in phones)  # neutralised in the file
    got = trace(stores, keyring, world, path)
    (ev,) = got.evidence
    assert got.verdict == "Bidder B" and ev.canaries_found == 1
    assert (ev.by_email, ev.by_phone, ev.by_id_number, ev.by_name_birth) == (1, 1, 1, 1)
    # what trace reads is the text as released, the quotes taken off again
    data, _ = read_file(path)
    text = {v for f in data.frames for c in f.columns for v in f[c].cast(pl.String).drop_nulls()}
    assert {c[1:] for c in phones} <= text and not any(v.startswith("'+86") for v in text)


def test_read_file_takes_off_the_formula_quotes(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text("a,b\n'=1+2,''-x\n'plain,'@me\n", encoding="utf-8")
    data, _ = read_file(path)
    (frame,) = data.frames
    assert frame.rows() == [("a", "b"), ("=1+2", "'-x"), ("'plain", "@me")]
