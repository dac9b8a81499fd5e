"""Verification with SQLite's native scan (the dv_audit_leaves aggregate) reports exactly
what verification row by row reports, intact or tampered; an intact log is read by it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.orm import Session

from dealvault import native
from dealvault.audit import scan, store, verify
from dealvault.audit.note import Signer, generate_signer
from dealvault.audit.verify import FastLeaves
from dealvault.flows.context import AppStores
from tests.audit import tamper
from tests.audit.conftest import routine
from tests.conftest import World


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Chunks of 3 events (so a log has many, clean and damaged ones), and a list of the
    chunks the native scan gave clean (by their first event)."""
    monkeypatch.setattr(verify, "CHUNK", 3)
    served: list[int] = []
    native_scan = scan.native_scan

    @contextmanager
    def counting(session: Session) -> Iterator[FastLeaves | None]:
        with native_scan(session) as inner:
            assert inner is not None

            def leaves(start: int, limit: int) -> bytes | None:
                got = inner(start, limit)
                if got:
                    served.append(start)
                return got

            yield leaves

    monkeypatch.setattr(scan, "native_scan", counting)
    yield served


@contextmanager
def _rows_only(_session: Session) -> Iterator[FastLeaves | None]:
    yield None


def _report(stores: AppStores, *, rows_only: bool = False) -> verify.VerifyReport:
    native_scan = scan.native_scan
    if rows_only:
        scan.native_scan = _rows_only
    try:
        with stores.records_session() as s, stores.records_session() as leaves:
            return store.verify_store(s, leaves)
    finally:
        scan.native_scan = native_scan


def _same_verdict(stores: AppStores) -> verify.VerifyReport:
    """The same problems, first bad event, events, root and coverage. Where rows stop at a
    gap, the chunks the native scan read before it may have checked checkpoints rows did not
    reach: it then covers more, never past the gap."""
    fast, rows = _report(stores), _report(stores, rows_only=True)
    assert (fast.problems, fast.first_bad, fast.root, fast.events) == (
        rows.problems,
        rows.first_bad,
        rows.root,
        rows.events,
    )
    assert fast.scanned == rows.scanned
    if rows.scanned:
        assert fast.covered == rows.covered
    else:  # stopped at a gap
        assert rows.covered <= fast.covered <= (fast.first_bad or 0)
    return fast


def _sqlite(stores: AppStores) -> None:
    if stores.records_engine.dialect.name != "sqlite":
        pytest.skip("the native scan reads SQLite")
    if not native.NATIVE:
        pytest.skip("the C kernels are not in use")


def test_an_intact_log_is_read_by_the_native_scan(
    stores: AppStores, busy: World, small_chunks: list[int]
) -> None:
    _sqlite(stores)
    routine(stores, 5)  # events beyond the last checkpoint: read as rows
    rep = _same_verdict(stores)
    assert rep.ok, rep.problems
    last = max(tamper.checkpoint_sizes(stores))
    assert small_chunks and small_chunks[0] == 0 and len(small_chunks) >= last // 3
    assert max(small_chunks) < last < rep.events


def _body(stores: AppStores, seq: int) -> None:
    tamper.set_body(stores, seq, tamper.body(stores, seq).replace(b'"v":', b'"v": '))


def _actor(stores: AppStores, seq: int) -> None:
    tamper.sql(stores, "UPDATE audit_events SET actor = 'x@y.example' WHERE seq = :s", s=seq)


def _at_text(stores: AppStores, seq: int) -> None:
    tamper.sql(stores, "UPDATE audit_events SET at = '2020-01-01' WHERE seq = :s", s=seq)


def _subjects(stores: AppStores, seq: int) -> None:
    tamper.sql(stores, "DELETE FROM audit_event_subjects WHERE seq = :s", s=seq)


def _gap(stores: AppStores, seq: int) -> None:
    tamper.sql(stores, "DELETE FROM audit_events WHERE seq = :s", s=seq)


def _moved(stores: AppStores, seq: int) -> None:
    tamper.sql(stores, "UPDATE audit_events SET seq = 100000 WHERE seq = :s", s=seq)


def _body_as_text(stores: AppStores, seq: int) -> None:
    tamper.sql(stores, "UPDATE audit_events SET body = CAST(body AS TEXT) WHERE seq = :s", s=seq)


@pytest.mark.parametrize(
    "damage", [_body, _actor, _at_text, _subjects, _gap, _moved, _body_as_text]
)
def test_a_tampered_log_gets_the_report_rows_give(
    stores: AppStores,
    busy: World,
    small_chunks: list[int],
    damage: Callable[[AppStores, int], None],
) -> None:
    _sqlite(stores)
    seq = tamper.seq_of(stores, "import")
    tamper.drop_triggers(stores)
    damage(stores, seq)
    rep = _same_verdict(stores)
    if damage is _body_as_text:
        assert rep.ok, rep.problems  # the same bytes, as SQLite text: still the event
    else:
        assert not rep.ok and rep.first_bad is not None and rep.first_bad <= seq
    assert all(start + 3 <= seq for start in small_chunks)  # from the damage on: rows


def test_a_rewrite_under_another_key_gets_the_report_rows_give(
    stores: AppStores, busy: World, small_chunks: list[int]
) -> None:
    _sqlite(stores)
    seq = tamper.seq_of(stores, "deal.stage")
    tamper.drop_triggers(stores)
    tamper.set_body(stores, seq, tamper.body(stores, seq).replace(b"teaser sent", b"teaser lost"))
    tamper.rebuild_tree(stores)
    tamper.resign(stores, Signer.from_key(generate_signer(stores.audit.origin)[0]))
    rep = _same_verdict(stores)
    assert rep.ok  # consistent under the new key: only a pinned key tells (test_tamper_store)


@pytest.mark.parametrize("orphan", [-1, 1_000_000])
def test_a_subject_list_without_its_event_is_found(
    stores: AppStores, busy: World, orphan: int
) -> None:
    tamper.drop_triggers(stores)
    tamper.sql(
        stores,
        "INSERT INTO audit_event_subjects (seq, count, packed) VALUES (:s, 1, :p)",
        s=orphan,
        p=b"0123",
    )
    rep = _report(stores)
    assert f"event {orphan}: subject list without an event" in rep.problems
