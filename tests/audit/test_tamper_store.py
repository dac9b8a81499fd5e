"""Attacks on the stored log (SQLite and PostgreSQL rows edited directly) and what finds them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from dealvault.audit.note import SIG_COSIGNATURE_V1, Signer, generate_signer
from dealvault.audit.pinning import anchors as make_anchors
from dealvault.audit.service import AuditConfig, EventIn, record, record_many
from dealvault.audit.store import LogFilter
from dealvault.audit.verify import Anchors
from dealvault.db.base import utcnow
from dealvault.flows import admin, auditing
from dealvault.flows.context import AppStores
from tests.audit import tamper
from tests.audit.conftest import routine
from tests.conftest import OP, P, World


def _pinned(stores: AppStores) -> Anchors:
    assert stores.audit.verifier is not None
    return Anchors(pinned=stores.audit.verifier)


def test_an_intact_log_verifies_against_its_pinned_key(stores: AppStores, busy: World) -> None:
    out = auditing.verify(stores, actor=OP, anchors=_pinned(stores))
    assert out.ok, out.problems
    assert out.trust == "pinned-key" and out.covered == out.events
    plain = auditing.verify(stores, actor=OP)
    assert plain.ok and plain.trust == "internal-consistency-only"
    assert "only internal consistency was checked" in plain.trust_note


def test_a_log_rewritten_under_another_key_fails_only_against_the_pinned_key(
    stores: AppStores, busy: World
) -> None:
    pinned = _pinned(stores)
    seq = tamper.seq_of(stores, "deal.stage")
    tamper.drop_triggers(stores)
    doc = json.loads(tamper.body(stores, seq))
    doc["purpose"] = "nothing happened"
    tamper.set_body(stores, seq, json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    tamper.rebuild_tree(stores)
    forger = Signer.from_key(generate_signer(stores.audit.origin)[0])  # same name, new key
    tamper.resign(stores, forger)
    assert auditing.verify(stores, actor=OP).ok  # consistent in itself: this is what pinning is for
    out = auditing.verify(stores, actor=OP, anchors=pinned)
    assert not out.ok
    assert out.first_bad == 0 and out.covered == 0
    assert "not the pinned verifier key" in " ".join(out.problems)


def test_a_rewrite_keeping_the_older_checkpoints_is_bounded_by_them(
    stores: AppStores, busy: World
) -> None:
    """The forger re-signs only what follows the edit: the first event no checkpoint under
    the pinned key vouches for is named."""
    pinned = _pinned(stores)
    seq = tamper.seq_of(stores, "deal.stage")
    intact = max(n for n in tamper.checkpoint_sizes(stores) if n <= seq)
    tamper.drop_triggers(stores)
    tamper.set_body(stores, seq, tamper.body(stores, seq).replace(b"teaser sent", b"teaser lost"))
    tamper.rebuild_tree(stores)
    forger = Signer.from_key(generate_signer(stores.audit.origin)[0])
    tamper.resign(stores, forger, above=intact)
    out = auditing.verify(stores, actor=OP, anchors=pinned)
    assert not out.ok and out.first_bad == intact == seq, out.problems


@pytest.mark.parametrize(
    ("column", "value", "hidden_by"),
    [
        ("actor", "someone@else.example", LogFilter(actor="steward@seller.example")),
        ("action", "inventory", LogFilter(action="deal.stage")),
        ("deal", "other-deal", LogFilter(deal="clean-2026")),
        ("decision", "deny", None),
        ("at", None, LogFilter(since=utcnow() - timedelta(hours=1))),
    ],
)
def test_editing_searchable_columns_is_found(
    stores: AppStores, busy: World, column: str, value: str | None, hidden_by: LogFilter | None
) -> None:
    seq = tamper.seq_of(stores, "deal.stage")
    reader = P(busy.steward) if hidden_by is not None and hidden_by.deal else OP  # deal's log
    before = (
        [e["seq"] for e in auditing.log(stores, actor=reader, flt=hidden_by)] if hidden_by else []
    )
    tamper.drop_triggers(stores)
    if column == "at":
        tamper.sql(
            stores,
            "UPDATE audit_events SET at = :v WHERE seq = :s",
            v=utcnow() - timedelta(days=400),
            s=seq,
        )
    else:
        tamper.sql(stores, f"UPDATE audit_events SET {column} = :v WHERE seq = :s", v=value, s=seq)
    if hidden_by is not None:  # the attack works on searches ...
        assert seq in before
        assert seq not in [e["seq"] for e in auditing.log(stores, actor=reader, flt=hidden_by)]
    out = auditing.verify(stores, actor=OP)  # ... and verification finds it, even unpinned
    assert not out.ok and out.first_bad == seq, out.problems
    assert f"event {seq}: its {column} column" in out.problems[0]


def test_deleting_or_editing_a_subject_list_is_found(stores: AppStores, busy: World) -> None:
    seq = tamper.seq_of(stores, "import")
    tamper.drop_triggers(stores)
    tamper.sql(stores, "DELETE FROM audit_event_subjects WHERE seq = :s", s=seq)
    out = auditing.verify(stores, actor=OP)
    assert not out.ok and out.first_bad == seq
    assert f"event {seq}: its subject list was deleted" in out.problems


def test_swapping_a_subject_list_is_found(stores: AppStores, busy: World) -> None:
    imp, read = tamper.seq_of(stores, "import"), tamper.seq_of(stores, "disclose")
    tamper.drop_triggers(stores)
    tamper.sql(
        stores,
        "UPDATE audit_event_subjects SET packed = (SELECT packed FROM audit_event_subjects "
        "WHERE seq = :r), count = 1 WHERE seq = :i",
        r=read,
        i=imp,
    )
    out = auditing.verify(stores, actor=OP)
    assert not out.ok and out.first_bad == imp
    assert f"event {imp}: its stored subject list was altered" in out.problems


def test_dropping_the_tail_but_not_its_checkpoint_names_the_first_missing_event(
    stores: AppStores, busy: World
) -> None:
    n = tamper.size(stores)
    tamper.drop_triggers(stores)
    tamper.truncate(stores, n - 3, checkpoints=False)
    out = auditing.verify(stores, actor=OP)
    assert not out.ok and out.first_bad == n - 3, out.problems
    assert f"event {n - 3}: missing" in out.problems[0]


def test_dropping_the_tail_with_its_checkpoints_needs_a_checkpoint_kept_outside(
    stores: AppStores, busy: World, tmp_path: Path
) -> None:
    """The store alone cannot tell a cut log from a shorter one; a checkpoint kept outside
    (a witness's copy, an earlier export) can."""
    n = tamper.size(stores)
    kept = tmp_path / "latest.note"
    kept.write_text(auditing.checkpoint(stores, actor=OP)["note"], encoding="utf-8")  # type: ignore[arg-type]
    cut = tamper.seq_of(stores, "deal.stage")
    tamper.drop_triggers(stores)
    tamper.truncate(stores, cut, checkpoints=True)
    known = make_anchors(
        verifier_key=stores.audit.verifier.key_string(),  # type: ignore[union-attr]
        known_checkpoints=[kept],
    )
    out = auditing.verify(stores, actor=OP, anchors=known)  # a failed check appends nothing
    assert not out.ok and out.first_bad == cut < n, out.problems
    assert f"event {cut}: missing (checkpoint given latest.note covers" in out.problems[0]
    assert auditing.verify(stores, actor=OP, anchors=_pinned(stores)).ok  # not visible from inside


def test_removing_the_checkpoint_of_a_security_event_is_found(
    stores: AppStores, busy: World
) -> None:
    """A security-relevant event is always followed by a checkpoint signed with it: removing
    that checkpoint to rewrite the tail later leaves the event unanchored, and named."""
    routine(stores, 3)
    admin.set_frozen(stores, code=busy.deal, frozen=True, actor=P(busy.steward), reason="leak")
    freeze = tamper.seq_of(stores, "deal.freeze")
    assert tamper.checkpoint_sizes(stores)[-1] == freeze + 1 == tamper.size(stores)
    tamper.drop_triggers(stores)
    tamper.sql(stores, "DELETE FROM audit_checkpoints WHERE size = :n", n=freeze + 1)
    out = auditing.verify(stores, actor=OP)
    assert not out.ok and out.first_bad == freeze, out.problems
    assert f"event {freeze}: security-relevant, but no signed checkpoint follows it" in (
        " ".join(out.problems)
    )


def test_editing_a_checkpoint_row_is_found(stores: AppStores, busy: World) -> None:
    tamper.drop_triggers(stores)
    tamper.sql(stores, "UPDATE audit_checkpoints SET size = size + 1 WHERE id = 2")
    out = auditing.verify(stores, actor=OP)
    assert not out.ok
    assert "checkpoint #2: its size or root column differs from its note" in out.problems


def _server_events(stores: AppStores) -> list[int]:
    """Events of requests to the server: each names its session (or API token), which the
    canonical body sorts between ``seq`` and ``subjects``; one names 50 customers."""
    session = {"authn": "password+totp", "client": "127.0.0.1", "decision": "allow"}
    with stores.unit_of_work() as uow:
        return record_many(
            uow.records,
            stores.audit,
            [
                EventIn(action="deal.enter", actor="analyst@bidder-a.example", deal="d",
                        session="ses_0123456789abcdef", **session),
                EventIn(action="disclose", actor="analyst@bidder-a.example", deal="d",
                        session="tok_0123456789abcdef", objects={"level": "masked"},
                        subjects=[f"{i:032x}" for i in range(50)], **session),
            ],
        )  # fmt: skip


def test_events_of_server_sessions_verify(stores: AppStores, busy: World) -> None:
    _server_events(stores)
    out = auditing.verify(stores, actor=OP, anchors=_pinned(stores))
    assert out.ok, out.problems


def test_a_swapped_subject_list_of_a_session_event_is_found(stores: AppStores, busy: World) -> None:
    seq = _server_events(stores)[1]
    tamper.drop_triggers(stores)
    tamper.sql(
        stores,
        "UPDATE audit_event_subjects SET packed = (SELECT packed FROM audit_event_subjects "
        "WHERE seq = :i) WHERE seq = :s",
        i=tamper.seq_of(stores, "import"),
        s=seq,
    )
    out = auditing.verify(stores, actor=OP)
    assert not out.ok and out.first_bad == seq
    assert f"event {seq}: its stored subject list was altered" in out.problems


def test_routine_events_after_the_last_checkpoint_are_fine(stores: AppStores, busy: World) -> None:
    routine(stores, 5)
    assert tamper.checkpoint_sizes(stores)[-1] == tamper.size(stores) - 5
    assert auditing.verify(stores, actor=OP, anchors=_pinned(stores)).ok


def test_a_version_1_tail_is_not_held_to_the_anchoring_rule(stores: AppStores, busy: World) -> None:
    """Logs written before anchoring (event version 1) still verify."""
    with stores.unit_of_work() as uow:
        record(uow.records, stores.audit, EventIn(action="inventory", actor=None))
    seq = tamper.size(stores) - 1
    tamper.drop_triggers(stores)
    old = tamper.body(stores, seq).replace(b'"action":"inventory"', b'"action":"shred"')
    tamper.set_body(stores, seq, old.replace(b'"v":2}', b'"v":1}'))
    tamper.sql(stores, "UPDATE audit_events SET action = 'shred' WHERE seq = :s", s=seq)
    tamper.rebuild_tree(stores)
    assert auditing.verify(stores, actor=OP).ok


def test_a_same_key_rewrite_is_caught_by_a_required_witness(
    stores: AppStores, busy: World, audit_config: AuditConfig
) -> None:
    """An insider with the master key can re-sign under the log's own key; a witness's
    cosignature, which it cannot forge, is what then tells."""
    skey, _ = generate_signer("bidder-a.example/witness", sig_type=SIG_COSIGNATURE_V1)
    witness = Signer.from_key(skey).verifier()
    seq = tamper.seq_of(stores, "deal.stage")
    ids = {n: i for i, n in enumerate(tamper.checkpoint_sizes(stores), start=1)}
    auditing.cosign(stores, cosigner_key=skey, checkpoint_id=ids[seq], actor=OP)  # a day before
    auditing.checkpoint(stores, actor=OP)
    auditing.cosign(stores, cosigner_key=skey, checkpoint_id=None, actor=OP)
    required = Anchors(pinned=stores.audit.verifier, witnesses=(witness,))
    out = auditing.verify(stores, actor=OP, anchors=required)
    n = tamper.size(stores)
    assert not out.ok and out.witnessed == n - 1 and out.first_bad == n - 1  # the cosign event
    later = Anchors(
        pinned=stores.audit.verifier,
        witnesses=(witness,),
        witness_since=utcnow() + timedelta(hours=1),
    )
    assert auditing.verify(stores, actor=OP, anchors=later).ok
    tamper.drop_triggers(stores)
    tamper.set_body(stores, seq, tamper.body(stores, seq).replace(b"teaser sent", b"teaser lost"))
    tamper.rebuild_tree(stores)
    assert audit_config.signer is not None
    tamper.resign(stores, audit_config.signer, above=seq)  # the log's own key
    assert auditing.verify(
        stores, actor=OP, anchors=_pinned(stores)
    ).ok  # the pinned key cannot tell
    out = auditing.verify(stores, actor=OP, anchors=required)
    assert not out.ok and out.first_bad == seq == out.witnessed, out.problems
    assert f"event {seq}: not covered by a checkpoint cosigned by every required witness" in (
        " ".join(out.problems)
    )
