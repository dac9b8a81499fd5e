"""PIPL art. 22 notices of a transfer plan: each active customer's notice rendered for the
gateway (mode 0600), the gateway's statuses imported back all or nothing, each objection
setting its customer objecting (a late one honoured and counted, one after the build refused),
the gate's two rules on both sides of their thresholds, the counts on the plan and in the
manifest, and nothing personal in the audit log or an error."""

from __future__ import annotations

import csv
import json
import stat
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.compliance import rules_notice
from dealvault.compliance import service as gate
from dealvault.compliance.rules import PlanFacts, evaluate
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Forbidden, InputError, Invalid
from dealvault.flows import compliance
from dealvault.flows import packages as pkg_flows
from dealvault.flows import plan_notices as notices
from dealvault.flows import transfer as flows
from dealvault.flows.context import AppStores
from dealvault.notices import render
from dealvault.notices.models import NoticeDelivery
from dealvault.transfer import plan_notices as pn
from dealvault.transfer.manifest import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    decode_manifest,
    encode_manifest,
    sign_manifest,
)
from dealvault.transfer.models import TransferPlan
from dealvault.transfer.reconcile import verify_package
from dealvault.vault.models import CustomerRecord
from tests.conftest import STEWARD, P, World
from tests.transfer.test_plans import (
    BUYER,
    CATS,
    COUNSEL,
    OFFICER,
    STEWARD2,
    clear_gate,
    identity,
    prepare,
)
from tests.vault.helpers import customer_row

CONTACT = "Bidder A Ltd, 1 Test Road, Beijing, +86 10 5555 0100, dpo@bidder-a.example"
SELLER_DESK = "service@seller.example"
ROWS = [customer_row(i) for i in range(1, 13)]
PERSONAL = {v for r in ROWS for k, v in r.items() if k in ("姓名", "手机号", "邮箱", "身份证号")}


def _facts(**over: object) -> PlanFacts:
    base: dict[str, object] = {
        "plan_id": 1, "deal": "d", "deal_kind": "asset", "dataset": "crm", "recipient": "Buyer",
        "categories": ("identity", "contact"), "purpose": "hand-over of the customer base",
        "eligible": 100, "notice_batches": 1,
    }  # fmt: skip
    return PlanFacts(**{**base, **over})  # type: ignore[arg-type]


Found = dict[str, tuple[bool, dict[str, int], str]]


def _found(facts: PlanFacts) -> Found:
    return {f.rule: (f.blocking, dict(f.counts), f.message) for f in evaluate(facts)}


def test_the_notice_rules_on_both_sides_of_their_thresholds() -> None:
    assert _found(_facts(notice_batches=None)) == {}  # facts built by hand: not gathered
    none = _found(_facts(notice_batches=0))["pipl22-notice"]
    assert none[0] and none[1] == {"batches": 0}
    assert _found(_facts()) == {}
    assert _found(_facts(notice_uncovered=1))["pipl22-notice"][1] == {"uncovered": 1}
    assert _found(_facts(notice_pending=1))["pipl22-notice"][1] == {"pending": 1}
    end = datetime(2027, 1, 6, 9, 30, tzinfo=UTC)
    blocking, counts, message = _found(_facts(notice_windows_open=3, notice_window_end=end))[
        "pipl22-notice"
    ]
    assert blocking and counts == {"windows_open": 3} and "2027-01-06 09:30 UTC" in message
    unreached = _found(_facts(notice_unreachable=2))
    assert set(unreached) == {"notice-unreachable"}
    assert unreached["notice-unreachable"][:2] == (False, {"unreachable": 2})
    assert _found(_facts(notice_unreachable=0)) == {}


def test_every_channel_in_both_languages_has_every_value() -> None:
    tset = render.template_set("transfer")
    plan = TransferPlan(categories="identity,contact", purpose="after-sales service",
                        objection_days=15, recipient_contact=CONTACT)  # fmt: skip
    values = pn.context(plan, seller="Clean Chemicals Ltd", recipient=BUYER,
                        contact=SELLER_DESK, deadline=date(2027, 1, 6))  # fmt: skip
    people = pl.DataFrame(
        {"subject_id": ["a", "b"], "name": ["张三", "Ann"],
         "phone": ["+8613900000001", "+447700900001"],
         "email": ["a@example.com", "b@example.com"], "address": ["x", "y"]},
        schema=render.CONTACTS,
    )  # fmt: skip
    for channel in render.CHANNELS:
        out = render.render(people, tset=tset, channel=channel, context=values)
        zh, en = out.get_column("message").to_list()
        assert out.get_column("language").to_list() == ["zh", "en"]
        assert "张三" in zh and "2027年1月6日" in zh and "身份信息、联系方式" in zh
        assert "Dear Ann" in en and "06 January 2027" in en and "identity data, contact" in en
        for m in (zh, en):
            assert BUYER in m and CONTACT in m and SELLER_DESK in m and "after-sales" in m
            assert "{" not in m
    assert tset.fields() <= {"name", *values["zh"]}


def _plan(stores: AppStores, world: World, *, days: int = 30, contact: str = CONTACT) -> int:
    return flows.create_plan(
        stores, actor=P(world.steward), deal=world.deal, dataset="crm", recipient=BUYER,
        recipients=[str(identity().to_public())], categories=CATS,
        purpose="hand-over of the customer base at closing", objection_days=days,
        recipient_contact=contact,
    ).id  # fmt: skip


def _deliveries(stores: AppStores) -> dict[str, str]:
    """delivery id -> subject id, in delivery id order."""
    with stores.records_session() as s:
        rows = s.execute(
            select(NoticeDelivery.id, NoticeDelivery.subject_id).order_by(NoticeDelivery.id)
        ).all()
    return {str(d): str(sub) for d, sub in rows}


def _status(path: Path, rows: list[tuple[str, str, datetime]]) -> Path:
    lines = ["delivery_id,status,at"] + [f"{d},{s},{at.isoformat()}" for d, s, at in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _customer_status(stores: AppStores, subject: str) -> str:
    with stores.records_session() as s:
        return str(
            s.scalar(select(CustomerRecord.status).where(CustomerRecord.subject_id == subject))
        )


def _gate_at(
    stores: AppStores, plan_id: int, now: datetime
) -> dict[str, tuple[bool, dict[str, int], str]]:
    with stores.records_session() as s:
        plan = s.get(TransferPlan, plan_id)
        assert plan is not None
        facts = replace(gate.facts(s, plan), **rules_notice.gather(s, plan, now=now))
    return _found(facts)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_notices_statuses_objections_and_the_gate(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    plan = _plan(stores, world)
    first = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan)
    notice = {f.rule: f for f in first.findings}["pipl22-notice"]
    assert notice.blocking and notice.source == "PIPL art. 22" and notice.counts == {"batches": 0}

    out = tmp_path / "sms.csv"
    for who in (COUNSEL, OFFICER, world.bidder_person):  # the seller's steward alone sends
        with pytest.raises(Forbidden):
            notices.notify(stores, keyring, actor=P(who), plan_id=plan, channel="sms", out=out,
                           contact=SELLER_DESK)  # fmt: skip
    assert not out.exists()
    with pytest.raises(Invalid, match="--channel"):
        notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan, channel="fax",
                       out=out, contact=SELLER_DESK)  # fmt: skip
    batch = notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan, channel="sms",
                           out=out, contact=SELLER_DESK)  # fmt: skip
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert (batch.ref, batch.customers, batch.counts) == (f"plan:{plan}", 12, {"pending": 12})
    sent = list(csv.DictReader(out.open(encoding="utf-8")))
    deadline = (utcnow() + timedelta(days=30)).date()
    day = f"{deadline.year}年{deadline.month}月{deadline.day}日"
    for r in sent:
        m = r["message"]
        assert BUYER in m and CONTACT in m and SELLER_DESK in m and day in m
        assert "hand-over of the customer base at closing" in m and "身份信息、联系方式" in m
    assert {r["address"].removeprefix("+86") for r in sent} == {r["手机号"] for r in ROWS}
    with pytest.raises(Conflict, match="nothing to send"):  # every notice is on its way
        notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan, channel="sms",
                       out=tmp_path / "again.csv", contact=SELLER_DESK)  # fmt: skip
    pending = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan)
    assert {f.rule: f.counts for f in pending.findings}["pipl22-notice"] == {"pending": 12}

    ids = list(_deliveries(stores))
    subject = _deliveries(stores)
    start = utcnow().replace(microsecond=0) - timedelta(days=40)
    end = start + timedelta(days=30)

    # a bad file is refused whole, rows and columns named, no value shown, nothing applied
    bad = _status(tmp_path / "bad.csv", [
        (ids[0], "objected", start), (ids[1], "read", start), (ids[2], "delivered", start),
    ])  # fmt: skip
    bad.write_text(bad.read_text().replace(f"{ids[2]},delivered,{start.isoformat()}",
                                           f"{ids[2]},delivered,yesterday"))  # fmt: skip
    with pytest.raises(InputError) as exc:
        notices.import_status(stores, actor=P(STEWARD), plan_id=plan, path=bad)
    msg = str(exc.value)
    assert "bad.csv" in msg and "row 3, column 'status'" in msg and "row 4, column 'at'" in msg
    assert "yesterday" not in msg and ",read," not in msg and start.isoformat() not in msg
    unknown = _status(tmp_path / "unknown.csv", [(ids[0], "objected", start),
                                                 ("9-000001", "delivered", start)])  # fmt: skip
    with pytest.raises(InputError, match=r"unknown.csv.*row 3, column 'delivery_id'"):
        notices.import_status(stores, actor=P(STEWARD), plan_id=plan, path=unknown)
    assert _customer_status(stores, subject[ids[0]]) == "active"  # all or nothing
    good = _status(tmp_path / "status.csv", [
        *[(d, "delivered", start) for d in ids[:10]],
        (ids[10], "failed", start),
        (ids[11], "objected", start + timedelta(days=1)),
    ])  # fmt: skip
    with pytest.raises(Forbidden):
        notices.import_status(stores, actor=P(COUNSEL), plan_id=plan, path=good)
    got = notices.import_status(stores, actor=P(STEWARD), plan_id=plan, path=good)
    assert (got.objected_now, got.objected_late_now) == (1, 0)
    assert got.counts == {"notified": 12, "delivered": 11, "unreachable": 1, "pending": 0,
                          "objected": 1, "objected_late": 0}  # fmt: skip
    assert got.objection_window_ends == end
    assert _customer_status(stores, subject[ids[11]]) == "objecting"
    shown = flows.show_plan(stores, actor=P(OFFICER), plan_id=plan)
    assert (shown.objection_days, shown.recipient_contact) == (30, CONTACT)
    assert shown.notices == got.counts and shown.objection_window_ends == end

    # the last window ends exactly at ``end``: open one second before, closed at it and after
    before = _gate_at(stores, plan, end - timedelta(seconds=1))
    assert before["pipl22-notice"][1] == {"windows_open": 10}
    assert f"{end:%Y-%m-%d %H:%M} UTC" in before["pipl22-notice"][2]
    for now in (end, end + timedelta(seconds=1)):
        at = _gate_at(stores, plan, now)
        assert "pipl22-notice" not in at
        assert at["notice-unreachable"][:2] == (False, {"unreachable": 1})

    # objections at the end of the window (in time) and one second after it (late, honoured)
    late = _status(tmp_path / "late.csv", [
        (ids[0], "objected", end), (ids[1], "objected", end + timedelta(seconds=1)),
        (ids[11], "delivered", end),  # an objection stands: a later status is kept out
    ])  # fmt: skip
    again = notices.import_status(stores, actor=P(STEWARD), plan_id=plan, path=late)
    assert (again.objected_now, again.objected_late_now, again.kept) == (2, 1, 1)
    assert again.counts["objected"] == 3 and again.counts["objected_late"] == 1
    assert {_customer_status(stores, subject[d]) for d in (ids[0], ids[1], ids[11])} == {
        "objecting"}  # fmt: skip
    checked = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan)
    by_rule = {f.rule: f for f in checked.findings}
    assert by_rule["pipl22-notice"].status == "cleared"
    assert by_rule["notice-unreachable"].counts == {"unreachable": 1}
    assert by_rule["exclusions-counted"].counts == {"objecting": 3}

    # a second batch goes to the customer not reached only, by letter
    letter = notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan, channel="letter",
                            out=tmp_path / "letters.csv", contact=SELLER_DESK)  # fmt: skip
    assert letter.customers == 1 and len(notices.list_notices(
        stores, actor=P(OFFICER), plan_id=plan).batches) == 2  # fmt: skip

    with stores.records_session() as s:
        bodies = [json.loads(b) for b in s.scalars(
            select(AuditEvent.body).where(AuditEvent.action.like("transfer.plan.%")))]  # fmt: skip
    acts = {b["action"] for b in bodies}
    assert {"transfer.plan.notify", "transfer.plan.notice_status"} <= acts
    text = json.dumps(bodies, ensure_ascii=False) + msg
    assert not any(p in text for p in PERSONAL) and CONTACT not in text
    assert "您好" not in text and SELLER_DESK not in text
    statuses = [b for b in bodies if b["action"] == "transfer.plan.notice_status"
                and b["decision"] == "allow"]  # fmt: skip
    assert [b["counts"]["objected"] for b in statuses] == [1, 2]
    assert statuses[1]["counts"]["objected_late"] == 1
    denied = {b["actor"] for b in bodies if b["decision"] == "deny"}
    assert denied == {COUNSEL, OFFICER, world.bidder_person}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_plan_states_its_window_and_the_recipients_contact(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=2)
    for days in (0, 366):
        with pytest.raises(Invalid, match="objection-days"):
            _plan(stores, world, days=days)
    assert flows.show_plan(stores, actor=P(STEWARD), plan_id=_plan(stores, world, days=1)
                           ).objection_days == 1  # fmt: skip
    plan = _plan(stores, world, days=365, contact="")
    with pytest.raises(Conflict, match="recipient contact"):
        notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan, channel="sms",
                       out=tmp_path / "x.csv", contact=SELLER_DESK)  # fmt: skip
    with pytest.raises(Invalid, match="--contact"):
        notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan, channel="sms",
                       out=tmp_path / "x.csv", contact=" ")  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_manifest_counts_the_notices_and_an_objection_after_the_build_is_refused(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=4)
    ident = identity()
    plan = flows.create_plan(
        stores, actor=P(world.steward), deal=world.deal, dataset="crm", recipient=BUYER,
        recipients=[str(ident.to_public())], categories=CATS,
        purpose="hand-over of the customer base at closing", recipient_contact=CONTACT,
    )  # fmt: skip
    notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan.id, channel="email",
                   out=tmp_path / "mail.csv", contact=SELLER_DESK)  # fmt: skip
    ids = list(_deliveries(stores))
    subject = _deliveries(stores)
    start = utcnow().replace(microsecond=0) - timedelta(days=60)
    notices.import_status(stores, actor=P(STEWARD), plan_id=plan.id, path=_status(
        tmp_path / "s.csv", [(ids[0], "objected", start), (ids[1], "bounced", start),
                             *[(d, "delivered", start) for d in ids[2:]]]))  # fmt: skip
    for approver in (STEWARD2, COUNSEL, OFFICER)[: len(plan.required_roles)]:
        flows.approve_plan(stores, actor=P(approver), plan_id=plan.id)
    path = tmp_path / "pkg"
    clear_gate(stores, plan_id=plan.id)  # the other rules (impact assessment ...) waived
    built = pkg_flows.build_package(stores, keyring, actor=P(STEWARD), plan_id=plan.id, out=path)
    doc = decode_manifest((path / MANIFEST_FILE).read_bytes())
    assert doc["notices"] == {"notified": 4, "delivered": 3, "unreachable": 1, "objected": 1,
                              "objected_late": 0}  # fmt: skip
    assert doc["counts"]["excluded"]["objecting"] == 1 and built.customers == 3
    report, _ = verify_package(path, identities=[ident], verifier_key=None)
    assert report.ok and report.notices == doc["notices"]

    # after the build: an objection is refused, nothing changes; a delivery status still comes
    with pytest.raises(Conflict, match="already built"):
        notices.import_status(stores, actor=P(STEWARD), plan_id=plan.id, path=_status(
            tmp_path / "o.csv", [(ids[2], "objected", start + timedelta(days=1))]))  # fmt: skip
    assert _customer_status(stores, subject[ids[2]]) == "active"
    notices.import_status(stores, actor=P(STEWARD), plan_id=plan.id, path=_status(
        tmp_path / "d.csv", [(ids[1], "delivered", start + timedelta(days=2))]))  # fmt: skip
    with pytest.raises(Conflict, match="already built"):
        notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan.id, channel="sms",
                       out=tmp_path / "late.csv", contact=SELLER_DESK)  # fmt: skip

    # a manifest made before the notices (no such object) still verifies
    del doc["notices"]
    old = encode_manifest(doc)
    (path / MANIFEST_FILE).write_bytes(old)
    assert stores.audit.signer is not None
    (path / SIGNATURE_FILE).write_bytes(sign_manifest(old, stores.audit.signer))
    report, _ = verify_package(path, identities=[ident], verifier_key=None)
    assert report.ok and report.notices == {}
