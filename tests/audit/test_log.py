"""The audit log in use: events per use case, append-only triggers, tamper detection, bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dealvault.audit.note import SIG_COSIGNATURE_V1, Signer, Verifier, generate_signer
from dealvault.audit.proof import verify_proof
from dealvault.audit.store import LogFilter
from dealvault.errors import Forbidden, IntegrityError
from dealvault.flows import auditing
from dealvault.flows.context import AppStores
from tests.audit.tamper import drop_triggers
from tests.conftest import OP, OPERATOR, P, World


def test_use_cases_record_events(stores: AppStores, busy: World) -> None:
    events = auditing.log(stores, actor=OP, flt=LogFilter())
    actions = [e["action"] for e in events]
    for expected in (
        "org.create",
        "person.create",
        "deal.create",
        "deal.add_member",
        "import",
        "disclose",
        "deal.stage",
    ):
        assert expected in actions
    imp = next(e for e in events if e["action"] == "import")
    assert imp["subjects"]["count"] == 5 and imp["counts"]["imported"] == 5
    denied = [e for e in events if e["decision"] == "deny"]
    assert len(denied) == 1 and denied[0]["actor"] == busy.bidder_person
    assert "no data at stage preparation" in " ".join(denied[0]["reasons"])
    assert [e["seq"] for e in events] == list(range(len(events)))
    # every event names who acted and how that person was identified; the operator set up
    assert all(e["actor"] and e["authn"] == "local" for e in events)
    assert {e["actor"] for e in events if e["action"] in ("deal.create", "org.create")} == {
        OPERATOR
    }
    blob = json.dumps(events, ensure_ascii=False)
    assert "13900000002" not in blob and "测试" not in blob  # no personal values
    disclosed = next(e for e in events if e["action"] == "disclose" and e["decision"] == "allow")
    subject = auditing.log(stores, actor=OP, flt=LogFilter(action="import"))[0]
    assert disclosed["subjects"]["count"] == 1 and subject["seq"] == imp["seq"]
    by_subject = auditing.log(stores, actor=OP, flt=LogFilter(subject=_first_subject(stores)))
    assert {e["action"] for e in by_subject} >= {"import"}
    assert (
        auditing.log(stores, actor=OP, flt=LogFilter(actor=busy.bidder_person))[0]["decision"]
        == "deny"
    )


def _first_subject(stores: AppStores) -> str:
    from sqlalchemy import select

    from dealvault.vault.models import CustomerRecord

    with stores.records_session() as s:
        return str(s.scalar(select(CustomerRecord.subject_id).order_by(CustomerRecord.id)))


def test_verify_passes_and_checkpoints_exist(stores: AppStores, busy: World) -> None:
    out = auditing.verify(stores, actor=OP)
    assert out.ok, out.problems
    assert out.events >= 12 and len(out.checkpoints) >= 2  # deal created, stage change
    assert all(c["root_matches"] for c in out.checkpoints)


def test_triggers_make_the_log_append_only(stores: AppStores, busy: World) -> None:
    for statement in (
        "UPDATE audit_events SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
        "DELETE FROM audit_nodes",
        "UPDATE audit_checkpoints SET size = 0",
    ):
        with pytest.raises(DBAPIError, match="append-only"), stores.unit_of_work() as uow:
            uow.records.execute(text(statement))


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        (
            "UPDATE audit_events SET body = replace(body, 'deal.create', 'deal.xxxxxx') "
            "WHERE seq = 7",  # the deal.create event (after the operator's setup)
            7,
        ),
        ("DELETE FROM audit_events WHERE seq = 3", 3),
        ("swap", 4),
        (
            "INSERT INTO audit_events (seq, at, actor, action, deal, decision, body) "
            "SELECT 1000, at, actor, action, deal, decision, body FROM audit_events WHERE seq = 2",
            None,
        ),
    ],
)
def test_tampering_is_detected(
    stores: AppStores, busy: World, tamper: str, first_bad: int | None
) -> None:
    drop_triggers(stores)
    with stores.records_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            tamper = tamper.replace(
                "replace(body, 'deal.create', 'deal.xxxxxx')",
                "convert_to(replace(convert_from(body, 'UTF8'), 'deal.create', "
                "'deal.xxxxxx'), 'UTF8')",
            )
        if tamper == "swap":
            b4 = conn.execute(text("SELECT body FROM audit_events WHERE seq = 4")).scalar_one()
            b5 = conn.execute(text("SELECT body FROM audit_events WHERE seq = 5")).scalar_one()
            conn.execute(text("UPDATE audit_events SET body = :b WHERE seq = 4"), {"b": b5})
            conn.execute(text("UPDATE audit_events SET body = :b WHERE seq = 5"), {"b": b4})
        else:
            conn.execute(text(tamper))
    out = auditing.verify(stores, actor=OP)
    assert not out.ok
    if first_bad is not None:
        assert out.first_bad == first_bad, out.problems
        assert f"event {first_bad}" in out.problems[0]


def test_bundle_export_and_offline_verify(stores: AppStores, busy: World, tmp_path: Path) -> None:
    manifest = auditing.export(stores, out_dir=tmp_path / "bundle", actor=OP)
    assert manifest["events"] >= 12
    ok = auditing.verify_bundle(path=tmp_path / "bundle")
    assert ok.ok, ok.problems
    lines = (tmp_path / "bundle" / "events.jsonl").read_bytes().split(b"\n")
    lines[6] = lines[6].replace(b'"v":2', b'"v":3')
    (tmp_path / "bundle" / "events.jsonl").write_bytes(b"\n".join(lines))
    bad = auditing.verify_bundle(path=tmp_path / "bundle")
    assert not bad.ok and bad.first_bad == 6, bad.problems


def test_proof_verifies_offline(stores: AppStores, busy: World, tmp_path: Path) -> None:
    res = auditing.prove(stores, seq=7, out=tmp_path / "e7.tlog-proof", actor=OP)
    proof = (tmp_path / "e7.tlog-proof").read_bytes()
    body = Path(str(res["event"])).read_bytes()
    assert proof.startswith(b"c2sp.org/tlog-proof@v1\n")
    assert stores.audit.signer is not None
    log_key = stores.audit.signer.verifier()
    verified = verify_proof(proof_text=proof, leaf_data=body, log_verifier=log_key)
    assert verified.index == 7
    with pytest.raises(IntegrityError):
        verify_proof(
            proof_text=proof, leaf_data=body.replace(b'"seq":7', b'"seq":8'), log_verifier=log_key
        )


def test_a_bidder_cosigns_a_checkpoint(stores: AppStores, busy: World) -> None:
    skey, vkey = generate_signer("bidder-a.example/witness", sig_type=SIG_COSIGNATURE_V1)
    # the bidder's witness key, but the cosignature is recorded in the store by its operator:
    # nobody else adds to the log's checkpoints (a recorded denial)
    for who in (busy.bidder_person, busy.steward):
        with pytest.raises(Forbidden, match=r"audit\.cosign needs one of the roles: operator"):
            auditing.cosign(stores, cosigner_key=skey, checkpoint_id=None, actor=P(who))
        denied = auditing.log(stores, actor=OP, flt=LogFilter(action="audit.cosign"))[-1]
        assert (denied["decision"], denied["actor"]) == ("deny", who)
    res = auditing.cosign(stores, cosigner_key=skey, checkpoint_id=None, actor=OP)
    assert str(res["line"]).startswith("\u2014 bidder-a.example/witness ")
    out = auditing.verify(stores, actor=OP)
    assert out.ok, out.problems
    cosigned = [
        c
        for c in out.checkpoints
        if isinstance(c["signatures"], list)
        and any(
            s["name"] == "bidder-a.example/witness" and s["status"] == "verified"
            for s in c["signatures"]
        )
    ]
    assert len(cosigned) == 1
    assert Verifier.from_key(vkey).name == Signer.from_key(skey).name


def test_report_from_the_live_log(stores: AppStores, busy: World, tmp_path: Path) -> None:
    res = auditing.report(stores, out=tmp_path / "r.html", deal=busy.deal, actor=P(busy.steward))
    html = (tmp_path / "r.html").read_text("utf-8")
    assert res["verified"] is True and "VERIFICATION OK" in html
    assert "only internal consistency was checked" in html  # no key pinned: said plainly
    assert "Bidder A" in html and busy.bidder_person in html  # the denial, with its organisation
    assert "13900000002" not in html
    assert (
        auditing.log(stores, actor=OP, flt=LogFilter(action="audit.report"))[0]["objects"]["file"]
        == "r.html"
    )
