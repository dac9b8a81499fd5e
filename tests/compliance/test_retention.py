"""Retention: rules per dataset and category (a category ends no later than its dataset),
periodic reviews and their alert, and the scheduled run: kept up to the last day, destroyed
the day after with a certificate that verifies, a category erased alone, holds, idempotence,
the refusal of a bidder, and no personal value recorded."""

from __future__ import annotations

import json
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Conflict, DealvaultError, Forbidden, Invalid, NotFound, Shredded
from dealvault.flows import admin, alerts, closing, customers, monitoring
from dealvault.flows import retention as flows
from dealvault.flows.context import AppStores
from dealvault.vault.models import Dataset
from tests.conftest import OP, STEWARD, P, World
from tests.transfer.test_plans import identity, make_plan, prepare
from tests.vault.helpers import customer_row, do_import, lookup, write_csv

START = date(2026, 1, 1)
BASIS = "PIPL art. 19; contract 2026-117"
ROWS = [customer_row(i) for i in range(1, 7)]


def _import(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "crm.csv", ROWS)
    do_import(stores, keyring, csv, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)


def _set(stores: AppStores, world: World, **kw: object) -> flows.RuleOut:
    args: dict[str, object] = {"dataset": "crm", "review_every": 90, "basis": BASIS,
                               "start": START, "today": START}  # fmt: skip
    return flows.set_rule(stores, actor=P(world.steward), deal=world.deal, **{**args, **kw})  # type: ignore[arg-type]


def _run(stores: AppStores, keyring: KeyRing, day: date, **kw: object) -> flows.RunOut:
    return flows.run(stores, keyring, actor=P(STEWARD), today=day, **kw)  # type: ignore[arg-type]


def _bodies(stores: AppStores) -> list[dict[str, object]]:
    with stores.records_session() as s:
        return [json.loads(b) for b in s.scalars(select(AuditEvent.body))]


def _no_personal_value(stores: AppStores, *also: str) -> None:
    text = json.dumps(_bodies(stores), ensure_ascii=False)
    for row in ROWS:
        for key in ("姓名", "身份证号", "手机号", "邮箱"):
            assert row[key] not in text
    for t in (BASIS, *also):
        assert t not in text


def test_kept_to_the_last_day_destroyed_the_day_after(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import(stores, keyring, world, tmp_path)
    rule = _set(stores, world, keep_days=30)
    assert (rule.start, rule.end, rule.category) == (START, date(2026, 1, 31), None)
    for day in (rule.end - timedelta(days=1), rule.end):  # the day before, the last day: kept
        assert _run(stores, keyring, day).items == []
    after = rule.end + timedelta(days=1)
    dry = _run(stores, keyring, after, dry_run=True)
    assert [(i.outcome, i.customers) for i in dry.items] == [("would-destroy", 6)]
    assert lookup(stores, keyring, world, ROWS[0]["手机号"])[0].data  # nothing went

    certs = tmp_path / "certs"
    done = _run(stores, keyring, after, certificates=certs)
    [item] = done.items
    assert (item.outcome, item.customers, item.category) == ("destroyed", 6, None)
    assert item.keys_destroyed > 0 and item.certificate is not None and item.file
    note = Path(item.file)
    assert stat.S_IMODE(note.stat().st_mode) == 0o600
    with stores.records_session() as s:
        assert s.scalar(select(Dataset.status).where(Dataset.name == "crm")) == "shredded"
    with pytest.raises(Shredded):  # every key of the dataset is gone
        lookup(stores, keyring, world, ROWS[0]["手机号"])

    checked = closing.verify_certificate(stores, source=str(note), actor=P(STEWARD))
    assert checked.ok and checked.in_store and checked.audit_event is not None
    cert = checked.certificate
    assert (cert.party, cert.datasets, cert.customers) == ("seller", ["crm"], 6)
    assert "cryptographic erase" in cert.method and f"rule #{rule.id}" in (cert.reason or "")

    assert _run(stores, keyring, after + timedelta(days=5)).items == []  # a second run: nothing
    [listed] = flows.list_rules(stores, actor=P(STEWARD), deal=world.deal)
    assert (listed.status, listed.certificate) == ("destroyed", item.certificate)
    _no_personal_value(stores)


def test_a_category_rule_erases_that_category_only(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import(stores, keyring, world, tmp_path)
    with pytest.raises(Conflict, match="as a whole first"):
        _set(stores, world, category="contact", until=date(2026, 6, 30))
    whole = _set(stores, world, until=date(2030, 12, 31))
    with pytest.raises(Conflict, match="no later than its dataset"):
        _set(stores, world, category="contact", until=date(2031, 1, 1))
    with pytest.raises(Invalid, match="unknown category"):
        _set(stores, world, category="hobbies", until=date(2026, 6, 30))
    with pytest.raises(Invalid, match="either --keep-days or --until"):
        _set(stores, world, category="contact")
    contact = _set(stores, world, category="contact", until=date(2026, 6, 30))
    with pytest.raises(Conflict, match="shorten those first"):
        _set(stores, world, until=date(2026, 6, 1))
    assert _run(stores, keyring, date(2026, 6, 30)).items == []

    done = _run(stores, keyring, date(2026, 7, 1))
    [item] = done.items
    assert (item.rule, item.outcome, item.category, item.customers) == (
        contact.id, "destroyed", "contact", 6)  # fmt: skip
    assert item.keys_destroyed == 0
    # the other categories still read with the customer's key; contact is gone, and so is
    # the look-up by phone (its blind index)
    [view] = lookup(stores, keyring, world, ROWS[0]["身份证号"], by="id_number")
    assert view.status == "active" and "identity" in view.data and "contact" not in view.data
    with pytest.raises(NotFound, match="no customer with this phone"):
        lookup(stores, keyring, world, ROWS[0]["手机号"])

    checked = closing.verify_certificate(stores, source=str(item.certificate), actor=P(STEWARD))
    assert checked.ok and checked.certificate.method == "deleted"
    reason = checked.certificate.reason or ""
    assert "category contact" in reason and "customer keys remain" in reason

    assert _run(stores, keyring, date(2026, 7, 2)).items == []  # idempotent
    by_id = {r.id: r.status for r in flows.list_rules(stores, actor=P(STEWARD), deal=world.deal)}
    assert by_id == {whole.id: "active", contact.id: "destroyed"}
    _no_personal_value(stores)


def test_reviews_due_and_the_overdue_alert(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import(stores, keyring, world, tmp_path)
    today = date.today()
    rule = _set(stores, world, keep_days=3650, review_every=30, today=today - timedelta(days=40))
    assert rule.next_review == today - timedelta(days=10)
    fresh = _set(stores, world, category="contact", keep_days=365, review_every=30, today=today,
                 start=today)  # fmt: skip

    def due(day: date) -> set[tuple[int, str, str]]:
        items = flows.due_items(stores, actor=P(STEWARD), deal=world.deal, today=day)
        return {(i.rule, i.kind, i.state) for i in items}

    assert due(today) == {(rule.id, "review", "overdue")}
    assert due(today + timedelta(days=15)) == {(rule.id, "review", "overdue")}  # 30 > 14 left
    assert (fresh.id, "review", "due-soon") in due(today + timedelta(days=16))

    monitoring.run_monitor(stores, actor=OP)
    raised = [a for a in alerts.list_alerts(stores, actor=P(STEWARD), deal=world.deal)
              if a.rule == "retention_review_overdue"]  # fmt: skip
    assert [(a.severity, a.deal, a.details["retention_rule"]) for a in raised] == [
        ("warning", world.deal, rule.id)]  # fmt: skip
    monitoring.run_monitor(stores, actor=OP)  # raised once
    again = alerts.list_alerts(stores, actor=P(STEWARD), deal=world.deal)
    assert len([a for a in again if a.rule == "retention_review_overdue"]) == 1

    with pytest.raises(Invalid, match="needs a note"):
        flows.review_rule(stores, actor=P(STEWARD), rule_id=rule.id, note="ok")
    note = "checked against the sale agreement of 2026-11-20"
    reviewed = flows.review_rule(stores, actor=P(STEWARD), rule_id=rule.id, note=note)
    assert reviewed.next_review == today + timedelta(days=30) and reviewed.reviews == 1
    assert due(today) == set()
    _no_personal_value(stores, note)


def test_a_bidder_is_refused_and_holds_stop_destruction(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=4)  # closing, Bidder A wins
    bidder = P(world.bidder_person)
    rule = _set(stores, world, keep_days=10)
    after = rule.end + timedelta(days=1)
    for call in (
        lambda: flows.set_rule(
            stores,
            actor=bidder,
            deal=world.deal,
            dataset="crm",
            keep_days=1,
            review_every=30,
            basis=BASIS,
        ),
        lambda: flows.list_rules(stores, actor=bidder, deal=world.deal),
        lambda: flows.review_rule(stores, actor=bidder, rule_id=rule.id, note="looks fine to me"),
        lambda: flows.due_items(stores, actor=bidder),
        lambda: flows.run(stores, keyring, actor=bidder, deal=world.deal, today=after),
        lambda: flows.run(stores, keyring, actor=bidder, today=after),
    ):
        with pytest.raises(Forbidden):
            call()
    denied = [b for b in _bodies(stores) if b["decision"] == "deny"]
    assert {b["action"] for b in denied} >= {"retention.set", "retention.run", "retention.due"}

    plan = make_plan(stores, world, str(identity().to_public()))  # pending: holds the dataset
    [held] = _run(stores, keyring, after).items
    assert held.outcome == "held" and f"#{plan.id}" in (held.why or "")

    admin.set_frozen(stores, actor=P(STEWARD), code=world.deal, frozen=True, reason="leak?")
    with pytest.raises(Forbidden, match="frozen"):
        _run(stores, keyring, after, deal=world.deal)
    with pytest.raises(Forbidden):  # a bidder is not told the deal is held, it is refused
        flows.run(stores, keyring, actor=bidder, today=after)
    out = flows.run(stores, keyring, actor=OP, today=after)  # the operator's timer
    assert out.items == [] and out.held_deals == [world.deal]
    with stores.records_session() as s:
        assert s.scalar(select(Dataset.status).where(Dataset.name == "crm")) == "active"


def test_errors_name_no_personal_value(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import(stores, keyring, world, tmp_path)
    for kw in ({"keep_days": 0}, {"until": START - timedelta(days=1)},
               {"keep_days": 5, "basis": "x"}, {"keep_days": 5, "review_every": 0}):  # fmt: skip
        with pytest.raises(DealvaultError) as err:
            _set(stores, world, **kw)
        assert not any(v in str(err.value) for r in ROWS for v in r.values() if len(v) > 4)


ORDERS = [
    {"订单号": f"D{i}", "客户编号": f"C{i:06d}", "下单时间": "2024-02-01 10:00:00",
     "产品名称": "洗衣液", "数量": "2", "金额": "59.80"}
    for i in (1, 2)
]  # fmt: skip


def test_a_category_takes_its_child_rows_and_a_hand_shred_supersedes(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import(stores, keyring, world, tmp_path)
    orders = write_csv(tmp_path / "orders.csv", ORDERS, headers=list(ORDERS[0]))
    do_import(stores, keyring, orders, actor=P(world.steward), deal=world.deal,
              rejects_dir=tmp_path)  # fmt: skip
    whole = _set(stores, world, until=date(2026, 12, 31))
    _set(stores, world, category="transaction", until=date(2026, 3, 31))
    [v] = lookup(stores, keyring, world, "C000001", by="customer_key")
    assert [o["order_id"] for o in v.children["orders"]] == ["D1"]

    [item] = _run(stores, keyring, date(2026, 4, 1)).items
    assert (item.category, item.child_rows) == ("transaction", 2)
    [v] = lookup(stores, keyring, world, "C000001", by="customer_key")
    assert v.children == {} and "transaction" not in v.data and "identity" in v.data

    customers.shred(stores, keyring, actor=P(world.steward), deal=world.deal, dataset="crm",
                    subject_id=None, whole_dataset=True, reason="erasure")  # fmt: skip
    [gone] = _run(stores, keyring, date(2027, 1, 1)).items
    assert (gone.rule, gone.outcome, gone.certificate) == (whole.id, "superseded", None)
    assert _run(stores, keyring, date(2027, 1, 2)).items == []
